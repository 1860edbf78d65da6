"""The Pareto front by a model's estimates: for noisy metrics, where the measured front crowns lucky draws.

:meth:`moo_hpo.Study.pareto_front` keeps the feasible trials that no other feasible trial dominates *as
measured*. With noisy metrics a configuration that drew a lucky measurement gets on that front and one that
drew an unlucky one falls off it. :func:`model_front` judges each trial by a Gaussian process's estimate
instead: one GP per objective (BoTorch's ``SingleTaskGP`` as moo_hpo's Bayesian optimizers fit it, noise
inferred) over every complete trial, and the posterior mean at each trial's configuration, which pools what
its neighbours measured; an objective that the repeats showed exact keeps its measurements. The front is then the
feasible trials whose estimates no other feasible trial's estimates dominate (feasibility as measured). This is what Ax reports as its model-based Pareto frontier.

:func:`front_basis` decides which of the two a study reports by default (:meth:`moo_hpo.Study.pareto_front`):
the model's once the study itself shows that its objectives are noisy, i.e. a configuration measured more than
once (the Bayesian optimizers' noise check, :meth:`moo_hpo.Study.reevaluate`, or the user's own repeat) gave
two different values of an objective; the measured one otherwise. The test is the Bayesian optimizers' own
(:func:`moo_hpo.optimizers.bayesian.noise_check.repeat_verdicts`), so the front and the optimizer's noise
treatment agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from moo_hpo.problem import Problem
from moo_hpo.trial import Trial, TrialStatus, config_key

__all__ = ["BASES", "FIT_ROWS", "MAX_TRIALS", "MIN_TRIALS", "ModelEstimate", "front_basis", "model_front", "objectives_noisy"]

#: complete trials a model needs; with fewer :func:`model_front` returns the measured front
MIN_TRIALS = 3

#: above this many complete trials :func:`front_basis` keeps the measured front: a GP's fit grows with the cube
#: of its data (:func:`model_front` itself still fits one when asked)
MAX_TRIALS = 2000
#: Beyond this many complete trials the GPs' hyperparameters are fitted on this many of them (evenly spread), and the
#: GPs then condition on all: a fit's cost grows with the cube of its rows (a noisy study's report at 400 trials took
#: 11-45 s, most of it in the fit), conditioning once is cheap.
FIT_ROWS = 150

#: what :meth:`moo_hpo.Study.pareto_front` judges the trials by: ``"auto"`` (:func:`front_basis`),
#: ``"measured"`` or ``"model"``
BASES = ("auto", "measured", "model")


@dataclass(frozen=True)
class ModelEstimate:
    """A front member by the model.

    Attributes:
        trial: the trial.
        estimate: objective name -> the model's posterior mean at the trial's configuration, in the metric's
            own units (soft-constraint penalties included, as the model learns them).
        std: objective name -> the posterior standard deviation there.
    """

    trial: Trial
    estimate: dict[str, float]
    std: dict[str, float]


def model_front(problem: Problem, trials: Sequence[Trial], seed: int = 0) -> list[ModelEstimate]:
    """The feasible trials that no other feasible trial dominates by the model's estimates.

    Args:
        problem: the study's problem.
        trials: the study's trials.
        seed: seeds the GP fits.

    Returns:
        The members in trial-number order, each with its estimates, one per configuration (the first trial
        of a configuration that was run several times); with fewer than :data:`MIN_TRIALS`
        complete trials, the measured front with the measurements as estimates (std 0).
    """
    from moo_hpo.analysis import pareto_front
    from moo_hpo.fronts import pareto_mask
    from moo_hpo.optimizers.bayesian.data import training_data
    from moo_hpo.optimizers.bayesian.surrogate import Surrogate, noise_floor

    names = [o.name for o in problem.objectives]
    data = training_data(problem, sorted(trials, key=lambda t: t.number), model_failures=False)
    if len(data.complete) < MIN_TRIALS or not data.feasible:
        measured, seen_configs = [], set()
        for t in pareto_front(problem, trials):
            key = config_key(t.config)
            if key not in seen_configs:  # one member per configuration here too
                seen_configs.add(key)
                measured.append(t)
        return [ModelEstimate(t, {n: float(t.metrics[n]) for n in names}, dict.fromkeys(names, 0.0)) for t in measured]
    import torch

    from moo_hpo.optimizers.bayesian.noise_check import repeat_verdicts

    with noise_floor():
        surrogate = Surrogate(False, "quadratic", seed, "model_front")
        if len(data.complete) > FIT_ROWS:  # hyperparameters from a spread subset, then conditioned on every trial
            surrogate.model([_rows(o, FIT_ROWS) for o in data.objectives])
            model = surrogate.model(data.objectives, refit=False)
        else:
            model = surrogate.model(data.objectives)
        with torch.no_grad():
            posterior = model.posterior(torch.as_tensor(data.X_baseline, dtype=torch.double))
            mean = posterior.mean.numpy().reshape(len(data.complete), -1).copy()
            std = posterior.variance.clamp_min(0.0).sqrt().numpy().reshape(len(data.complete), -1).copy()
    # an objective the repeats showed exact is judged as measured: a model's estimate of it only blurs ties (two
    # trials of one size would be told apart by the model's rounding)
    for (kind, j), exact in repeat_verdicts(data.objectives).items():
        if kind == "objective" and exact:
            mean[:, j], std[:, j] = np.asarray(data.objectives[j].Y, dtype=float), 0.0
    feasible = {t.number for t in data.feasible}
    rows = [i for i, t in enumerate(data.complete) if t.number in feasible]
    F = -mean[rows]  # the internal (minimized) convention
    on = pareto_mask(F)
    out = []
    seen: set[tuple[float, ...]] = set()  # a configuration run several times has one estimate: one member
    for i, keep in zip(rows, on, strict=True):
        config = tuple(np.asarray(data.X_baseline[i], dtype=float).ravel().tolist())
        if keep and config not in seen:
            seen.add(config)
            spec = problem.objectives
            est = {spec[j].name: float(spec[j].from_internal(-mean[i, j])) for j in range(len(spec))}
            out.append(ModelEstimate(data.complete[i], est, {spec[j].name: float(std[i, j]) for j in range(len(spec))}))
    return sorted(out, key=lambda m: m.trial.number)


def _rows(outcome: Any, k: int) -> Any:
    """``outcome`` with ``k`` of its rows, evenly spread over them (in trial order: early and late trials both)."""
    import dataclasses

    keep = np.unique(np.linspace(0, len(outcome.Y) - 1, k).round().astype(int))
    return dataclasses.replace(outcome, numbers=tuple(outcome.numbers[i] for i in keep), X=outcome.X[keep], Y=outcome.Y[keep])


def objectives_noisy(problem: Problem, trials: Sequence[Trial]) -> bool | None:
    """Whether the study's objectives are noisy, as its repeated configurations show.

    Args:
        problem: the study's problem.
        trials: the study's trials.

    Returns:
        True when some objective differed between two complete runs of one configuration (by more than the
        noise check's tolerance), False when every repeat measured the same values, None when no
        configuration has two complete runs.
    """
    from moo_hpo.optimizers.base import config_key
    from moo_hpo.optimizers.bayesian.data import training_data
    from moo_hpo.optimizers.bayesian.noise_check import repeat_verdicts

    complete = [t for t in trials if t.status is TrialStatus.COMPLETE]
    if len({config_key(t.config) for t in complete}) == len(complete):  # no repeat: nothing more to look at
        return None
    data = training_data(problem, sorted(complete, key=lambda t: t.number), model_failures=False)
    verdicts = repeat_verdicts(data.objectives)
    return None if not verdicts else not all(verdicts.values())


def front_basis(problem: Problem, trials: Sequence[Trial]) -> str:
    """What a study's front is judged by when nobody says: ``"model"`` when :func:`objectives_noisy` is True
    and at most :data:`MAX_TRIALS` trials are complete, else ``"measured"``."""
    if not objectives_noisy(problem, trials):
        return "measured"
    complete = sum(1 for t in trials if t.status is TrialStatus.COMPLETE)
    return "model" if complete <= MAX_TRIALS else "measured"
