"""The front by a model's estimates (Study.model_front): noisy draws do not decide it."""

from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh


def _study(noise: float, seed: int = 0) -> tuple[mh.Study, dict[int, np.ndarray]]:
    """A smooth two-objective problem measured with Gaussian noise; returns the true values per trial."""
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a", ref=3.0), mh.Minimize("b", ref=3.0)], optimizer="sobol", seed=seed)
    rng = np.random.default_rng(seed)
    truth = {}
    for _ in range(40):
        t = study.ask()
        x, y = t.config["x"], t.config["y"]
        f = np.array([x + 2.0 * y, 1.0 - x + 2.0 * y])  # the true front: y = 0
        truth[t.number] = f
        study.tell(t, {"a": float(f[0] + rng.normal(0, noise)), "b": float(f[1] + rng.normal(0, noise))})
    return study, truth


def test_with_noise_the_model_front_keeps_configurations_that_are_truly_good():
    worse_measured, worse_model = 0, 0
    for seed in range(3):
        study, truth = _study(noise=0.15, seed=seed)
        measured = study.pareto_front()
        by_model = study.model_front()
        assert by_model and all(set(m.estimate) == {"a", "b"} and m.std["a"] > 0 for m in by_model)
        # how far, in truth, the members are from the true front (y = 0 gives a + b = 1)
        worse_measured += np.mean([truth[t.number].sum() - 1.0 for t in measured])
        worse_model += np.mean([truth[m.trial.number].sum() - 1.0 for m in by_model])
    assert worse_model < worse_measured


def test_without_noise_the_model_front_is_the_measured_front_up_to_smoothing():
    study, _ = _study(noise=0.0)
    measured = {t.number for t in study.pareto_front()}
    by_model = {m.trial.number for m in study.model_front()}
    assert len(measured & by_model) >= 0.8 * len(measured)


def test_too_few_trials_give_the_measured_front():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="sobol", seed=0)
    t = study.ask()
    study.tell(t, {"a": 1.0, "b": 2.0})
    (only,) = study.model_front()
    assert only.trial.number == t.number and only.estimate == {"a": 1.0, "b": 2.0} and only.std == {"a": 0.0, "b": 0.0}


def _repeat(study: mh.Study, shift: dict[str, float]) -> mh.Trial:
    """Run the measured front's largest contributor once more (as the noise check or a user's repeat does),
    measuring its first values plus ``shift``; returns the repetition."""
    first = {tuple(sorted(t.config.items())): t.metrics for t in study.trials}

    def again(config: dict) -> dict[str, float]:
        return {k: first[tuple(sorted(config.items()))][k] + d for k, d in shift.items()}

    (repetition,) = study.reevaluate(again, top_k=1, repeats=1, show_progress=False)
    return repetition


def test_the_front_is_judged_by_the_model_once_a_repeat_shows_noise():
    study, _ = _study(noise=0.15, seed=1)
    measured = study.pareto_front(by="measured")
    assert study.front_basis() == "measured" and study.pareto_front() == measured  # no repeat: no evidence
    _repeat(study, {"a": 0.2, "b": -0.1})
    assert study.front_basis() == "model"
    by_model = [m.trial for m in study.model_front()]
    assert study.pareto_front() == by_model == study.pareto_front(by="model")
    assert study.pareto_front() != study.pareto_front(by="measured")


def test_a_repeat_that_measures_the_same_keeps_the_measured_front():
    study, _ = _study(noise=0.0, seed=2)
    _repeat(study, {"a": 0.0, "b": 0.0})
    assert study.front_basis() == "measured"
    assert study.pareto_front() == study.pareto_front(by="measured")


def test_with_noise_the_default_front_deploys_more_true_hypervolume_than_the_measured_one():
    from moo_hpo.fronts import hypervolume

    gains = []
    for seed in range(6):
        study, truth = _study(noise=0.15, seed=seed)
        repetition = _repeat(study, {"a": 0.15, "b": 0.15})
        truth[repetition.number] = truth[repetition.extra["repeat_of"]]
        true_hv = [
            hypervolume(np.array([truth[t.number] for t in front]), np.array([3.0, 3.0]))
            for front in (study.pareto_front(by="measured"), study.pareto_front())
        ]
        gains.append(true_hv[1] - true_hv[0])
    assert min(gains) > -1e-9 and sum(gains) > 0.1


def test_the_model_front_is_fitted_once_per_state_of_the_study():
    study, _ = _study(noise=0.15)
    first = study.model_front()
    again = study.model_front()
    assert again is not first and all(a is b for a, b in zip(again, first, strict=True))  # the same fit, a new list
    t = study.ask()
    study.tell(t, {"a": -5.0, "b": -5.0})  # far better than any other: on the front of a refitted model
    assert any(m.trial.number == t.number for m in study.model_front())


def test_an_unknown_basis_is_a_config_error():
    study, _ = _study(noise=0.0)
    with pytest.raises(mh.ConfigError, match=r"one of \['auto', 'measured', 'model'\]; received 'best'"):
        study.pareto_front(by="best")


def test_a_configuration_run_several_times_is_one_member():
    study, _ = _study(noise=0.15, seed=1)
    rng = np.random.default_rng(5)

    def again(c):
        return {"a": c["x"] + 2.0 * c["y"] + rng.normal(0, 0.15), "b": 1.0 - c["x"] + 2.0 * c["y"] + rng.normal(0, 0.15)}

    repeated = study.reevaluate(again, top_k=2, repeats=2, show_progress=False)
    assert study.front_basis() == "model"
    configs = [tuple(sorted(m.trial.config.items())) for m in study.model_front()]
    assert len(configs) == len(set(configs))
    runs = {tuple(sorted(t.config.items())) for t in repeated}
    assert len(runs) == 2 and all(sum(c == r for c in configs) <= 1 for r in runs)


def test_an_objective_the_repeats_show_exact_is_judged_as_measured():
    from tests.conftest import noisy_latency_study

    study = noisy_latency_study(seed=0, top_k=1)  # accuracy and size exact, latency noisy
    assert study.front_basis() == "model"
    members = study.model_front()
    for m in members:  # exact objectives carry their measurements, with no spread
        assert m.estimate["accuracy"] == m.trial.metrics["accuracy"] and m.std["size_kb"] == 0.0
    for a in members:  # none beaten: a member of the same size is never less accurate and slower by the model
        for b in members:
            if a is not b and a.estimate["size_kb"] == b.estimate["size_kb"]:
                assert not (a.estimate["accuracy"] <= b.estimate["accuracy"] and a.estimate["latency_ms"] >= b.estimate["latency_ms"])


def test_beyond_fit_rows_the_hyperparameters_are_fitted_on_a_spread_subset_and_the_front_holds(monkeypatch):
    from moo_hpo import model_front
    from moo_hpo.optimizers.bayesian.surrogate import Surrogate

    fitted_rows = []
    original = Surrogate._fit

    def recording(self, model, seed, warm):
        fitted_rows.append(model.train_inputs[0].shape[-2])
        return original(self, model, seed, warm)

    monkeypatch.setattr(Surrogate, "_fit", recording)
    study, truth = _study(noise=0.15, seed=1)
    whole = {m.trial.number: m for m in study.model_front()}  # 40 trials: fitted on all
    assert max(fitted_rows) == 40
    fitted_rows.clear()
    monkeypatch.setattr(model_front, "FIT_ROWS", 20)
    again, _ = _study(noise=0.15, seed=1)
    subset = {m.trial.number: m for m in again.model_front()}
    assert fitted_rows and max(fitted_rows) <= 20  # no fit on more rows than FIT_ROWS
    assert len(set(whole) & set(subset)) >= 0.7 * len(whole)  # mostly the same members
    for n in set(whole) & set(subset):  # estimates close, conditioned on every trial
        assert subset[n].estimate["a"] == pytest.approx(whole[n].estimate["a"], abs=0.15)


def test_a_recommendation_says_it_judged_the_measured_front_where_the_study_s_front_is_the_model_s():
    # the knee said "the front has 3 points" beside a printed (model) front of 4
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="sobol", seed=0)
    for a in (0.0, 1.0):
        study.tell(study.ask(), {"a": a, "b": 1.0 - a})
    assert "knee: none to find, the front has 2 points" in study.recommend("knee").reason
    _repeat(study, {"a": 0.1, "b": -0.05})
    assert study.front_basis() == "model"
    assert ("knee: none to find, the front of the measured figures (a configuration's runs averaged) has 2 points"
            in study.recommend("knee").reason)
