"""Small studies and helpers shared by the Bayesian optimizers' tests."""

from __future__ import annotations

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from tests.conftest import mixed_space

# small effort settings keep the suite fast on two cores; with n_init=2 and n_trials=4 each contract
# run makes two model-based proposals
FAST = {"n_init": 2, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}


def mixed_study(name: str, seed: int = 0, **params) -> mh.Study:
    """The mixed, conditional space with two objectives and a size constraint, ``name`` with the fast settings."""
    return mh.Study(
        mixed_space(),
        [mh.Minimize("f1"), mh.Minimize("f2")],
        [mh.AtMost("size_kb", 40.0)],
        optimizer=make_optimizer(name, {**FAST, **params}),
        seed=seed,
    )


def constrained_noiseless_study(size_bound: float, n_init: int, seed: int, **params) -> mh.Study:
    """Two objectives and one hard constraint on ``size``, noiseless ``ehvi`` with the fast settings."""
    return mh.Study(
        mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)}),
        [mh.Minimize("f1"), mh.Minimize("f2")],
        [mh.AtMost("size", size_bound)],
        optimizer=make_optimizer("ehvi", {**FAST, "n_init": n_init, "noiseless": True, **params}),
        seed=seed,
    )


def study_with_a_failing_half(seed: int, **params) -> tuple[mh.Study, object]:
    """Every configuration with x > 0.6 fails (say, out of memory); the objectives would pull there."""
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    settings = {"n_init": 4, "num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "maxiter": 30, "noiseless": True}
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {**settings, **params}), seed=seed)

    def fn(c):
        if c["x"] > 0.6:
            raise RuntimeError("out of memory")
        return {"f1": c["x"] + 0.1 * c["y"], "f2": (1.0 - c["x"]) ** 2 + c["y"]}

    return study, fn


def record_optimize_acqf(monkeypatch) -> list[dict]:
    """Record the arguments of every ``optimize_acqf`` call (and still run it)."""
    import botorch.optim

    calls: list[dict] = []
    real = botorch.optim.optimize_acqf

    def recording(*args, **kwargs):
        calls.append({**kwargs, "acq": args[0]})
        return real(*args, **kwargs)

    monkeypatch.setattr(botorch.optim, "optimize_acqf", recording)
    return calls
