from __future__ import annotations

import math

import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.bayesian import _noise_floor
from tests.conftest import mixed_space, two_objectives
from tests.optimizers.contract import OptimizerContract

# small effort settings keep the suite fast on two cores; with n_init=2 and n_trials=4 each contract
# run makes two model-based proposals (resume after more than n_init trials: see the cei test)
FAST = {"n_init": 2, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}


class TestEHVIContract(OptimizerContract):
    optimizer_name = "ehvi"
    params = FAST
    n_trials = 4


class TestEHVINoiselessContract(OptimizerContract):
    """``noiseless=True``: qLogEHVI over the measured front (constraints and failures included)."""

    optimizer_name = "ehvi"
    params = {**FAST, "noiseless": True}
    n_trials = 4


class TestEHVIPriorMixtureContract(OptimizerContract):
    """``prior_mixture=True``: every proposal scored under two sets of GPs."""

    optimizer_name = "ehvi"
    params = {**FAST, "noiseless": True, "prior_mixture": True}
    n_trials = 4


class TestParEGOContract(OptimizerContract):
    optimizer_name = "parego"
    params = FAST
    n_trials = 3  # one model-based proposal per run: the machinery is shared with EHVI


def _mixed_study(name: str, seed: int = 0, **params) -> mh.Study:
    return mh.Study(
        mixed_space(),
        [mh.Minimize("f1"), mh.Minimize("f2")],
        [mh.AtMost("size_kb", 40.0)],
        optimizer=make_optimizer(name, {**FAST, **params}),
        seed=seed,
    )


def test_audit_trail_records_acquisition_and_predictions_in_metric_units():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(
        space,
        [mh.Maximize("acc"), mh.Minimize("loss")],
        [mh.AtMost("size", 0.9)],
        optimizer=make_optimizer("ehvi", FAST),
        seed=1,
    )

    def fn(c):
        return {"acc": 10.0 + c["x"], "loss": (c["x"] - 0.3) ** 2 + c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=5, show_progress=False)
    first, last = study.trials[0], study.trials[-1]
    assert first.extra["optimizer"] == {"acquisition": "sobol (initial design)"}
    audit = last.extra["optimizer"]
    assert audit["acquisition"] == "qLogNEHVI"
    assert math.isfinite(audit["acquisition_value"])
    assert set(audit["predicted"]) == {"acc", "loss", "size"}
    for stats in audit["predicted"].values():
        assert set(stats) == {"mean", "std"} and stats["std"] >= 0.0
    # Maximize("acc") is negated inside and "size" is modelled as g = size - 0.9: both predictions
    # come back in the metric's own units (acc ~ 10-11, size ~ 0-2)
    assert 9.0 < audit["predicted"]["acc"]["mean"] < 12.0
    assert -0.5 < audit["predicted"]["size"]["mean"] < 2.5


def test_batch_ask_gives_distinct_valid_configs():
    study = _mixed_study("ehvi", seed=2)
    study.optimize(two_objectives, n_trials=4, show_progress=False)
    batch = study.ask(3)
    assert len(batch) == 3
    keys = {tuple(sorted(t.config.items())) for t in batch}
    assert len(keys) == 3
    old = {tuple(sorted(t.config.items())) for t in study.trials[:4]}
    assert not keys & old
    for t in batch:
        assert study.space.problems(t.config) == []
        assert t.extra["optimizer"]["acquisition"] == "qLogNEHVI"


def test_study_by_name_with_int_and_categorical_parameters():
    space = mh.Space({"k": mh.Int(1, 20), "kind": mh.Categorical(["a", "b", "c"]), "u": mh.Float(0.0, 1.0)})

    def fn(c):
        shift = {"a": 0.0, "b": 0.5, "c": 1.0}[c["kind"]]
        return {"f1": (c["k"] - 5) ** 2 / 100 + c["u"] + shift, "f2": (c["k"] - 15) ** 2 / 100 + (1 - c["u"]) + shift}

    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer="ehvi", seed=0)
    assert study.optimizer.get_params()["n_init"] is None
    study.optimize(fn, n_trials=10, show_progress=False)  # default n_init = 2 * (3 + 1) = 8
    kinds = [t.extra["optimizer"]["acquisition"] for t in study.trials]
    assert kinds == ["sobol (initial design)"] * 8 + ["qLogNEHVI"] * 2
    for t in study.trials:
        assert isinstance(t.config["k"], int) and t.config["kind"] in ("a", "b", "c")
    assert len({tuple(sorted(t.config.items())) for t in study.trials}) == 10


def test_validity_rule_never_broken_and_replacements_recorded():
    # both objectives are best at a < b, which the rule forbids: the relaxed optimum lands there
    space = mh.Space({"a": mh.Float(0.0, 1.0), "b": mh.Float(0.0, 1.0)}, rules=[mh.Rule("a >= b", lambda c: c["a"] >= c["b"])])

    def fn(c):
        return {"f1": (c["a"] - 0.2) ** 2 + (c["b"] - 0.8) ** 2, "f2": (c["a"] - 0.1) ** 2 + (c["b"] - 0.9) ** 2}

    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("parego", FAST), seed=1)
    study.optimize(fn, n_trials=5, show_progress=False)
    assert study.count("complete") == 5
    assert all(t.config["a"] >= t.config["b"] for t in study.trials)
    replaced = [t for t in study.trials if "replaced" in t.extra["optimizer"]]
    assert replaced and all(t.extra["optimizer"]["replaced"] == "the optimum broke a validity rule" for t in replaced)
    assert all(t.extra["optimizer"]["acquisition"] == "qLogNParEGO" for t in replaced)


def test_bad_constructor_arguments_raise_config_error_at_setup():
    with pytest.raises(mh.ConfigError, match=r"num_restarts must be a positive integer or None; received 0"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {"num_restarts": 0})).ask()
    with pytest.raises(mh.ConfigError, match=r"model_failures must be True or False; received 'yes'"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {"model_failures": "yes"})).ask()
    with pytest.raises(mh.ConfigError, match="raw_samples must be at least num_restarts"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("parego", {"num_restarts": 8, "raw_samples": 4})).ask()


def test_gps_are_fitted_from_scratch_up_to_64_observations_then_warm_started_from_checkpoints():
    from moo_hpo.optimizers.bayesian import _checkpoint

    assert [_checkpoint(n) for n in (1, 2, 30, 64)] == [1, 2, 30, 64]
    assert [_checkpoint(n) for n in (65, 74, 75, 93, 94, 117, 118)] == [60, 60, 75, 75, 94, 94, 118]


def test_acquisition_effort_defaults_grow_on_the_exact_front_and_yield_to_arguments():
    def resolved(name, n_objectives, **params):
        study = mh.Study(mixed_space(), [mh.Minimize(f"f{i}") for i in range(n_objectives)], optimizer=make_optimizer(name, params))
        study.optimizer.setup(study.problem)
        return study.optimizer._restarts, study.optimizer._raw

    assert resolved("ehvi", 2) == (4, 128)
    assert resolved("ehvi", 3) == (4, 128)  # qLogNEHVI: one box decomposition per sample
    assert resolved("ehvi", 3, noiseless=True) == (60, 1024)  # one decomposition of the measured front
    assert resolved("ehvi", 2, noiseless=True) == (20, 512)
    assert resolved("parego", 3) == (4, 128)
    assert resolved("ehvi", 3, num_restarts=2, raw_samples=8) == (2, 8)
    with pytest.raises(mh.ConfigError, match=r"raw_samples must be at least num_restarts \(60\); received raw_samples=16"):
        resolved("ehvi", 3, noiseless=True, raw_samples=16)


def test_noiseless_gps_interpolate_the_observations(monkeypatch):
    import numpy as np

    import moo_hpo.optimizers.bayesian as bayesian
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
    monkeypatch.setattr(bayesian, "_REFIT_EVERY_ASK_UP_TO", 0)
    assert [bayesian._checkpoint(n) for n in (5, 6, 7)] == [5, 5, 7]
    study.optimize(lambda c: {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"]}, n_trials=8, show_progress=False)
    assert all(t.status is mh.TrialStatus.COMPLETE for t in study.trials)
    optimizer = study.optimizer
    out = optimizer._data().objectives[0]
    model = optimizer._fit_gp([out], tag=0)
    assert isinstance(model.likelihood, FixedNoiseGaussianLikelihood)
    with torch.no_grad(), _noise_floor():
        mean = model.posterior(torch.as_tensor(out.X, dtype=torch.double)).mean.reshape(-1).numpy()
    assert np.allclose(mean, out.Y, atol=1e-3 * np.ptp(out.Y))
    with pytest.raises(mh.ConfigError, match="noiseless must be True or False; received 'yes'"):
        mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {"noiseless": "yes"})).ask()


def _constrained_noiseless_study(size_bound: float, n_init: int, seed: int, **params) -> mh.Study:
    """Two objectives and one hard constraint on ``size``, noiseless ``ehvi`` with the fast settings."""
    return mh.Study(
        mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)}),
        [mh.Minimize("f1"), mh.Minimize("f2")],
        [mh.AtMost("size", size_bound)],
        optimizer=make_optimizer("ehvi", {**FAST, "n_init": n_init, "noiseless": True, **params}),
        seed=seed,
    )


def test_outcomes_observed_at_the_same_trials_share_one_batched_gp():
    import numpy as np
    import torch
    from botorch.models import ModelListGP, SingleTaskGP

    study = _constrained_noiseless_study(size_bound=1.5, n_init=6, seed=2)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=6, show_progress=False)
    optimizer = study.optimizer
    data = optimizer._data()
    outputs = data.objectives + data.constraints
    model = optimizer._model(outputs)
    assert isinstance(model, SingleTaskGP) and model.num_outputs == 3
    with torch.no_grad(), _noise_floor():  # each column is its own noiseless GP: it interpolates its own outcome
        mean = model.posterior(torch.as_tensor(outputs[0].X, dtype=torch.double)).mean.numpy()
    for col, out in enumerate(outputs):
        assert np.allclose(mean[:, col], out.Y, atol=1e-3 * np.ptp(out.Y))

    # a trial skipped before training measured the constraint only: its GP sees one more row
    trial = study.ask()
    study.tell(trial, {"size": 1.9}, status="infeasible_skipped")
    data = optimizer._data()
    model = optimizer._model(data.objectives + data.constraints)
    assert isinstance(model, ModelListGP)
    assert [m.train_inputs[0].shape[0] for m in model.models] == [6, 6, 7]


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
    data = optimizer._data()
    model = optimizer._model(data.objectives)
    X = torch.as_tensor(np.random.default_rng(0).random((6, 1, 2)), dtype=torch.double)
    values, kinds = {}, {}
    for exact in (True, False):
        optimizer._uses_exact_front = lambda exact=exact: exact
        sampler = SobolQMCNormalSampler(torch.Size([32]), seed=0)
        acquisition = optimizer._acquisition(model, data, None, sampler, seed=0)
        kinds[exact] = type(acquisition).__name__
        with torch.no_grad(), _noise_floor():
            values[exact] = acquisition(X).numpy()
    assert kinds == {True: "qLogExpectedHypervolumeImprovement", False: "qLogNoisyExpectedHypervolumeImprovement"}
    # same criterion: log expected improvement agrees up to Monte-Carlo error
    assert np.allclose(values[True], values[False], atol=0.05), (values[True], values[False])
    assert np.ptp(values[True]) > 0.5  # and the points differ, so the agreement says something


def test_exact_front_ehvi_weighs_one_candidate_by_the_exact_probability_of_feasibility():
    """With constraints and exact observations a lone candidate gets the closed-form feasibility
    factor; a candidate with pending points keeps BoTorch's sampled constraints (they correlate)."""
    study = _constrained_noiseless_study(size_bound=1.0, n_init=4, seed=3)

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


# ---------------------------------------------------------------------------- starts near the front
def _record_optimize_acqf(monkeypatch) -> list[dict]:
    """Record the arguments of every ``optimize_acqf`` call (and still run it)."""
    import botorch.optim

    calls: list[dict] = []
    real = botorch.optim.optimize_acqf

    def recording(*args, **kwargs):
        calls.append({**kwargs, "acq": args[0]})
        return real(*args, **kwargs)

    monkeypatch.setattr(botorch.optim, "optimize_acqf", recording)
    return calls


def test_extra_starts_near_the_measured_front_join_the_random_ones(monkeypatch):
    import numpy as np
    import torch

    from moo_hpo.fronts import pareto_mask
    from moo_hpo.optimizers.front_starts import front_starts

    calls = _record_optimize_acqf(monkeypatch)
    study = _constrained_noiseless_study(size_bound=1.2, n_init=6, seed=3)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=8, show_progress=False)
    assert len(calls) == 2
    feasible = [t for t in study.trials[:7] if t.metrics["size"] <= 1.2]
    F = np.array([[t.metrics["f1"], t.metrics["f2"]] for t in feasible])
    front = np.array([[t.config["x"], t.config["y"]] for t, on in zip(feasible, pareto_mask(F)) if on])
    starts = calls[-1]["batch_initial_conditions"]
    assert starts.shape == (5, 1, 2)
    assert calls[-1]["num_restarts"] == FAST["num_restarts"] + 5  # BoTorch adds the random starts
    assert len(front) < len(feasible)  # some feasible trials are dominated: not anchors
    # exactly the best 5 of 128 perturbations of the front's configurations, by the acquisition
    expected = front_starts(calls[-1]["acq"], front, k=5, pool=128, seed=calls[-1]["options"]["seed"])
    assert torch.equal(starts, expected)
    nearest = np.min(np.linalg.norm(starts.squeeze(1).numpy()[:, None] - front[None], axis=-1), axis=1)
    assert 0.0 < nearest.max() < 0.5  # perturbed (widths up to 0.1 per coordinate), not copies


def test_front_starts_default_to_five_on_the_exact_front_only():
    def resolved(name, n_objectives, **params):
        study = mh.Study(mixed_space(), [mh.Minimize(f"f{i}") for i in range(n_objectives)], optimizer=make_optimizer(name, params))
        study.optimizer.setup(study.problem)
        return study.optimizer._n_front_starts

    assert resolved("ehvi", 2, noiseless=True) == 5
    assert resolved("ehvi", 3, noiseless=True) == 5
    assert resolved("ehvi", 2) == 0
    assert resolved("parego", 2, noiseless=True) == 0
    assert resolved("cei", 1, noiseless=True) == 0
    assert resolved("ehvi", 2, noiseless=True, front_starts=0) == 0
    assert resolved("parego", 2, front_starts=3) == 3


def test_front_starts_can_be_turned_off_and_wait_for_a_feasible_trial(monkeypatch):
    calls = _record_optimize_acqf(monkeypatch)

    def feasible_often(c):
        return {"f1": c["x"], "f2": 1 - c["x"], "size": c["x"]}

    def never_feasible(c):
        return {"f1": c["x"], "f2": 1 - c["x"], "size": 2.0 + c["y"]}

    _constrained_noiseless_study(size_bound=1.2, n_init=4, seed=0, front_starts=0).optimize(
        feasible_often, n_trials=5, show_progress=False
    )
    assert calls[-1]["batch_initial_conditions"] is None and calls[-1]["num_restarts"] == FAST["num_restarts"]
    before = len(calls)
    _constrained_noiseless_study(size_bound=1.2, n_init=4, seed=0).optimize(never_feasible, n_trials=5, show_progress=False)
    assert len(calls) > before  # the model-based ask ran (the check below is of this study's call)
    assert calls[-1]["batch_initial_conditions"] is None
    for bad in (-1, True, 2.5):
        with pytest.raises(mh.ConfigError, match=rf"front_starts must be a non-negative integer or None; received {bad!r}"):
            _constrained_noiseless_study(size_bound=1.2, n_init=4, seed=0, front_starts=bad).ask()


# ---------------------------------------------------------------------------- prior mixture
def test_prior_mixture_is_off_unless_asked_and_validated():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    objectives = [mh.Minimize("f1"), mh.Minimize("f2")]

    def last_acquisition(**params) -> str:
        study = mh.Study(space, objectives, optimizer=make_optimizer("ehvi", {**FAST, **params}), seed=0)
        study.optimize(lambda c: {"f1": c["x"] + c["y"], "f2": 1.0 - c["x"] + c["y"] ** 2}, n_trials=3, show_progress=False)
        return study.trials[-1].extra["optimizer"]["acquisition"]

    assert last_acquisition() == "qLogNEHVI"
    assert last_acquisition(noiseless=True) == "qLogEHVI"
    assert last_acquisition(noiseless=True, prior_mixture=True) == "qLogEHVI (mean over 2 lengthscale priors)"
    with pytest.raises(mh.ConfigError, match="prior_mixture must be True or False; received 'yes'"):
        last_acquisition(prior_mixture="yes")


def test_prior_mixture_fits_a_second_set_of_gps_with_short_lengthscales_and_audits_the_mixture():
    import numpy as np
    import torch
    from gpytorch.priors import GammaPrior, LogNormalPrior

    study = _constrained_noiseless_study(size_bound=1.2, n_init=6, seed=5, prior_mixture=True)

    def fn(c):
        return {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=7, show_progress=False)
    assert study.trials[-1].extra["optimizer"]["acquisition"].endswith("(mean over 2 lengthscale priors)")
    optimizer = study.optimizer
    data = optimizer._data()
    outputs = data.objectives + data.constraints
    broad, local = optimizer._model(outputs), optimizer._model(outputs, local=True)
    broad_rbf, local_rbf = broad.covar_module.kernels[0], local.covar_module.kernels[0]  # beside the quadratic trend
    assert isinstance(broad_rbf.lengthscale_prior, LogNormalPrior)
    assert isinstance(local_rbf.lengthscale_prior, GammaPrior)
    # the short-lengthscale prior (mode 1/3) fits shorter lengthscales than BoTorch's (mode about 2.2 here)
    assert local_rbf.lengthscale.mean() < broad_rbf.lengthscale.mean()
    # the audit trail's prediction is the equal-weight mixture's mean and standard deviation
    X = torch.as_tensor(np.array([[0.3, 0.6]]), dtype=torch.double)
    alone = [optimizer._predictions([m], X, outputs)["predicted"] for m in (broad, local)]
    mixed = optimizer._predictions([broad, local], X, outputs)["predicted"]
    for name in ("f1", "f2", "size"):
        means = np.array([a[name]["mean"] for a in alone])
        stds = np.array([a[name]["std"] for a in alone])
        assert mixed[name]["mean"] == pytest.approx(means.mean())
        assert mixed[name]["std"] ** 2 == pytest.approx((stds**2).mean() + means.var())
        assert means[0] != pytest.approx(means[1])  # two different beliefs, so the mixture says something


@pytest.mark.parametrize("trend", ["quadratic", "constant"])
def test_objective_and_constraint_gps_carry_the_quadratic_trend_unless_told_otherwise(trend):
    import torch
    from botorch.models import ModelListGP
    from gpytorch.kernels import AdditiveKernel, RBFKernel

    from moo_hpo.optimizers.bayesian import _cached_if_list
    from moo_hpo.optimizers.gp_kernels import QuadraticTrendKernel
    from moo_hpo.optimizers.gp_posterior import StackedCachedGPs

    params = {} if trend == "quadratic" else {"trend": trend}
    study, fn = _study_with_a_failing_half(seed=0, **params)
    study.optimize(fn, n_trials=6, show_progress=False)
    optimizer = study.optimizer
    data = optimizer._data()
    assert data.failures is not None
    model = optimizer._model(data.objectives + data.guards)
    assert isinstance(model, ModelListGP) and len(model.models) == 2  # the objectives' batched GP, the failure GP
    objectives, failures = (m.covar_module for m in model.models)
    if trend == "quadratic":  # the default
        assert type(objectives) is AdditiveKernel
        assert [type(k) for k in objectives.kernels] == [RBFKernel, QuadraticTrendKernel]
    else:
        assert type(objectives) is RBFKernel
    assert type(failures) is RBFKernel  # a failure label is no bowl
    assert isinstance(_cached_if_list(model), StackedCachedGPs)  # the fast posterior serves both
    # the other trend on the same data: its own fit, not the first one's hyperparameters dropped on loading
    optimizer.trend = "constant" if trend == "quadratic" else "quadratic"
    other = optimizer._model(data.objectives + data.guards).models[0].covar_module
    rbf = other if type(other) is RBFKernel else other.kernels[0]
    assert not torch.allclose(rbf.lengthscale, torch.full_like(rbf.lengthscale, rbf.lengthscale_prior.mode))


def test_an_unknown_trend_is_a_config_error():
    with pytest.raises(mh.ConfigError, match="trend must be one of 'constant', 'quadratic'; received 'cubic'"):
        _mixed_study("ehvi", trend="cubic").ask()


def test_parego_takes_the_prior_mixture_when_asked():
    study = _mixed_study("parego", seed=1, prior_mixture=True)
    study.optimize(two_objectives, n_trials=3, show_progress=False)
    audit = study.trials[-1].extra["optimizer"]
    assert audit["acquisition"] == "qLogNParEGO (mean over 2 lengthscale priors)"
    assert math.isfinite(audit["acquisition_value"])

def test_capabilities():
    with pytest.raises(mh.UnsupportedError, match="handles at most 4"):
        mh.Study(mixed_space(), [mh.Minimize(f"f{i}") for i in range(5)], optimizer="ehvi")
    with pytest.raises(mh.UnsupportedError, match="at least 2 objectives"):
        mh.Study(mixed_space(), [mh.Minimize("f1")], optimizer="parego")
    with pytest.raises(mh.UnsupportedError, match="handles at most 1"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer="cei")


# ---------------------------------------------------------------- constrained EI (one objective)
def _cei_study(seed: int = 0, storage=None) -> mh.Study:
    return mh.Study(
        mh.Space({"x": mh.Float(0.0, 1.0)}),
        [mh.Minimize("y")],
        [mh.AtMost("x_metric", 0.5)],
        optimizer=make_optimizer("cei", {"n_init": 3, "num_restarts": 1, "raw_samples": 16, "mc_samples": 16, "maxiter": 20}),
        storage=storage,
        seed=seed,
    )


def _cei_fn(c):
    return {"y": (c["x"] - 0.7) ** 2, "x_metric": c["x"]}


def test_cei_finds_the_constrained_optimum():
    study = _cei_study()
    study.optimize(_cei_fn, n_trials=8, show_progress=False)
    best = min(study.feasible_trials(), key=lambda t: t.metrics["y"])
    assert 0.45 <= best.config["x"] <= 0.5
    model_based = study.trials[3:]
    assert all(t.extra["optimizer"]["acquisition"] == "qLogNEI" for t in model_based)  # one was feasible
    assert sum(abs(t.config["x"] - 0.5) <= 0.05 for t in model_based) >= 3  # it works along the boundary


def test_cei_searches_feasibility_first_when_nothing_is_feasible():
    # both Sobol points of the initial design break x <= 0.25, so the feasible region must be found first
    study = mh.Study(
        mh.Space({"x": mh.Float(0.0, 1.0)}),
        [mh.Minimize("y")],
        [mh.AtMost("x_metric", 0.25)],
        optimizer=make_optimizer("cei", {"n_init": 2, "num_restarts": 2, "raw_samples": 32}),
        seed=2,  # its first Sobol points: x = 0.456, 0.504
    )
    for t in study.ask(2):
        assert t.config["x"] > 0.25
        study.tell(t, _cei_fn(t.config))
    t = study.ask()
    assert t.extra["optimizer"]["acquisition"] == "qLogProbabilityOfFeasibility"
    assert set(t.extra["optimizer"]["predicted"]) == {"x_metric"}
    study.tell(t, _cei_fn(t.config))
    for _ in range(4):
        if study.n_feasible:
            break
        t = study.ask()
        assert t.extra["optimizer"]["acquisition"] == "qLogProbabilityOfFeasibility"
        study.tell(t, _cei_fn(t.config))
    assert study.n_feasible >= 1
    assert study.ask().extra["optimizer"]["acquisition"] == "qLogNEI"


def test_cei_resume_continues_like_an_uninterrupted_run(tmp_path):
    path = tmp_path / "cei.db"
    first = _cei_study(seed=4, storage=path)
    first.optimize(_cei_fn, n_trials=4, show_progress=False)  # 3 Sobol points, then 1 by the model
    first.close()
    resumed = mh.Study.load(path, space=mh.Space({"x": mh.Float(0.0, 1.0)}), optimizer=make_optimizer("cei", _cei_study().optimizer.get_params()))
    resumed.optimize(_cei_fn, n_trials=2, show_progress=False)
    straight = _cei_study(seed=4)
    straight.optimize(_cei_fn, n_trials=6, show_progress=False)
    assert [t.config for t in resumed.trials] == [t.config for t in straight.trials]


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
        data = optimizer._data()
        model = optimizer._model(data.objectives)
        # points across the cube: many improve on nothing measured, and only the acquisition's
        # smoothed tails tell them apart
        X = torch.as_tensor(np.random.default_rng(0).random((16, 1, 2)), dtype=torch.double)
        sampler = SobolQMCNormalSampler(torch.Size([32]), seed=0)
        with torch.no_grad(), _noise_floor():
            return optimizer._acquisition(model, data, None, sampler, seed=0)(X).numpy()

    same, rescaled = acquisition_values(1.0), acquisition_values(1000.0)
    assert np.ptp(same) > 1.0  # the points differ, so the agreement says something
    # in raw units the improving points would all shift by log(1000) but the others by less,
    # which reorders them: the difference must be one constant (here: zero)
    assert np.ptp(rescaled - same) < 1e-3, (rescaled - same).ravel()
    assert np.allclose(same, rescaled, atol=1e-3)


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
    study = _mixed_study("ehvi", seed=1, noiseless=noiseless)
    study.optimize(two_objectives, n_trials=3, show_progress=False)
    assert study.trials[-1].extra["optimizer"]["acquisition"].startswith("qLog")
    assert seen_by_botorch and seen_by_botorch[0] is False
    assert not lock.exists()


# ---------------------------------------------------------------------------- failure model
def _study_with_a_failing_half(seed: int, **params) -> tuple[mh.Study, object]:
    """Every configuration with x > 0.6 fails (say, out of memory); the objectives would pull there."""
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    settings = {"n_init": 4, "num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "maxiter": 30, "noiseless": True}
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {**settings, **params}), seed=seed)

    def fn(c):
        if c["x"] > 0.6:
            raise RuntimeError("out of memory")
        return {"f1": c["x"] + 0.1 * c["y"], "f2": (1.0 - c["x"]) ** 2 + c["y"]}

    return study, fn


def test_failure_model_steers_proposals_away_from_a_region_that_keeps_failing():
    counts = {}
    for model_failures in (True, False):
        study, fn = _study_with_a_failing_half(seed=2, model_failures=model_failures)
        study.optimize(fn, n_trials=16, show_progress=False)
        model_based = study.trials[4:]
        counts[model_failures] = sum(t.status is mh.TrialStatus.FAILED for t in model_based)
        if model_failures:
            probabilities = [t.extra["optimizer"].get("failure_probability") for t in model_based]
            known = [p for p in probabilities if p is not None]
            assert known and all(0.0 <= p <= 1.0 for p in known)
            # recorded from the first failure on; proposals that did fail had been given a higher risk
            failed = [p for t, p in zip(model_based, probabilities) if p is not None and t.status is mh.TrialStatus.FAILED]
            survived = [p for t, p in zip(model_based, probabilities) if p is not None and t.status is mh.TrialStatus.COMPLETE]
            assert not failed or max(failed) > sorted(survived)[len(survived) // 2]
    # without the failure model the unexplored, failing half looks as promising as ever
    assert counts[True] <= 2 < 8 <= counts[False], counts


def test_failure_labels_skip_interrupted_trials_and_need_a_failure_and_a_success():
    from moo_hpo.trial import Trial

    study, _ = _study_with_a_failing_half(seed=0)
    opt = study.optimizer
    opt.setup(study.problem)

    def told(number, status, x, error=None):
        metrics = {"f1": x, "f2": 1.0 - x} if status is mh.TrialStatus.COMPLETE else {}
        return Trial(number=number, config={"x": x, "y": 0.5}, status=status, metrics=metrics, error=error)

    opt.tell([told(0, mh.TrialStatus.COMPLETE, 0.1), told(1, mh.TrialStatus.COMPLETE, 0.2)])
    assert opt._data().failures is None  # no failure yet: nothing to learn
    opt.tell([told(2, mh.TrialStatus.FAILED, 0.9, "interrupted: KeyboardInterrupt (Ctrl-C) while this trial was running")])
    assert opt._data().failures is None  # an interrupted trial says nothing about its configuration
    opt.tell([told(3, mh.TrialStatus.FAILED, 0.8, "RuntimeError: out of memory")])
    failures = opt._data().failures
    assert failures.numbers == (0, 1, 3)
    assert failures.Y.tolist() == [-1.0, -1.0, 1.0]
    assert failures.X[:, 0].tolist() == pytest.approx([0.1, 0.2, 0.8])
    opt.model_failures = False
    assert opt._data().failures is None


def test_model_based_proposals_run_with_single_threaded_blas(monkeypatch):
    """SciPy's L-BFGS-B makes tens of thousands of tiny BLAS calls per ask; threads only synchronize there."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from moo_hpo.optimizers.bayesian import EHVI

    threads = []
    propose = EHVI._model_proposals

    def spy(self, *args, **kwargs):
        threads.append([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"])
        return propose(self, *args, **kwargs)

    monkeypatch.setattr(EHVI, "_model_proposals", spy)
    study = _mixed_study("ehvi")
    with threadpool_limits(limits=2, user_api="blas"):  # what a study gets on a multi-core machine
        study.optimize(two_objectives, n_trials=3, show_progress=False)
        outside = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert outside and all(n == 2 for n in outside)
    assert threads and all(n == 1 for per_ask in threads for n in per_ask)
