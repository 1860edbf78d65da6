"""The early-stopping benchmark's simulation (benchmarks/pruning_suite.py): its bookkeeping on a small table.

The table here is made up (12 configurations of the real space, smooth curves), so the test does not depend
on the shipped one; Syne Tune's peer runs in an environment of its own and is not tested here.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.curves_table import CurveTable
from benchmarks.learning_curves import COLUMNS, draw_configs
from benchmarks.pruning_suite import MAX_EPOCHS, Normalizer, make_method, simulate, summarize


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> CurveTable:
    path = tmp_path_factory.mktemp("curves") / "curves.csv"
    rng = np.random.default_rng(0)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for cid, config in enumerate(draw_configs(12, 0)):
            top, gap, speed = rng.uniform(0.80, 0.86), rng.uniform(0.05, 0.35), rng.uniform(1, 8)
            for epoch in range(1, MAX_EPOCHS + 1):
                acc = 0.76 + (top - 0.76) * (1 - np.exp(-epoch / speed))
                eo = gap + 0.1 * np.exp(-epoch / speed)
                w.writerow([cid, epoch, *(config[k] for k in ("width", "depth", "lr", "weight_decay", "batch_size",
                                                              "dropout", "class_weight")),
                            1000, 3.9, acc, eo, acc, eo, 0.5, 0.05 * (1 + cid % 3), 0.01])
    return CurveTable(path)


def test_full_training_spends_exactly_the_budget(table: CurveTable) -> None:
    run = simulate(table, make_method("random", table, 0, 4, None), "random", 0, budget_trials=4, n_workers=2)
    assert (run.epochs, run.started, run.complete, run.pruned, run.cut) == (4 * MAX_EPOCHS, 4, 4, 0, 0)
    assert run.epochs_of == {str(MAX_EPOCHS): 4}
    assert [e for e, _, _ in run.trace] == sorted(e for e, _, _ in run.trace) and run.trace[-1][0] == 4 * MAX_EPOCHS
    assert len(run.trace) == 1 + 4  # the start, then one point per completed trial
    assert all(0.0 <= h <= 1.0 + 1e-9 for _, _, h in run.trace)
    assert [h for _, _, h in run.trace] == sorted(h for _, _, h in run.trace)  # HV never falls
    assert 0 < run.hv_at(run.budget_epochs) <= 1 + 1e-9
    # two workers: the simulated time is at least half the training time of the four trials
    assert run.sim_seconds >= 0.5 * 4 * MAX_EPOCHS * 0.05


def test_early_stopping_spends_the_same_epochs_and_keeps_its_books(table: CurveTable) -> None:
    method = make_method("random+moasha", table, 0, 4, None)
    study = method.study
    run = simulate(table, method, "random+moasha", 0, budget_trials=4, n_workers=2)
    assert run.epochs == 4 * MAX_EPOCHS
    assert run.pruned > 0 and run.complete >= 1 and run.started > 4
    assert run.started == run.complete + run.pruned + run.cut
    trained = sum(int(k) * n for k, n in run.epochs_of.items()) + run.cut_epochs
    assert trained == run.epochs
    assert run.epochs_of.get(str(MAX_EPOCHS), 0) == run.complete
    # the study agrees: pruned trials trained fewer epochs, complete ones all of them, and they report each epoch
    assert study.count("pruned") == run.pruned and study.count("complete") == run.complete
    for t in study.trials:
        if t.status.value == "complete":
            assert [r["step"] for r in t.reports] == list(range(1, MAX_EPOCHS + 1))
        elif t.status.value == "pruned":
            assert 1 <= len(t.reports) < MAX_EPOCHS
    assert all(0.0 <= h <= 1.0 + 1e-9 for _, _, h in run.trace)
    # the replay is exact: the same seed gives the same run
    again = simulate(table, make_method("random+moasha", table, 0, 4, None), "random+moasha", 0, 4, n_workers=2)
    assert again.trace == run.trace and again.epochs_of == run.epochs_of

    summary = summarize([run, simulate(table, make_method("random", table, 0, 4, None), "random", 0, 4, 2)], 4)
    assert summary["budget_epochs"] == 4 * MAX_EPOCHS
    assert set(summary["methods"]) == {"random", "random+moasha"}
    assert summary["methods"]["random"]["seeds_reaching_target"] == 1


def test_the_best_front_normalizes_to_one(table: CurveTable) -> None:
    from benchmarks.curves_table import best_possible_front

    front, _ = best_possible_front(table)
    norm = Normalizer(table)
    assert norm(list(zip(front["accuracy"], front["eo_diff"], strict=True))) == pytest.approx(1.0)
    assert norm([]) == 0.0


def test_the_oracle_bound_ranks_rungs_by_the_final_metrics(table: CurveTable) -> None:
    method = make_method("random+moasha-oracle", table, 0, 4, None)
    run = simulate(table, method, "random+moasha-oracle", 0, budget_trials=4, n_workers=2)
    assert run.epochs == 4 * MAX_EPOCHS and run.pruned > 0 and run.complete >= 1
    pruner = method.study.pruner
    for k in range(len(pruner.rung_steps)):
        for number, metrics in pruner.rung(k).items():  # each rung recorded the configuration's last-epoch metrics
            final = table.metrics(method.configs[number], MAX_EPOCHS)
            assert metrics == {"accuracy": final["accuracy"], "eo_diff": final["eo_diff"]}
