from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo import choice

FRONT = np.array([[0.0, 1.0], [0.1, 0.6], [0.3, 0.3], [0.6, 0.1], [1.0, 0.0]])


def test_knee_is_smallest_normalized_sum():
    i, reason = choice.knee_index(FRONT)
    assert i == 2 and reason.startswith("knee")


def test_best_breaks_ties_by_the_other_objectives():
    Y = np.array([[0.0, 1.0], [0.0, 0.5], [1.0, 0.0]])
    assert choice.best_index(Y, 0, "loss")[0] == 1


def test_asf_follows_weights():
    heavy_first = choice.asf_index(FRONT, [10.0, 1.0])[0]
    heavy_second = choice.asf_index(FRONT, [1.0, 10.0])[0]
    assert FRONT[heavy_first, 0] < FRONT[heavy_second, 0]
    assert FRONT[heavy_first, 1] > FRONT[heavy_second, 1]


def test_asf_in_metric_units_differs_from_normalized():
    Y = np.array([[0.0, 100.0], [0.5, 40.0], [1.0, 0.0]])  # second objective in larger units
    assert choice.asf_index(Y, [1.0, 1.0], normalized=True)[0] == 1
    assert choice.asf_index(Y, [1.0, 1.0], normalized=False)[0] == 2


def test_tchebycheff():
    assert choice.tchebycheff_index(FRONT, [1.0, 1.0])[0] == 2
    assert choice.tchebycheff_index(FRONT, [1.0, 0.0])[0] == 0


def test_bad_weights_and_empty_input():
    with pytest.raises(mh.ConfigError, match="non-negative weights"):
        choice.asf_index(FRONT, [1.0])
    with pytest.raises(mh.ConfigError, match="non-negative weights"):
        choice.asf_index(FRONT, [-1.0, 1.0])
    with pytest.raises(mh.ConfigError, match="empty"):
        choice.knee_index(np.empty((0, 2)))
