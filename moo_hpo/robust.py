"""Noisy metrics: repeated runs of the front's configurations, and the front as their means say it.

Under noise one run of a configuration can land far from what the configuration gives on average, and the
Pareto front of single runs (:meth:`moo_hpo.Study.pareto_front`) favours such lucky draws: the luckier a
run, the likelier it is on the front. This module does two things about it.

* :func:`reevaluate` (behind :meth:`moo_hpo.Study.reevaluate`) runs the front's configurations again, each
  repetition a trial of its own with its own seed, linked to the original by ``extra["repeat_of"]``. The
  repetitions go through :meth:`~moo_hpo.Study.optimize`'s loop (workers, timeouts, Dask, pruning, Ctrl-C):
  while they run, a stand-in proposes them in the study's optimizer's place and passes every result on to
  the study's optimizer, which thus sees each repetition as a resumed study later will (every optimizer
  skips configurations it already holds, so none proposes a repeated configuration as new).
* :func:`robust_front` (behind :meth:`moo_hpo.Study.robust_front`) groups each configuration's original trial
  with its repetitions and gives, per configuration, the mean and standard deviation of every objective over
  its runs, and the probability that another member of the view dominates it (see :func:`robust_front` for
  the method).

A repetition of :meth:`~moo_hpo.Study.reevaluate` has ``Trial.optimizer`` ``"reevaluate"`` (a Bayesian
optimizer's noise check, which measures one configuration again, is linked by ``repeat_of`` too); the
original's ``extra["optimizer"]`` keeps the proposal's audit trail, so a Bayesian optimizer's prediction for
it, made before it ran, is shown beside the measured mean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.analysis import least_violating_error, pareto_front
from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers.base import Optimizer, Proposal
from moo_hpo.seeding import derive_seed
from moo_hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from moo_hpo.problem import Problem
    from moo_hpo.study import Callback, Study

__all__ = [
    "DEFAULT_DRAWS",
    "P_DOMINATED_METHOD",
    "REEVALUATE",
    "REPEAT_OF",
    "RobustMember",
    "configurations_to_repeat",
    "has_repeats",
    "p_dominated",
    "reevaluate",
    "robust_front",
    "root_number",
]

#: The ``extra`` key that links a repetition to its original trial (the original's number).
REPEAT_OF = "repeat_of"
#: The ``Trial.optimizer`` name of repetitions.
REEVALUATE = "reevaluate"
#: Monte Carlo draws of :func:`robust_front` (a probability to within about 0.01).
DEFAULT_DRAWS = 4000
#: The part of the seed of :func:`robust_front`'s draws that keeps it apart from every other use.
_ROBUST_SEED_TAG = 13

#: How :func:`robust_front` estimates the probability of being dominated, in words (for reports).
P_DOMINATED_METHOD = (
    "P(dominated) is the share of seeded Monte Carlo draws in which another configuration of this view "
    "dominates this one, each configuration's mean objective values drawn from a normal distribution around its "
    "measured mean with its standard error (its runs' standard deviation divided by the square root of its runs; "
    "for a configuration run once, the standard deviation pooled over the configurations run more than once)."
)


@dataclass(frozen=True)
class RobustMember:
    """One configuration of the robust view: its runs summarized.

    Attributes:
        number: the original trial's number (the one a repetition's ``extra["repeat_of"]`` names).
        config: the configuration.
        trials: the numbers of the complete runs summarized, the original first.
        repeats: the numbers of every repetition of it, whatever became of them (failed ones included).
        runs: how many complete runs are summarized (``len(trials)``).
        feasible_runs: how many of them satisfy every hard constraint.
        mean: objective name -> mean over the runs, in the metric's own units.
        std: objective name -> standard deviation over the runs (``ddof=1``); None with a single run.
        p_dominated: the probability that another member dominates it (see :func:`robust_front`); None while no
            configuration was run more than once (no noise estimate).
        on_front: whether one of its runs is on the single-run front (:meth:`moo_hpo.Study.pareto_front`).
        predicted: objective name -> ``{"mean", "std"}``, the Bayesian optimizer's prediction for the original
            trial, made when it proposed it (before it ran; soft-constraint penalties included, as the model
            learns them); None when the configuration was not proposed by a model.
    """

    number: int
    config: dict[str, Any]
    trials: tuple[int, ...]
    repeats: tuple[int, ...]
    runs: int
    feasible_runs: int
    mean: dict[str, float]
    std: dict[str, float] | None
    p_dominated: float | None
    on_front: bool
    predicted: dict[str, dict[str, float]] | None

    def to_dict(self) -> dict[str, Any]:
        """The member as JSON-able data (lists for the tuples)."""
        return {
            "number": self.number, "config": dict(self.config), "trials": list(self.trials), "repeats": list(self.repeats),
            "runs": self.runs, "feasible_runs": self.feasible_runs, "mean": dict(self.mean),
            "std": None if self.std is None else dict(self.std), "p_dominated": self.p_dominated, "on_front": self.on_front,
            "predicted": None if self.predicted is None else {k: dict(v) for k, v in self.predicted.items()},
        }


def root_number(trial: Trial) -> int:
    """The number of the original trial of ``trial``'s configuration: its ``extra["repeat_of"]``, else its own."""
    link = trial.extra.get(REPEAT_OF) if isinstance(trial.extra, dict) else None
    return link if isinstance(link, int) and not isinstance(link, bool) and 0 <= link < trial.number else trial.number


def _check_positive(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer{' or None' if allow_none else ''}; received {value!r}")


# ---------------------------------------------------------------------------------------------- reevaluate
class _RepeatRuns(Optimizer):
    """Stands in for the study's optimizer while repetitions run: proposes the queued configurations in order
    and passes every told trial on to ``inner``, the study's optimizer."""

    name = REEVALUATE

    def __init__(self, queue: list[Proposal], inner: Optimizer) -> None:
        self.queue = queue
        self.inner = inner

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        taken, self.queue = self.queue[:n], self.queue[n:]
        return [Proposal(dict(p.config), dict(p.extra)) for p in taken]

    def tell(self, trials: Sequence[Trial]) -> None:
        self.inner.tell(trials)


def configurations_to_repeat(study: Study, top_k: int | None = None) -> list[Trial]:
    """The original trials of the front's configurations, by exclusive hypervolume contribution (largest first).

    A front trial that is itself a repetition stands for its original. Ties keep trial-number order.

    Args:
        study: the study.
        top_k: keep this many configurations (None: all of the front's).

    Returns:
        The original trials, at most ``top_k``.

    Raises:
        ConfigError: for a ``top_k`` that is not a positive integer or None.
        NoFeasibleTrialError: when no trial completed, or none is feasible (naming the least violating one).
    """
    _check_positive("top_k", top_k, allow_none=True)
    front = study.pareto_front(by="measured")  # the runs that may be lucky draws: the ones to run again
    if not front:
        raise least_violating_error(study.problem, study.trials, "reevaluate needs a Pareto front to run again")
    contributions = study.hypervolume_contributions()
    ranked = sorted(front, key=lambda t: (-contributions.get(t.number, 0.0), t.number))
    roots = list(dict.fromkeys(root_number(t) for t in ranked))
    return [study.trial(n) for n in roots[:top_k]]


def reevaluate(
    study: Study,
    fn: Callable[..., Any],
    top_k: int | None = None,
    repeats: int = 3,
    n_workers: int = 1,
    callbacks: Iterable[Callback] = (),
    **options: Any,
) -> list[Trial]:
    """Run the front's configurations (or the ``top_k`` of them) ``repeats`` more times each (see
    :meth:`moo_hpo.Study.reevaluate`).

    Repetitions are queued round by round (every configuration's first repetition, then every second one ...),
    so a study stopped early has repeated each configuration about equally often.

    Args:
        study: the study (writable).
        fn: the objective, as for :meth:`~moo_hpo.Study.optimize`.
        top_k: how many of the front's configurations, largest hypervolume contribution first (None: all).
        repeats: runs per configuration, on top of the ones it has.
        n_workers: trials evaluated at once.
        callbacks: ``callback(study, trial)`` after every finished repetition.
        **options: the other keyword arguments of :meth:`~moo_hpo.Study.optimize` (``timeout``,
            ``show_progress``, ``catch``, ``trial_timeout``, ``build``, ``probes``, ``executor``, ``resources``,
            ``retries``, ``max_trials_per_worker``).

    Returns:
        The repetitions recorded by this call, in number order.

    Raises:
        ConfigError: for a bad ``repeats``, ``top_k`` or option.
        NoFeasibleTrialError: when the study has no feasible complete trial, so no front.
        StorageError: when the study is open read-only.
    """
    from moo_hpo.execution.loop import run_optimize

    study._writable()
    _check_positive("repeats", repeats)
    allowed = ("timeout", "show_progress", "catch", "trial_timeout", "build", "probes", "executor", "resources", "retries",
               "max_trials_per_worker")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"reevaluate takes optimize's options {list(allowed)}; received {unknown}")
    originals = configurations_to_repeat(study, top_k)
    queue = [Proposal(dict(t.config), {REPEAT_OF: t.number}) for _ in range(repeats) for t in originals]
    inner = study._use_optimizer()  # set up (and recorded) first: repetitions are told to it as they finish
    first = len(study.trials)
    study._optimizer = _RepeatRuns(queue, inner)
    try:  # a repetition runs to the end (the pruner never judges a repeated run: it would keep lucky runs only)
        run_optimize(study, fn, len(queue), n_workers=n_workers, callbacks=callbacks, **options)
    finally:
        study._optimizer = inner
    return [t for t in study.trials[first:] if t.optimizer == REEVALUATE]


# ---------------------------------------------------------------------------------------------- robust view
def _groups(trials: Sequence[Trial]) -> dict[int, list[Trial]]:
    """Original trial number -> the original and its repetitions, in number order."""
    groups: dict[int, list[Trial]] = {}
    for t in trials:
        groups.setdefault(root_number(t), []).append(t)
    return groups


def _prediction(trial: Trial, names: Sequence[str]) -> dict[str, dict[str, float]] | None:
    """The objectives' predicted mean and std from ``trial``'s audit trail, or None."""
    audit = trial.extra.get("optimizer") if isinstance(trial.extra, dict) else None
    predicted = audit.get("predicted") if isinstance(audit, dict) else None
    if not isinstance(predicted, Mapping):
        return None
    out = {}
    for name in names:
        p = predicted.get(name)
        if isinstance(p, Mapping) and isinstance(p.get("mean"), (int, float)) and isinstance(p.get("std"), (int, float)):
            out[name] = {"mean": float(p["mean"]), "std": float(p["std"])}
    return out or None


def p_dominated(
    means: np.ndarray, errors: np.ndarray, draws: int, seed: int, can_dominate: np.ndarray | None = None
) -> np.ndarray:
    """Monte Carlo probability that each row's mean is dominated by another row's (internal convention).

    Args:
        means: mean objective values, ``(n, m)``, minimized.
        errors: their standard errors, ``(n, m)`` (0: known exactly).
        draws: Monte Carlo draws.
        seed: the draws' seed.
        can_dominate: ``(n,)`` booleans: the rows that may dominate others (None: all), e.g. only the
            configurations whose runs are mostly feasible.

    Returns:
        ``(n,)`` probabilities: the share of draws (each row drawn from ``N(means, errors**2)``, independently)
        in which some other row allowed to dominate is at most as large in every objective and smaller in one.
    """
    rng = np.random.default_rng(seed)
    samples = means[None] + errors[None] * rng.standard_normal((draws, *means.shape))
    allowed = np.ones(len(means), dtype=bool) if can_dominate is None else np.asarray(can_dominate, dtype=bool)
    out = np.zeros(len(means))
    for i in range(len(means)):
        mine = samples[:, i : i + 1, :]
        dominated_by = (samples <= mine).all(axis=2) & (samples < mine).any(axis=2)
        dominated_by[:, i] = False
        dominated_by[:, ~allowed] = False
        out[i] = float(dominated_by.any(axis=1).mean())
    return out


def robust_front(problem: Problem, trials: Sequence[Trial], draws: int = DEFAULT_DRAWS) -> list[RobustMember]:
    """The configurations of the front with every run of them summarized (see :meth:`moo_hpo.Study.robust_front`).

    Members: every configuration with a run on the single-run Pareto front, and every configuration that was
    run again (so a configuration whose mean is good stays in view after a lucky newcomer displaced its runs
    from the single-run front). A configuration is its original trial and the trials linked to it by
    ``extra["repeat_of"]``; only complete runs are summarized.

    **P(dominated)**: a Monte Carlo estimate, seeded from the study's seed. In each of ``draws`` draws, every
    member's mean objective vector is drawn from independent normal distributions around its measured mean with
    its standard error: its runs' sample standard deviation over the square root of its runs, or, for a member
    run once, the standard deviation pooled over the members run more than once (noise assumed alike across
    configurations). P(dominated) is the share of draws in which another member is at least as good in every
    objective and better in one. With no member run more than once there is no noise estimate, and it is None.
    The original run of a member was on the front because it came out well, so the mean over its runs still
    leans towards that run; more repeats dilute it.

    Args:
        problem: the study's problem.
        trials: the study's trials.
        draws: Monte Carlo draws.

    Returns:
        One :class:`RobustMember` per configuration, by original trial number; empty when no trial is feasible.

    Raises:
        ConfigError: for a ``draws`` that is not a positive integer.
    """
    _check_positive("draws", draws)
    front = pareto_front(problem, trials)
    groups = _groups(trials)
    on_front = {root_number(t) for t in front}
    chosen = sorted(on_front | _repeated(groups))
    names = [o.name for o in problem.objectives]
    rows = []
    for number in chosen:
        runs = [t for t in groups[number] if t.status is TrialStatus.COMPLETE]
        Y = problem.objective_matrix(runs)
        runs = [t for t, ok in zip(runs, np.isfinite(Y).all(axis=1), strict=True) if ok]
        if runs:
            rows.append((number, runs, Y[np.isfinite(Y).all(axis=1)]))
    if not rows:
        return []
    # from each member's first run, so that identical runs give an exact mean and a standard deviation of 0
    means = np.array([Y[0] + (Y - Y[0]).mean(axis=0) for _, _, Y in rows])
    stds = np.array([(Y - Y[0]).std(axis=0, ddof=1) if len(Y) > 1 else np.full(len(names), np.nan) for _, _, Y in rows])
    counts = np.array([len(Y) for _, _, Y in rows])
    probabilities: list[float | None] = [None] * len(rows)
    repeated = counts > 1
    if repeated.any():
        pooled = np.sqrt(((counts[repeated, None] - 1) * stds[repeated] ** 2).sum(axis=0) / (counts[repeated] - 1).sum())
        errors = np.where(repeated[:, None], stds / np.sqrt(counts)[:, None], pooled[None, :])
        # a configuration whose runs are mostly infeasible is no proof that another one is dominated
        mostly_feasible = np.array([2 * sum(problem.is_feasible(t) for t in runs) > len(runs) for _, runs, _ in rows])
        probabilities = [
            float(p) for p in p_dominated(means, errors, draws, derive_seed(problem.seed, _ROBUST_SEED_TAG), mostly_feasible)
        ]
    members = []
    for (number, runs, _), mean, std, p in zip(rows, means, stds, probabilities, strict=True):
        original = groups[number][0]
        members.append(RobustMember(
            number=number,
            config=dict(original.config),
            trials=tuple(t.number for t in runs),
            repeats=tuple(t.number for t in groups[number] if t.number != number),
            runs=len(runs),
            feasible_runs=sum(problem.is_feasible(t) for t in runs),
            mean={o.name: o.from_internal(float(v)) for o, v in zip(problem.objectives, mean, strict=True)},
            std=None if len(runs) < 2 else {n: float(s) for n, s in zip(names, std, strict=True)},
            p_dominated=p,
            on_front=number in on_front,
            predicted=_prediction(original, names),
        ))
    return members


def _repeated(groups: Mapping[int, list[Trial]]) -> set[int]:
    """The original numbers of the configurations that were run again."""
    return {n for n, g in groups.items() if any(t.number != n for t in g)}


def judged_configurations(problem: Problem, trials: Sequence[Trial],
                          feasible_only: bool = True) -> list[tuple[Trial, Trial, int, dict[str, int]]]:
    """The feasible configurations (every complete one with ``feasible_only=False``), in original-number order, each
    as (a stand-in trial carrying the figures it is judged on, its original trial, how many runs the figures
    summarize, per metric how many of them measured it).

    A configuration run once is its own trial. One run more than once (linked by ``extra["repeat_of"]``) is judged
    on the mean of each metric over its runs that measured it, feasible when that mean is within every hard
    constraint; its stand-in is a copy of its first complete run with those means. A run skipped before training
    (its re-measured size or latency broke a hard bound) counts in the means of what it measured, so a configuration
    is not judged on its one lucky run; the run count includes it, and the per-metric counts say how many runs each
    mean is of (:func:`runs_phrase` words them). Device sizing and the recommendations judge configurations so, so that
    a lucky run of a configuration is not chosen for its luck.
    """
    import copy
    import math

    groups: dict[int, list[Trial]] = {}
    for t in trials:
        if t.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE_SKIPPED):
            groups.setdefault(root_number(t), []).append(t)
    out: list[tuple[Trial, Trial, int, dict[str, int]]] = []
    for _, runs in sorted(groups.items()):
        complete = [t for t in runs if t.status is TrialStatus.COMPLETE]
        if not complete:  # never trained: no configuration to judge
            continue
        original = complete[0]
        if len(runs) > 1:
            names = {m for t in runs for m in t.metrics}
            measured = {m: [t.metrics[m] for t in runs if m in t.metrics and math.isfinite(t.metrics[m])] for m in sorted(names)}
            # from the first run, so that identical runs give their value exactly
            means = {m: values[0] + float(np.mean([v - values[0] for v in values])) for m, values in measured.items() if values}
            counts = {m: len(values) for m, values in measured.items() if values}
            figures = copy.copy(original)
            figures.metrics = means
        else:
            figures, counts = original, {m: 1 for m in original.metrics}
        if not feasible_only or problem.is_feasible(figures):
            out.append((figures, original, len(runs), counts))
    return out


def runs_phrase(count: int, runs: int) -> str:
    """How many runs a figure is the mean of, for a reason's text: ``"mean of 3 runs"``, or where fewer measured it (a
    repeat skipped before training measured no accuracy) ``"mean of 2 of 3 runs"``, ``"one of 3 runs"``; ``""`` for a
    configuration run once."""
    if runs <= 1:
        return ""
    if count >= runs:
        return f"mean of {runs} runs"
    return f"one of {runs} runs" if count == 1 else f"mean of {count} of {runs} runs"


def has_repeats(trials: Sequence[Trial]) -> bool:
    """Whether any trial is a repetition of another."""
    return any(root_number(t) != t.number for t in trials)
