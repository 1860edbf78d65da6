"""The training data: what the GPs see, rebuilt from the told trials at every ask.

Inputs are :meth:`moo_hpo.space.Space.encode` of each configuration (BoTorch's domain is that unit cube).
Outcomes follow BoTorch's conventions: objectives negated (BoTorch maximizes), constraint values ``g`` as
they are (``g <= 0`` feasible, which BoTorch also reads as feasible), and a failure label of ``+1`` per
failed trial and ``-1`` per trial that did not fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from moo_hpo.problem import Problem
from moo_hpo.trial import Trial, TrialStatus

__all__ = [
    "WINSORIZE_MIN_ROWS",
    "Outcome",
    "TrainingData",
    "bilog",
    "bilog_constraints",
    "bilog_scale",
    "inverse_bilog",
    "training_data",
    "tukey_cutoff",
    "winsorized",
]

#: values an outcome needs before its tail is clipped (quartiles of fewer say little)
WINSORIZE_MIN_ROWS = 4


@dataclass
class Outcome:
    """Training data of one modelled outcome (one GP).

    Attributes:
        kind: ``"objective"``, ``"constraint"`` or ``"failure"``.
        index: position among the objectives or among the hard constraints (0 for the failure label).
        numbers: trial numbers of the rows, ascending.
        X: encoded inputs, ``(n, n_encoded)``.
        Y: the outcome in BoTorch's convention, ``(n,)``.
        bilog: whether ``Y`` holds :func:`bilog` of the values divided by ``scale`` (a model of it predicts in
            those units; :meth:`measured` maps back).
        scale: the divisor of the values before :func:`bilog` (1 unless ``bilog``).
        raw: with ``bilog``, the values before it (what :meth:`head` rescales exactly).
    """

    kind: str
    index: int
    numbers: tuple[int, ...]
    X: np.ndarray
    Y: np.ndarray
    bilog: bool = False
    scale: float = 1.0
    raw: np.ndarray | None = None

    def measured(self, values: np.ndarray) -> np.ndarray:
        """Values in this outcome's modelled units mapped back to the units it was measured in."""
        values = np.asarray(values, dtype=float)
        if not self.bilog:
            return values
        with np.errstate(over="ignore"):  # a prediction far beyond every value: the largest finite number
            return np.clip(self.scale * inverse_bilog(values), -np.finfo(float).max, np.finfo(float).max)

    def head(self, rows: int) -> np.ndarray:
        """``Y`` of the first ``rows`` rows as a fit on them alone sees them: on the bilog scale, in units of their own
        :func:`bilog_scale` (the scale of all rows moves as trials arrive; a GP fitted on the first rows, a
        checkpoint, then fits alike whenever it is fitted: in an uninterrupted study or in a resumed one)."""
        if not self.bilog:
            return self.Y[:rows]
        g = self.raw[:rows] if self.raw is not None else self.measured(self.Y[:rows])
        return bilog(g / bilog_scale(g))


@dataclass
class TrainingData:
    """Every outcome's training data.

    Attributes:
        objectives: one outcome per objective, rows: the complete trials with finite objectives.
        constraints: one outcome per hard constraint, rows: the trials that measured it (complete or
            ``infeasible_skipped``).
        X_baseline: inputs of the complete trials (the noisy criteria's baseline).
        any_feasible: whether a complete trial is feasible.
        complete: the complete trials with finite objectives, in trial-number order.
        feasible: the feasible ones among them.
        failures: the failure label of every told trial that was not interrupted, when both labels occur
            (and the failure model is on); else None.
    """

    objectives: list[Outcome]
    constraints: list[Outcome]
    X_baseline: np.ndarray
    any_feasible: bool
    complete: list[Trial] = field(default_factory=list)
    feasible: list[Trial] = field(default_factory=list)
    failures: Outcome | None = None

    @property
    def guards(self) -> list[Outcome]:
        """The outcomes a candidate must keep ``<= 0``: the hard constraints, then the failure label."""
        return self.constraints + ([self.failures] if self.failures is not None else [])


def training_data(problem: Problem, told: Sequence[Trial], model_failures: bool) -> TrainingData:
    """Training data of every outcome from the told trials.

    Args:
        problem: the study's problem.
        told: the finished trials, in trial-number order.
        model_failures: whether to build the failure label.

    Returns:
        The data; rows in trial-number order.
    """
    space = problem.space
    trials = list(told)
    complete = [t for t in trials if t.status is TrialStatus.COMPLETE]
    F = problem.objective_matrix(complete, penalized=True)
    ok = np.isfinite(F).all(axis=1)
    complete = [t for t, good in zip(complete, ok, strict=True) if good]
    F = F[ok]
    X_complete = space.encode([t.config for t in complete]) if complete else np.empty((0, space.n_encoded))
    numbers = tuple(t.number for t in complete)
    objectives = [Outcome("objective", j, numbers, X_complete, -F[:, j]) for j in range(problem.n_objectives)]
    measured = [t for t in trials if t.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE_SKIPPED)]
    G = problem.constraint_matrix(measured)
    constraints = []
    for i, c in enumerate(problem.hard_constraints):
        rows = [(t, g) for t, g in zip(measured, G[:, i], strict=True) if np.isfinite(g)]
        rows += [(t, g) for t in trials if (g := _stopped_for_breaking(t, c)) is not None]
        rows.sort(key=lambda row: row[0].number)
        X = space.encode([t.config for t, _ in rows]) if rows else np.empty((0, space.n_encoded))
        constraints.append(Outcome("constraint", i, tuple(t.number for t, _ in rows), X, np.array([g for _, g in rows], dtype=float)))
    feasible = [t for t in complete if problem.is_feasible(t)]
    failures = _failure_outcome(problem, trials) if model_failures else None
    return TrainingData(objectives, constraints, X_complete, bool(feasible), complete, feasible, failures)


def _stopped_for_breaking(trial: Trial, constraint: Any) -> float | None:
    """The constraint value of a pruned trial whose last report broke that hard bound, else None.

    The pruner stops such a trial at once (a size or latency that training does not change), so the report is its
    measurement of that metric: without it, a region the pruner stops every trial of would look unexplored to the
    constraint model, which would keep proposing it.
    """
    if trial.status is not TrialStatus.PRUNED or not trial.reports:
        return None
    value = trial.reports[-1].get("metrics", {}).get(constraint.name)
    if value is None or not np.isfinite(value):
        return None
    g = constraint.value(float(value))
    return g if g > 0 else None


def _failure_outcome(problem: Problem, trials: list[Trial]) -> Outcome | None:
    """The failure label of every told trial (``+1`` failed, ``-1`` did not), or None unless both occur.

    An ``interrupted`` trial (the study stopped while it ran) or a ``pruned`` one (stopped early by the
    pruner) says nothing about whether its configuration fails, and is left out.
    """
    rows = [t for t in trials if t.status not in (TrialStatus.INTERRUPTED, TrialStatus.PRUNED)]
    labels = np.array([1.0 if t.status is TrialStatus.FAILED else -1.0 for t in rows])
    if not (labels > 0).any() or not (labels < 0).any():
        return None
    X = problem.space.encode([t.config for t in rows])
    return Outcome("failure", 0, tuple(t.number for t in rows), X, labels)


def tukey_cutoff(values: np.ndarray, bound: float | None = None) -> float | None:
    """The value above which a minimized outcome is clipped: Ax's automatic winsorization rule.

    ``max(q3, bound) + 1.5 * (max(q3, bound) - q1)`` over the quartiles of ``values`` (a Tukey fence that
    never reaches below ``bound``: the reference point of an objective, 0 for a constraint ``g <= 0``);
    without a bound, ``q3 + 1.5 * (q3 - q1)``.

    Returns:
        The cutoff, or None with fewer than :data:`WINSORIZE_MIN_ROWS` finite values.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < WINSORIZE_MIN_ROWS:
        return None
    q1 = float(np.percentile(values, 25, method="lower"))
    q3 = float(np.percentile(values, 75, method="higher"))
    top = q3 if bound is None else max(q3, float(bound))
    return top + 1.5 * (top - q1)


def winsorized(data: TrainingData, reference: np.ndarray | None) -> TrainingData:
    """The data with each objective's and hard constraint's bad tail clipped at :func:`tukey_cutoff`.

    A GP fitted to a heavy tail (a run that diverged, a model a hundred times too large) spends its
    flexibility there and smooths the region that matters; clipping the tail keeps the good region's
    resolution. Only values beyond an objective's reference point (they add no hypervolume) or on a
    constraint's infeasible side are clipped, so the measured front, its hypervolume and every trial's
    feasibility stay as they were.

    Args:
        data: the training data (objectives negated, constraints as ``g``).
        reference: the hypervolume reference point (minimized convention), or None (one objective:
            the plain Tukey fence).

    Returns:
        A copy with clipped outcomes (the input is not changed).
    """
    objectives = []
    for o in data.objectives:
        bound = None if reference is None else float(reference[o.index])
        cut = tukey_cutoff(-o.Y, bound)
        objectives.append(o if cut is None else replace(o, Y=-np.minimum(-o.Y, cut)))
    constraints = []
    for c in data.constraints:
        cut = tukey_cutoff(c.Y, 0.0)
        constraints.append(c if cut is None or cut <= 0.0 else replace(c, Y=np.minimum(c.Y, cut)))
    return replace(data, objectives=objectives, constraints=constraints)


def bilog(values: np.ndarray) -> np.ndarray:
    """``sign(v) * log(1 + |v|)``: the identity near 0, logarithmic far from it, sign kept (Ax's ``BilogY``)."""
    values = np.asarray(values, dtype=float)
    return np.sign(values) * np.log1p(np.abs(values))


def inverse_bilog(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`bilog`: ``sign(y) * (exp(|y|) - 1)``."""
    values = np.asarray(values, dtype=float)
    return np.sign(values) * np.expm1(np.abs(values))


def bilog_scale(values: np.ndarray) -> float:
    """The unit :func:`bilog_constraints` measures a constraint's values in: the median of ``|g|``.

    Half the values lie within one unit of the bound, where :func:`bilog` is nearly linear; the farther half is
    compressed. Falls back to the mean of ``|g|`` when most values sit exactly on the bound, and to 1 when all do.
    """
    magnitudes = np.abs(np.asarray(values, dtype=float))
    magnitudes = magnitudes[np.isfinite(magnitudes)]
    if not len(magnitudes):
        return 1.0
    for scale in (float(np.median(magnitudes)), float(np.mean(magnitudes))):
        if scale > 0.0:
            return scale
    return 1.0


def bilog_constraints(data: TrainingData) -> TrainingData:
    """The data with each hard constraint's ``g`` replaced by :func:`bilog` of ``g / s`` (Ax's default for outcome
    constraints, made free of units), ``s`` its :func:`bilog_scale`.

    A constraint matters near its bound (``g = 0``): whether a candidate is feasible. Values far on either
    side (a model ten times too large, one with memory to spare) say little more than their sign, yet a GP of
    the raw values spends its resolution on them and smooths the boundary. The transform keeps every value's
    sign, so each trial's feasibility and the probability that a candidate is feasible (``P(g <= 0)``) read
    the same in either unit. Ax maps ``g`` itself, which makes the result depend on the metric's unit: in kB or
    ms every trial lies many units from the bound, so the mapped values jump across it as a step (``-4`` to
    ``+4`` between 50 kB under and 50 kB over) and the GP's lengthscales collapse; with the same bound in MB
    the map is nearly the identity. Dividing by the median ``|g|`` first gives the same model in any unit.
    Applied to the data rather than as BoTorch's ``Bilog`` outcome transform, so each GP keeps the plain
    ``Standardize`` transform that :mod:`~moo_hpo.optimizers.bayesian.cached_posterior`'s fast path needs;
    :func:`~moo_hpo.optimizers.bayesian.surrogate.predictions` maps its predictions back.

    Args:
        data: the training data (constraints as ``g``, ``g <= 0`` feasible).

    Returns:
        A copy whose constraint outcomes are marked ``bilog`` (the input is not changed).
    """
    constraints = []
    for c in data.constraints:
        if c.bilog:
            constraints.append(c)
            continue
        scale = bilog_scale(c.Y)
        constraints.append(replace(c, Y=bilog(c.Y / scale), bilog=True, scale=scale, raw=c.Y))
    return replace(data, constraints=constraints)
