"""Shared fixtures: small spaces and objective functions used across the suite."""

from __future__ import annotations

import math
import os

# make test runs one pytest worker per core (pytest-xdist): each keeps to one thread of torch, OpenMP and BLAS
# (and so do the worker processes it starts), so the workers do not wait on each other's thread pools
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import moo_hpo as mh  # noqa: E402

# property tests draw the same examples on every run, so a CI run cannot fail on an example no earlier run
# met; HYPOTHESIS_PROFILE=explore draws fresh ones (for hunting edge cases locally)
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def mixed_space() -> mh.Space:
    """A space with every kind of parameter, a condition and a validity rule."""
    return mh.Space(
        {
            "x": mh.Float(-2.0, 2.0),
            "lr": mh.Float(1e-4, 1e-1, log=True),
            "width": mh.Int(8, 256, log=True),
            "layers": mh.Int(1, 7, step=2),
            "opt": mh.Categorical(["sgd", "adam"]),
            "momentum": mh.Float(0.0, 0.99, active_if={"opt": "sgd"}),
            "nesterov": mh.Categorical([True, False], active_if={"opt": "sgd"}),
        },
        rules=[mh.Rule("width * layers <= 1000", lambda c: c["width"] * c["layers"] <= 1000)],
    )


def two_objectives(config: dict) -> dict:
    """A cheap bi-objective function over :func:`mixed_space` plus a size metric."""
    x = config["x"]
    penalty = 0.1 * math.log10(config["lr"]) ** 2 + (0.05 if config["opt"] == "sgd" else 0.0)
    return {
        "f1": x**2 + penalty,
        "f2": (x - 1.0) ** 2 + penalty,
        "size_kb": config["width"] * config["layers"] / 10.0,
    }


@pytest.fixture
def space() -> mh.Space:
    return mixed_space()


@pytest.fixture
def objectives() -> list[mh.Objective]:
    return [mh.Minimize("f1"), mh.Minimize("f2")]


def noisy_latency_study(seed: int, top_k: int) -> mh.Study:
    """30 random trials of a study whose accuracy and size are exact and latency noisy, its front's ``top_k``
    configurations run once more (so the study knows its metrics are noisy)."""
    import numpy as np

    space = mh.Space({"w": mh.Int(1, 4), "x": mh.Float(0, 1)})

    def fn(config, trial):
        rng = np.random.default_rng(trial.seed)
        return {"accuracy": round(0.8 + 0.05 * np.sin(6 * config["x"]), 3), "latency_ms": config["w"] + 0.3 * rng.random(),
                "size_kb": float(config["w"])}

    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("latency_ms"), mh.Minimize("size_kb")], optimizer="random", seed=seed)
    study.optimize(fn, n_trials=30, show_progress=False)
    study.reevaluate(fn, top_k=top_k, repeats=1, show_progress=False)
    return study
