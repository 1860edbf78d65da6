from __future__ import annotations

import pytest

import moo_hpo as mh


def test_an_objective_direction_may_be_written_min_or_max():
    assert mh.Objective("size_kb", "min").direction == "minimize"
    assert mh.Objective("accuracy", " Max ").direction == "maximize"
    assert mh.Objective("accuracy", "maximise").sign == -1.0
    with pytest.raises(mh.ConfigError, match=r"direction must be 'minimize' or 'maximize' \('min', 'max'\); received 'up'"):
        mh.Objective("accuracy", "up")
    with pytest.raises(mh.ConfigError, match="received None"):
        mh.Objective("accuracy", None)
