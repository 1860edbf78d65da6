"""The shipped HistGradientBoosting table (benchmarks/data/adult_hgb_table.csv.gz) and its loader."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.sklearn_table import (
    COLUMNS,
    DEFAULT_TABLE,
    METRICS,
    PARAMS,
    HGBTable,
    draw_configs,
    space,
)


@pytest.fixture(scope="module")
def table() -> HGBTable:
    return HGBTable.load()


def test_shipped_table_is_small_and_described(table: HGBTable) -> None:
    assert DEFAULT_TABLE.stat().st_size < 100 * 1024
    info = table.info
    for key in ("command", "seed", "space", "data", "versions", "generation_seconds"):
        assert key in info, f"the sidecar lacks {key!r}"
    assert info["configs"] == len(table) == 256
    assert info["data"]["n_train"] == 8000 and info["data"]["n_valid"] == 4000 and info["data"]["n_test"] == 4000
    assert list(table.frame.columns) == COLUMNS[1:]
    assert table.frame.shape == (256, len(PARAMS) + len(METRICS))
    assert table.config_ids == list(range(len(table)))
    assert table.parameter_space() == space()


def test_values_in_range(table: HGBTable) -> None:
    f = table.frame
    assert np.isfinite(f.to_numpy(dtype=float)).all()
    for m in ("accuracy", "holdout_accuracy", "eo_diff", "holdout_eo_diff"):
        assert f[m].between(0, 1).all(), m
    assert f["accuracy"].max() > 0.85  # the base rate is 0.76: the good models learn
    assert (f["size_kb"] > 0).all() and (f["fit_seconds"] > 0).all() and (f["predict_ms"] > 0).all()
    sp = table.parameter_space()
    assert all(sp.is_valid(table.config(cid)) for cid in table.config_ids)
    m = table.metrics(0)
    assert set(m) == set(METRICS) and all(isinstance(v, float) for v in m.values())
    with pytest.raises(KeyError):
        table.metrics(len(table) + 5)


def test_configs_are_the_generators_draws(table: HGBTable) -> None:
    drawn = draw_configs(len(table), table.info["seed"])
    for cid in (0, 1, len(table) - 1):
        got, want = table.config(cid), drawn[cid]
        assert got.keys() == set(PARAMS)
        for k in PARAMS:
            assert got[k] == pytest.approx(want[k], rel=1e-5), (cid, k)


def test_nearest_maps_configs_to_tabulated_ids(table: HGBTable) -> None:
    for cid in (0, 7, 100, len(table) - 1):
        config = table.config(cid)
        assert table.nearest(config) == cid
        assert table.nearest({**config, "learning_rate": config["learning_rate"] * 1.01}) == cid
    assert table.nearest({"config_id": 3}) == 3
    proposal = table.parameter_space().sample(1, seed=1)[0]
    assert table.nearest(proposal) in table.config_ids
    with pytest.raises(KeyError):
        table.nearest({"learning_rate": 0.1})
