from __future__ import annotations

import time
from pathlib import Path

import pytest

import moo_hpo as mh

XSS = "<script>alert(1)</script>"


def _fn(config):
    x, k = config["x"], config["k"]
    if k == 3:
        raise RuntimeError("diverged at <b>epoch 3</b>")
    acc = 0.7 + 0.25 * x - 0.02 * k
    return mh.Result(
        {"accuracy": acc, "eo_diff": 0.02 + 0.2 * x * x, "latency_p99_ms": 1 + 3 * x + k, "size_kb": 10 + 40 * k},
        extra={"fairness": {"by_group": [
            {"sensitive_feature_0": "F", "count": 40, "accuracy": acc - 0.02, "selection_rate": 0.2, "tpr": 0.6, "fpr": 0.05},
            {"sensitive_feature_0": "M", "count": 60, "accuracy": acc + 0.01, "selection_rate": 0.3, "tpr": 0.6 + 0.2 * x, "fpr": 0.1},
        ]}},
    )


@pytest.fixture(scope="package")
def finished_study():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3), "act": mh.Categorical(["relu", XSS])})
    study = mh.Study(
        space,
        [mh.Maximize("accuracy"), mh.Minimize("eo_diff"), mh.Minimize("latency_p99_ms")],
        [mh.AtMost("eo_diff", 0.1), mh.AtMost("size_kb", 60.0)],
        optimizer="random",
        seed=0,
        name="report <test>",
    )
    study.optimize(_fn, n_trials=40, show_progress=False)
    return study


@pytest.fixture(scope="package")
def two_objective_study():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "act": mh.Categorical(["relu", XSS])})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], [mh.AtMost("eo_diff", 0.1)], optimizer="sobol", seed=1)
    study.optimize(lambda c: _fn({**c, "k": 0}), n_trials=24, show_progress=False)
    return study


PAUSE = 0.01  # seconds between a trial's reports, so that every trial takes time


def _report(study: mh.Study, trial: mh.Trial, steps: list[int], acc: float, gap: float | None = 0.1) -> None:
    for step in steps:
        time.sleep(PAUSE)
        metrics = {"acc": acc * (1 - 0.5 ** step)} | ({"gap": gap} if gap is not None else {})
        study.report(trial, step, metrics)


def early_stopping_study(path: Path) -> str:
    """A study driven with ask / report / tell, with chosen steps (see tests/reports/test_learning_curves.py):
    trials 0 and 3 complete at step 9, 1 and 2 pruned after steps 3 and 1, 4 complete without reports,
    5 failed after step 2, 6 left running after step 1. Returns the SQLite file's path."""
    space = mh.Space({"x": mh.Float(0.0, 1.0), "act": mh.Categorical(["relu", "<b>tanh</b>"])})
    study = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("gap")], optimizer="random", storage=path, seed=0, name="curves")
    t = study.ask()
    _report(study, t, list(range(1, 10)), 0.9)
    study.tell(t, {"acc": 0.9, "gap": 0.1})
    t = study.ask()
    _report(study, t, [1, 2, 3], 0.7, gap=None)
    study.tell(t, {"acc": 0.6}, status="pruned", extra={"pruned": "pruned at rung 1 (step 3)"})
    t = study.ask()
    _report(study, t, [1], 0.5, gap=0.3)
    study.tell(t, {"acc": 0.25, "gap": 0.3}, status="pruned")
    t = study.ask()
    _report(study, t, [1, 3, 9], 0.8, gap=0.05)
    study.tell(t, {"acc": 0.8, "gap": 0.05})
    study.tell(study.ask(), {"acc": 0.5, "gap": 0.5})
    t = study.ask()
    _report(study, t, [1, 2], 0.6)
    study.tell(t, error="RuntimeError: diverged")
    _report(study, study.ask(), [1], 0.4)
    study.close()
    return str(path)


