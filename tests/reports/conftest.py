from __future__ import annotations

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
