"""The GPs: interpolation when noiseless, one batched GP when rows agree, the trend, warm-start checkpoints."""

from __future__ import annotations

import itertools
import math

import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.bayesian import surrogate
from moo_hpo.optimizers.bayesian.surrogate import checkpoint, noise_floor
from tests.optimizers.bayesian.studies import (
    FAST,
    constrained_noiseless_study,
    study_with_a_failing_half,
)


@pytest.mark.parametrize("noisy", [False, True])
def test_gps_are_fitted_from_scratch_up_to_the_limit_then_warm_started_from_growing_checkpoints(noisy):
    limit = surrogate.NOISY_REFIT_EVERY_ASK_UP_TO if noisy else surrogate.REFIT_EVERY_ASK_UP_TO
    assert [checkpoint(n, noisy) for n in range(1, limit + 1)] == list(range(1, limit + 1))
    beyond = [checkpoint(n, noisy) for n in range(limit + 1, 8 * limit)]
    assert all(c <= n for c, n in zip(beyond, range(limit + 1, 8 * limit)))
    assert beyond == sorted(beyond)  # a checkpoint never moves back
    steps = sorted(set(beyond))
    assert len(steps) > 3  # new checkpoints keep coming, each about REFIT_GROWTH times the last
    for a, b in itertools.pairwise(steps):
        assert b == max(a + 1, math.ceil(a * surrogate.REFIT_GROWTH))
    assert all(checkpoint(c, noisy) == c for c in steps)  # a checkpoint's own data are fitted from scratch


@pytest.mark.parametrize("constrained", [False, True])
def test_a_gp_that_infers_its_noise_is_warm_started_sooner_and_fits_as_after_a_resume(tmp_path, constrained):
    """Beyond NOISY_REFIT_EVERY_ASK_UP_TO observations a noisy GP starts from a checkpoint's fit, and a study
    resumed from its store proposes exactly what the uninterrupted one proposed (with a hard constraint too: on the
    bilog scale of its median distance from the bound, which moves as trials arrive, a checkpoint fitted earlier in
    the uninterrupted study saw other values than the resumed study's)."""
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    n = surrogate.NOISY_REFIT_EVERY_ASK_UP_TO + 4
    assert checkpoint(n, noisy=True) < n == checkpoint(n, noisy=False)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"], "size": 300.0 * c["x"] + 200.0 * c["y"]}

    def study(path):
        return mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("size", 250.0)] if constrained else [],
                        storage=path, seed=5, optimizer=make_optimizer("ehvi", {**FAST, "noiseless": False, "n_init": n - 3}))

    whole = study(tmp_path / "whole.db")
    whole.optimize(fn, n_trials=n + 2, show_progress=False)
    first = study(tmp_path / "resumed.db")
    first.optimize(fn, n_trials=n - 2, show_progress=False)
    first.close()
    resumed = study(tmp_path / "resumed.db")
    resumed.optimize(fn, n_trials=4, show_progress=False)
    assert [t.config for t in resumed.trials] == [t.config for t in whole.trials]
    # fits from scratch only at the checkpoints (the asks at n - 2 ... n + 1 observations), warm starts between
    sizes = {len(key[1]) for key in whole.optimizer.surrogate._states if key[0][0][0] == "objective" and not key[3]}
    assert sizes == {checkpoint(k, noisy=True) for k in range(n - 2, n + 2)} == {15, 19}


def test_noiseless_gps_interpolate_the_observations(monkeypatch):
    import numpy as np
    import torch
    from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(
        space,
        [mh.Minimize("f1"), mh.Minimize("f2")],
        optimizer=make_optimizer("ehvi", {**FAST, "noiseless": True}),
        seed=3,
    )
    # warm starts from the first checkpoint on (by default only beyond 64 observations): 8 trials, so
    # the asks at 6 observations warm-start from the checkpoint at 5 (no per-row noise carried over)
    monkeypatch.setattr(surrogate, "REFIT_EVERY_ASK_UP_TO", 0)
    assert [checkpoint(n) for n in (5, 6, 7)] == [5, 5, 7]
    study.optimize(lambda c: {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"]}, n_trials=8, show_progress=False)
    assert all(t.status is mh.TrialStatus.COMPLETE for t in study.trials)
    optimizer = study.optimizer
    out = optimizer.training_data().objectives[0]
    model = optimizer.surrogate.fit_gp([out], tag=0)
    assert isinstance(model.likelihood, FixedNoiseGaussianLikelihood)
    with torch.no_grad(), noise_floor():
        mean = model.posterior(torch.as_tensor(out.X, dtype=torch.double)).mean.reshape(-1).numpy()
    assert np.allclose(mean, out.Y, atol=1e-3 * np.ptp(out.Y))
    with pytest.raises(mh.ConfigError, match="noiseless must be True, False or 'auto'; received 'yes'"):
        mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {"noiseless": "yes"})).ask()


def test_outcomes_observed_at_the_same_trials_share_one_batched_gp():
    import numpy as np
    import torch
    from botorch.models import ModelListGP, SingleTaskGP

    study = constrained_noiseless_study(size_bound=1.5, n_init=6, seed=2)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=6, show_progress=False)
    optimizer = study.optimizer
    data = optimizer.training_data()
    outputs = data.objectives + data.constraints
    model = optimizer.surrogate.model(outputs)
    assert isinstance(model, SingleTaskGP) and model.num_outputs == 3
    with torch.no_grad(), noise_floor():  # each column is its own noiseless GP: it interpolates its own outcome
        mean = model.posterior(torch.as_tensor(outputs[0].X, dtype=torch.double)).mean.numpy()
    for col, out in enumerate(outputs):
        assert np.allclose(mean[:, col], out.Y, atol=1e-3 * np.ptp(out.Y))

    # a trial skipped before training measured the constraint only: its GP sees one more row
    trial = study.ask()
    study.tell(trial, {"size": 1.9}, status="infeasible_skipped")
    data = optimizer.training_data()
    model = optimizer.surrogate.model(data.objectives + data.constraints)
    assert isinstance(model, ModelListGP)
    assert [m.train_inputs[0].shape[0] for m in model.models] == [6, 6, 7]


@pytest.mark.parametrize("trend", ["quadratic", "constant"])
def test_objective_and_constraint_gps_carry_the_quadratic_trend_unless_told_otherwise(trend):
    import torch
    from botorch.models import ModelListGP
    from gpytorch.kernels import AdditiveKernel, RBFKernel

    from moo_hpo.optimizers.bayesian.cached_posterior import StackedCachedGPs
    from moo_hpo.optimizers.bayesian.kernels import QuadraticTrendKernel
    from moo_hpo.optimizers.bayesian.surrogate import cached_if_list

    params = {} if trend == "quadratic" else {"trend": trend}
    study, fn = study_with_a_failing_half(seed=0, **params)
    study.optimize(fn, n_trials=6, show_progress=False)
    optimizer = study.optimizer
    data = optimizer.training_data()
    assert data.failures is not None
    model = optimizer.surrogate.model(data.objectives + data.guards)
    assert isinstance(model, ModelListGP) and len(model.models) == 2  # the objectives' batched GP, the failure GP
    objectives, failures = (m.covar_module for m in model.models)
    if trend == "quadratic":  # the default
        assert type(objectives) is AdditiveKernel
        assert [type(k) for k in objectives.kernels] == [RBFKernel, QuadraticTrendKernel]
    else:
        assert type(objectives) is RBFKernel
    assert type(failures) is RBFKernel  # a failure label is no bowl
    assert isinstance(cached_if_list(model), StackedCachedGPs)  # the fast posterior serves both
    # the other trend on the same data: its own fit, not the first one's hyperparameters dropped on loading
    optimizer.surrogate.trend = "constant" if trend == "quadratic" else "quadratic"
    other = optimizer.surrogate.model(data.objectives + data.guards).models[0].covar_module
    rbf = other if type(other) is RBFKernel else other.kernels[0]
    assert not torch.allclose(rbf.lengthscale, torch.full_like(rbf.lengthscale, rbf.lengthscale_prior.mode))



def test_botorchs_advice_a_user_cannot_act_on_is_not_printed_and_other_warnings_are():
    import subprocess
    import sys

    script = (
        "import warnings\n"
        "import moo_hpo.optimizers.bayesian.surrogate\n"
        "from botorch.exceptions.warnings import BotorchWarning, OptimizationWarning\n"
        "warnings.warn('When all training points are infeasible, it is better to use q(Log)ProbabilityOfFeasibility.', BotorchWarning)\n"
        "warnings.warn_explicit('`scipy_minimize` terminated with status OptimizationStatus.FAILURE, displaying original "
        "message from `scipy.optimize.minimize`: ABNORMAL: ', OptimizationWarning, 'fit.py', 241)\n"
        "warnings.warn('a warning of the user', UserWarning)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "infeasible" not in out.stderr and "ABNORMAL" not in out.stderr
    assert "a warning of the user" in out.stderr


@pytest.mark.parametrize("unit", [1.0, 1e-8])
def test_an_objective_in_tiny_units_is_modelled_as_in_ordinary_ones(unit):
    # BoTorch leaves an outcome whose spread is below 1e-8 unstandardized: the model then saw a flat objective
    space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Minimize("loss")], optimizer="cei", seed=0)
    for _ in range(14):
        t = study.ask()
        study.tell(t, {"loss": unit * ((t.config["x"] - 0.3) ** 2 + (t.config["y"] - 0.7) ** 2)})
    best = min(study.trials, key=lambda t: t.metrics["loss"]).config
    assert abs(best["x"] - 0.3) < 0.05 and abs(best["y"] - 0.7) < 0.05


def test_an_objective_batched_beside_one_of_large_magnitude_is_still_standardized():
    import numpy as np

    from moo_hpo.optimizers.bayesian.data import Outcome
    from moo_hpo.optimizers.bayesian.surrogate import Surrogate

    rng = np.random.default_rng(0)
    X = rng.random((20, 2))
    error, size = 0.1 + 0.02 * np.sin(6 * X[:, 0]), 5e7 + 4e7 * X[:, 1]
    outcomes = [Outcome("objective", j, tuple(range(20)), X, Y) for j, Y in enumerate((error, size))]
    model = Surrogate(True, "constant", 0, "test").model(outcomes)  # one batched GP of both
    stdvs = model.outcome_transform.stdvs.reshape(-1).tolist()
    assert stdvs[0] == pytest.approx(float(np.std(error, ddof=1)), rel=1e-6)  # not left at 1 beside the large one


def test_a_failure_model_is_not_fitted_on_a_checkpoint_without_a_failure():
    """The failure model's outcome is 0 for every trial until the first failure: a checkpoint of rows before it fitted
    hyperparameters to constant data (and BoTorch said "not standardized (std = 0)"); such a checkpoint fits on all."""
    import warnings

    from botorch.exceptions.warnings import InputDataWarning

    study = mh.Study(mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)}), [mh.Minimize("f1"), mh.Minimize("f2")],
                     seed=0, optimizer="ehvi")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputDataWarning)  # before: raised by the asks after the failure
        for i in range(28):
            t = study.ask()
            if i == 25:
                study.tell(t, error=RuntimeError("out of memory"))
            else:
                study.tell(t, {"f1": t.config["x"], "f2": 1 - t.config["x"] + t.config["y"]})
    assert study.count("complete") == 27
