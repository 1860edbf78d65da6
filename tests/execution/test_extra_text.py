"""Extra data JSON cannot hold is kept as its text: the trial keeps its metrics and the study its run, on every path."""

from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.execution.extra_text import as_text, storable
from moo_hpo.pipeline import Skipped


def _cycle() -> dict:
    loop: dict = {"name": "loop"}
    loop["left"] = loop
    loop["right"] = loop  # two back-references: a depth cap alone grew 2**depth leaves
    return loop


@pytest.mark.parametrize("extra", [{(1, 2): 3}, {np.int64(4): "x"}, {"graph": _cycle()}], ids=["tuple key", "numpy key", "cycle"])
@pytest.mark.parametrize("path", ["complete", "pruned", "skipped"])
def test_an_extra_the_store_cannot_keep_costs_neither_the_metrics_nor_the_run(path, extra):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    pruner = mh.pruners.MOASHA(1, 3, 3) if path == "pruned" else False
    study = mh.Study(space, [mh.Minimize("a")], [mh.AtMost("size", 1.0)], optimizer="random", seed=0, pruner=pruner)

    def fn(config, trial):
        if path == "skipped":
            return Skipped({"size": 2.0}, extra, "size broke its bound before training")
        for step in (1, 2, 3):
            trial.report(step, {"a": config["x"] if trial.number else -1.0})  # trial 0 leads: the others are pruned
            if trial.should_prune():
                break
        return mh.Result({"a": config["x"], "size": 0.5}, extra)

    study.optimize(fn, n_trials=4, show_progress=False)
    expected = {"complete": "complete", "pruned": "pruned", "skipped": "infeasible_skipped"}[path]
    assert expected in {t.status.value for t in study.trials} and study.count("failed") == study.count("interrupted") == 0
    assert all(t.metrics for t in study.trials)


def test_as_text_keeps_what_json_holds_and_writes_the_rest_as_text():
    assert as_text({"a": np.float32(0.5), "b": np.arange(3), "c": (1, [2, None]), True: 1, None: 2, 3: 4, 0.5: 5}) == {
        "a": 0.5, "b": [0, 1, 2], "c": [1, [2, None]], "true": 1, "null": 2, "3": 4, "0.5": 5}
    assert as_text(_cycle()) == {"name": "loop", "left": "<cycle>", "right": "<cycle>"}
    shared = [1]
    assert as_text({"x": shared, "y": shared}) == {"x": [1], "y": [1]}  # met twice, not a cycle

    class Unprintable:
        def __str__(self):
            raise RuntimeError("no")

        __repr__ = __str__

    assert as_text({"u": Unprintable()}) == {"u": "<Unprintable>"}
    assert storable({"u": Unprintable()}) is not None and storable({"a": np.arange(2)}) is None


def test_a_result_extra_must_be_a_mapping():
    with pytest.raises(mh.ConfigError, match=r"Result.extra must be a mapping of names to data; received list"):
        mh.Result({"a": 1.0}, [1, 2])


def test_extra_written_into_the_trial_in_the_study_s_process_is_kept_as_text_as_a_worker_s_is(tmp_path):
    # trial.extra["when"] = datetime in the study's process stopped the whole study (the store refused the record),
    # where a worker's copy was kept as text
    import datetime

    def objective(config, trial):
        trial.extra["when"] = datetime.datetime(2026, 1, 1)
        if config["x"] > 0.5:
            raise RuntimeError("diverged")
        return {"a": config["x"], "b": 1 - config["x"]}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0,
                     storage=tmp_path / "s.db")
    study.optimize(objective, n_trials=4, show_progress=False)
    assert {t.status for t in study.trials} <= {mh.TrialStatus.COMPLETE, mh.TrialStatus.FAILED} and len(study.trials) == 4
    assert all(t.extra["when"] == "2026-01-01 00:00:00" for t in study.trials)
    with mh.Study.load(tmp_path / "s.db", read_only=True) as again:
        assert again.trials[0].extra["when"] == "2026-01-01 00:00:00"
