"""The front by a model's estimates (Study.model_front): noisy draws do not decide it."""

from __future__ import annotations

import numpy as np

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
