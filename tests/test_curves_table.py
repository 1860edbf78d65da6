"""The shipped learning-curve table (benchmarks/data/adult_mlp_curves.csv.gz) and its loader."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.curves_table import (
    DEFAULT_TABLE,
    PARAMS,
    CurveTable,
    best_possible_front,
)
from benchmarks.learning_curves import draw_configs, eo_diff


@pytest.fixture(scope="module")
def table() -> CurveTable:
    return CurveTable()


def test_shipped_table_is_small_and_described(table: CurveTable) -> None:
    assert DEFAULT_TABLE.stat().st_size < 1_000_000
    info = table.info
    for key in ("command", "seed", "space", "data", "versions", "machine", "generation_seconds"):
        assert key in info, f"the sidecar lacks {key!r}"
    assert info["configs"] == len(table) >= 200
    assert info["epochs"] == table.n_epochs == 27


def test_every_config_has_every_epoch(table: CurveTable) -> None:
    counts = table.frame.groupby(level="config_id").size()
    assert (counts == table.n_epochs).all()
    epochs = table.frame.index.get_level_values("epoch").to_numpy().reshape(len(table), -1)
    assert (epochs == np.arange(1, table.n_epochs + 1)).all()
    assert table.config_ids == list(range(len(table)))


def test_metrics_in_range(table: CurveTable) -> None:
    f = table.frame
    for m in ("accuracy", "holdout_accuracy", "eo_diff", "holdout_eo_diff"):
        assert f[m].between(0, 1).all(), m
    assert f["accuracy"].max() > 0.8  # the data set's base rate is 0.76: some models learn
    assert (f["train_seconds"] > 0).all() and (f["eval_seconds"] > 0).all()
    assert np.isfinite(f["train_loss"]).all()
    assert np.allclose(table.params["size_kb"], table.params["param_count"] * 4 / 1024, rtol=1e-5)
    m = table.metrics(0, 1)
    assert set(m) >= {"accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "param_count", "size_kb"}
    assert table.final_metrics(0) == table.metrics(0, table.n_epochs)
    assert table.seconds_until(0, 3) == pytest.approx(sum(table.epoch_seconds(0, e) for e in (1, 2, 3)))
    with pytest.raises(ValueError):
        table.metrics(0, table.n_epochs + 1)
    with pytest.raises(KeyError):
        table.metrics(len(table) + 5, 1)


def test_configs_are_the_generators_draws(table: CurveTable) -> None:
    drawn = draw_configs(len(table), table.info["seed"])
    for cid in (0, 1, len(table) - 1):
        got, want = table.config(cid), drawn[cid]
        assert got.keys() == set(PARAMS)
        for k in PARAMS:
            assert got[k] == pytest.approx(want[k], rel=1e-5), (cid, k)
        assert table.parameter_space().is_valid(got)


def test_space_ids_cover_the_table(table: CurveTable) -> None:
    space = table.space()
    assert space.names == ["config_id"]
    assert sorted(space.params["config_id"].choices) == table.config_ids
    assert all(table.metrics(c["config_id"], 1) for c in space.sample(20, seed=0))


def test_nearest_maps_configs_to_tabulated_ids(table: CurveTable) -> None:
    for cid in (0, 7, len(table) - 1):
        config = table.config(cid)
        assert table.nearest(config) == cid
        nudged = {**config, "lr": config["lr"] * 1.01, "dropout": config["dropout"] + 1e-4}
        assert table.nearest(nudged) == cid
    assert table.nearest({"config_id": 3}) == 3
    proposal = table.parameter_space().sample(1, seed=1)[0]
    assert table.nearest(proposal) in table.config_ids


def test_best_possible_front_is_non_dominated(table: CurveTable) -> None:
    front, hv = best_possible_front(table)
    assert len(front) >= 2 and hv > 0
    acc, eo = front["accuracy"].to_numpy(), front["eo_diff"].to_numpy()
    for i in range(len(front)):
        dominated = (acc >= acc[i]) & (eo <= eo[i]) & ((acc > acc[i]) | (eo < eo[i]))
        assert not dominated.any()
    # and nothing in the whole table dominates a front point
    all_acc, all_eo = table.at_epoch(table.n_epochs, "accuracy"), table.at_epoch(table.n_epochs, "eo_diff")
    for a, e in zip(acc, eo, strict=True):
        assert not (((all_acc >= a) & (all_eo <= e) & ((all_acc > a) | (all_eo < e))).any())
    assert front["accuracy"].max() == all_acc.max()


def test_numpy_eo_diff_is_fairlearns() -> None:
    from fairlearn.metrics import equalized_odds_difference

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    sex = rng.choice(np.array(["Female", "Male"]), 500)
    for p in (0.1, 0.5, 0.9):
        pred = (rng.random(500) < p).astype(int)
        assert eo_diff(y, pred, sex) == pytest.approx(equalized_odds_difference(y, pred, sensitive_features=sex), abs=1e-12)
