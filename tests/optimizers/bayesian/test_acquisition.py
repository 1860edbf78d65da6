"""The acquisitions: exact front, exact feasibility, units, starts near the front, the kernel's build lock."""

from __future__ import annotations

import math

import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.bayesian import acquisition
from moo_hpo.optimizers.bayesian.surrogate import noise_floor
from tests.conftest import two_objectives
from tests.optimizers.bayesian.studies import (
    FAST,
    constrained_noiseless_study,
    mixed_study,
    record_optimize_acqf,
)


def test_exact_front_ehvi_agrees_with_the_noisy_criterion_on_exact_observations():
    import numpy as np
    import torch
    from botorch.sampling.normal import SobolQMCNormalSampler

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    objectives = [mh.Minimize("f1", ref=2.0), mh.Minimize("f2", ref=2.0), mh.Minimize("f3", ref=2.0)]
    study = mh.Study(space, objectives, optimizer=make_optimizer("ehvi", {**FAST, "n_init": 8, "noiseless": True}), seed=4)

    def fn(c):
        return {"f1": c["x"] + 0.2 * c["y"], "f2": 1 - c["x"] + 0.3 * c["y"], "f3": (c["y"] - 0.3) ** 2 + 0.1}

    study.optimize(fn, n_trials=9, show_progress=False)
    assert study.trials[-1].extra["optimizer"]["acquisition"] == "qLogEHVI"
    optimizer = study.optimizer
    data = optimizer.training_data()
    model = optimizer.surrogate.model(data.objectives)
    X = torch.as_tensor(np.random.default_rng(0).random((6, 1, 2)), dtype=torch.double)
    values, kinds = {}, {}
    for exact in (True, False):
        sampler = SobolQMCNormalSampler(torch.Size([32]), seed=0)
        acq = acquisition.ehvi(model, study.problem, data, None, sampler, exact_front=exact)
        kinds[exact] = type(acq).__name__
        with torch.no_grad(), noise_floor():
            values[exact] = acq(X).numpy()
    assert kinds == {True: "qLogExpectedHypervolumeImprovement", False: "qLogNoisyExpectedHypervolumeImprovement"}
    # same criterion: log expected improvement agrees up to Monte-Carlo error
    assert np.allclose(values[True], values[False], atol=0.05), (values[True], values[False])
    assert np.ptp(values[True]) > 0.5  # and the points differ, so the agreement says something


def test_exact_front_ehvi_weighs_one_candidate_by_the_exact_probability_of_feasibility():
    """With constraints and exact observations a lone candidate gets the closed-form feasibility
    factor; a candidate with pending points keeps BoTorch's sampled constraints (they correlate)."""
    study = constrained_noiseless_study(size_bound=1.0, n_init=4, seed=3)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"], "size": 1.5 * c["x"] + c["y"]}

    study.optimize(fn, n_trials=5, show_progress=False)
    audit = study.trials[-1].extra["optimizer"]
    assert audit["acquisition"] == "qLogEHVI x P(feasible)"
    assert math.isfinite(audit["acquisition_value"]) and set(audit["predicted"]) == {"f1", "f2", "size"}
    first, second = study.ask(2)
    assert first.extra["optimizer"]["acquisition"] == "qLogEHVI x P(feasible)"
    assert second.extra["optimizer"]["acquisition"] == "qLogEHVI"  # the first one is pending
    assert first.config != second.config


@pytest.mark.parametrize(
    "name, n_objectives, noiseless", [("ehvi", 2, False), ("ehvi", 3, True), ("cei", 1, False)]
)
def test_acquisition_does_not_depend_on_the_objectives_units(name, n_objectives, noiseless):
    """Measuring an objective in other units (here x 1000, reference point too) leaves the criterion
    unchanged: it scores the objectives scaled by their spread, not in raw units."""
    import numpy as np
    import torch
    from botorch.sampling.normal import SobolQMCNormalSampler

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    rescaled_name = "f2" if n_objectives > 1 else "f1"

    def fn(c):
        return {"f1": c["x"] + 0.2 * c["y"], "f2": 1 - c["x"] + 0.3 * c["y"] ** 2, "f3": (c["y"] - 0.3) ** 2 + 0.1}

    def acquisition_values(unit: float) -> np.ndarray:
        def units(n: str) -> float:
            return unit if n == rescaled_name else 1.0

        names = ["f1", "f2", "f3"][:n_objectives]
        objectives = [mh.Minimize(n, ref=2.0 * units(n)) for n in names]
        optimizer = make_optimizer(name, {**FAST, "n_init": 8, "noiseless": noiseless})
        study = mh.Study(space, objectives, optimizer=optimizer, seed=5)
        study.optimize(lambda c: {n: fn(c)[n] * units(n) for n in names}, n_trials=8, show_progress=False)
        data = optimizer.training_data()
        model = optimizer.surrogate.model(data.objectives)
        # points across the cube: many improve on nothing measured, and only the acquisition's
        # smoothed tails tell them apart
        X = torch.as_tensor(np.random.default_rng(0).random((16, 1, 2)), dtype=torch.double)
        sampler = SobolQMCNormalSampler(torch.Size([32]), seed=0)
        with torch.no_grad(), noise_floor():
            return optimizer._acquisition(model, data, None, sampler, seed=0)(X).numpy()

    same, rescaled = acquisition_values(1.0), acquisition_values(1000.0)
    assert np.ptp(same) > 1.0  # the points differ, so the agreement says something
    # in raw units the improving points would all shift by log(1000) but the others by less,
    # which reorders them: the difference must be one constant (here: zero)
    assert np.ptp(rescaled - same) < 1e-3, (rescaled - same).ravel()
    assert np.allclose(same, rescaled, atol=1e-3)


# ---------------------------------------------------------------------------- starts near the front


def test_extra_starts_near_the_measured_front_join_the_random_ones(monkeypatch):
    import numpy as np
    import torch

    from moo_hpo.fronts import pareto_mask
    from moo_hpo.optimizers.bayesian.front_starts import FRONT_START_POOL, front_starts

    calls = record_optimize_acqf(monkeypatch)
    study = constrained_noiseless_study(size_bound=1.2, n_init=6, seed=3)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=8, show_progress=False)
    assert len(calls) == 2
    feasible = [t for t in study.trials[:7] if t.metrics["size"] <= 1.2]
    F = np.array([[t.metrics["f1"], t.metrics["f2"]] for t in feasible])
    front = np.array([[t.config["x"], t.config["y"]] for t, on in zip(feasible, pareto_mask(F)) if on])
    starts = calls[-1]["batch_initial_conditions"]
    k = study.optimizer.settings.front_starts  # the defaults table's, for noiseless ehvi
    assert k > 0 and starts.shape == (k, 1, 2)
    assert calls[-1]["num_restarts"] == FAST["num_restarts"] + k  # BoTorch adds the random starts
    assert len(front) < len(feasible)  # some feasible trials are dominated: not anchors
    # exactly the best k of the pool of perturbations of the front's configurations, by the acquisition
    expected = front_starts(calls[-1]["acq"], front, k=k, pool=max(FRONT_START_POOL, k), seed=calls[-1]["options"]["seed"])
    assert torch.equal(starts, expected)
    nearest = np.min(np.linalg.norm(starts.squeeze(1).numpy()[:, None] - front[None], axis=-1), axis=1)
    assert 0.0 < nearest.max() < 0.5  # perturbed (widths up to 0.1 per coordinate), not copies


def test_front_starts_can_be_turned_off_and_wait_for_a_feasible_trial(monkeypatch):
    calls = record_optimize_acqf(monkeypatch)

    def feasible_often(c):
        return {"f1": c["x"], "f2": 1 - c["x"], "size": c["x"]}

    def never_feasible(c):
        return {"f1": c["x"], "f2": 1 - c["x"], "size": 2.0 + c["y"]}

    constrained_noiseless_study(size_bound=1.2, n_init=4, seed=0, front_starts=0).optimize(
        feasible_often, n_trials=5, show_progress=False
    )
    assert calls[-1]["batch_initial_conditions"] is None and calls[-1]["num_restarts"] == FAST["num_restarts"]
    before = len(calls)
    constrained_noiseless_study(size_bound=1.2, n_init=4, seed=0).optimize(never_feasible, n_trials=5, show_progress=False)
    assert len(calls) > before  # the model-based ask ran (the check below is of this study's call)
    assert calls[-1]["batch_initial_conditions"] is None
    for bad in (-1, True, 2.5):
        with pytest.raises(mh.ConfigError, match=rf"front_starts must be a non-negative integer or None; received {bad!r}"):
            constrained_noiseless_study(size_bound=1.2, n_init=4, seed=0, front_starts=bad).ask()


@pytest.mark.parametrize("noiseless", [False, True])
def test_ehvi_clears_a_stale_kernel_build_lock_before_botorch_would_wait_on_it(tmp_path, monkeypatch, noiseless):
    import os
    import time

    from botorch.acquisition.multi_objective import logei

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(logei, "_load_attempted", False)
    seen_by_botorch = []

    def load_without_compiling():  # stands in for BoTorch's loader: records whether the lock was still there
        seen_by_botorch.append(os.path.exists(lock))
        logei._load_attempted = True

    monkeypatch.setattr(logei, "_try_load_fused_kernel", load_without_compiling)
    lock = tmp_path / "logei_fused_ext" / "lock"
    lock.parent.mkdir()
    lock.touch()
    old = time.time() - 3600
    os.utime(lock, (old, old))
    study = mixed_study("ehvi", seed=1, noiseless=noiseless)
    study.optimize(two_objectives, n_trials=3, show_progress=False)
    assert study.trials[-1].extra["optimizer"]["acquisition"].startswith("qLog")
    assert seen_by_botorch and seen_by_botorch[0] is False
    assert not lock.exists()



def test_under_a_soft_bound_always_broken_ehvi_spreads_along_the_front_instead_of_repeating_one_point():
    space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("energy", 1.0, soft=True, penalty=1.0)],
                     optimizer="ehvi", seed=0)
    for _ in range(14):
        t = study.ask()
        study.tell(t, {"f1": t.config["x"], "f2": 1 - t.config["x"], "energy": 1.5 + t.config["y"]})
    modelled = [t.config["x"] for t in study.trials[6:]]  # after the initial design
    # the penalty (its y) is learned, and x spreads over the front; each x was once within 0.003 of 0.433
    assert len({round(x, 2) for x in modelled}) >= 6 and max(modelled) - min(modelled) > 0.5


def test_a_soft_bound_no_trial_broke_leaves_the_reference_point_as_the_study_has_it():
    from moo_hpo.optimizers.bayesian import acquisition
    from moo_hpo.optimizers.bayesian.data import training_data

    space = mh.Space({"x": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Maximize("acc", ref=0.5), mh.Minimize("latency_ms", ref=50.0)],
                     [mh.AtMost("energy", 10.0, soft=True)], optimizer="random", seed=0)
    for i in range(12):
        t = study.ask()
        study.tell(t, {"acc": 0.6 + 0.3 * t.config["x"], "latency_ms": 5000.0 if i == 3 else 10 + 30 * t.config["x"],
                       "energy": 1.0})
    point = acquisition.reference_point(study.problem, training_data(study.problem, study.trials, model_failures=False))
    assert point.tolist() == [-0.5, 50.0]  # an outlier of 5,000 ms does not move it (the penalty is 0)


def test_a_reference_point_no_feasible_trial_dominates_is_moved_only_as_far_as_needed():
    import numpy as np

    from moo_hpo.optimizers.bayesian.acquisition import _reachable

    point = np.array([0.2, 10.0])
    np.testing.assert_array_equal(_reachable(point, np.array([[0.1, 5.0], [0.6, 20.0]])), point)  # reached: kept
    # f1 <= 0.2 is out of reach, f2 <= 10 is not (trial 0 has 5): f1 alone moves, to the worst f1 + 10% of its range
    np.testing.assert_allclose(_reachable(point, np.array([[0.5, 5.0], [0.6, 20.0]])), [0.61, 10.0])
    # each objective reached by some trial, the pair by none (a trade-off): every objective moves
    np.testing.assert_allclose(_reachable(np.array([0.55, 10.0]), np.array([[0.5, 12.0], [0.6, 5.0]])), [0.61, 12.7])
    np.testing.assert_array_equal(_reachable(point, np.empty((0, 2))), point)  # nothing feasible: as it was
