"""The bundled Adult data: its splits and stratified subsets, over the whole range of sizes."""

from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.datasets import load_adult


@pytest.fixture(scope="module")
def train():
    return load_adult("train")


def test_the_whole_train_split_and_its_sensitive_columns(train):
    assert len(train.y) == len(train.X) == 32561 and set(np.unique(train.y)) == {0, 1}
    assert list(train.sensitive.columns) == ["sex", "race"] and "Y" not in train.X


@pytest.mark.parametrize("n", [1, 2, 1000, 32559, 32560, 32561])
def test_any_n_in_the_documented_range_gives_n_rows(train, n):
    part = load_adult("train", n=n, seed=1)
    assert len(part.y) == len(part.X) == len(part.sensitive) == n
    if 2 <= n <= 32559:  # stratified: the share of >50K kept to within a row
        assert abs(part.y.mean() - train.y.mean()) <= 1 / n + 1e-9


def test_split_gives_two_disjoint_parts_of_any_size():
    from moo_hpo.datasets import _draw

    small = load_adult("train", n=200, seed=0)
    for n in (1, 100, 199):
        a, b = small.split(n, seed=0)
        assert len(a.y) == n and len(b.y) == 200 - n
        first, second = _draw(small.y, n, seed=0)  # the rows each part took: disjoint, all of them, in order
        assert set(first).isdisjoint(second) and sorted([*first, *second]) == list(range(200))
        assert list(first) == sorted(first) and a.y.tolist() == small.y[first].tolist()


def test_bad_arguments_are_config_errors():
    with pytest.raises(mh.ConfigError, match="split must be 'train' or 'test'; received 'valid'"):
        load_adult("valid")
    with pytest.raises(mh.ConfigError, match=r"n must be an integer in 1\.\.32561; received 32562"):
        load_adult("train", n=32562)
    with pytest.raises(mh.ConfigError, match=r"n must be an integer in 1\.\.9 \(both parts non-empty\); received 10"):
        load_adult("train", n=10).split(10)
