"""Are the metrics exact? The choice behind ``noiseless="auto"``, the Bayesian optimizers' default.

An exact metric (a model's size, an analytic function, a training run with a fixed seed, a replayed table)
is best interpolated: the GPs use a tiny fixed noise, and the acquisition scores improvement over the
measured front. A noisy one (accuracy under random seeds, a measured latency) needs a GP that infers its
noise, and an acquisition that does not trust the measured front.

The user need not say which. Right after its initial design the optimizer runs one configuration again (a
measured-front member of the design: a second look at a promising configuration is worth having under
noise too), and the repeat decides, for each objective and hard constraint: the same value twice (within
:data:`REPEAT_TOLERANCE` of the outcome's spread, below what an interpolating GP resolves) is exact, two
values are noise. Any configuration measured twice counts, e.g. by ``study.reevaluate``. Until a repeat has
finished the metrics are treated as noisy, the safe side.

Why a repeat and not the data alone: a GP cannot tell noise from structure finer than its kernel resolves
(a wiggly constraint boundary, a replayed table's steps) at the few dozen points of a study; compared by
marginal likelihood, exact but rough functions and noisy smooth ones overlap. One evaluation settles it.
A verdict is per outcome: an exact model size beside a noisy accuracy is interpolated while the accuracy's
GP infers its noise; the acquisition scores improvement over the measured front only while every objective
is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.optimizers.base import config_key
from moo_hpo.optimizers.bayesian.data import Outcome, TrainingData
from moo_hpo.optimizers.bayesian.surrogate import NOISELESS_VARIANCE
from moo_hpo.trial import Trial

if TYPE_CHECKING:
    from moo_hpo.problem import Problem

__all__ = [
    "REPEAT_TOLERANCE", "noise_treatment", "outcome_names", "repeat_asked", "repeat_verdicts", "repeated_rows", "trial_to_repeat",
]

#: repeats that differ by at most this many standard deviations of the outcome's values count as equal: the
#: interpolating GP's own noise (the square root of :data:`NOISELESS_VARIANCE`)
REPEAT_TOLERANCE = math.sqrt(NOISELESS_VARIANCE)


def repeated_rows(X: np.ndarray) -> list[list[int]]:
    """The groups of rows of ``X`` with identical inputs (two or more rows each), in row order."""
    groups: dict[bytes, list[int]] = {}
    for row, x in enumerate(np.asarray(X, dtype=float)):
        groups.setdefault(x.tobytes(), []).append(row)
    return [rows for rows in groups.values() if len(rows) > 1]


def repeat_verdicts(outcomes: Sequence[Outcome]) -> dict[tuple[str, int], bool]:
    """For each objective and hard constraint measured twice at one configuration: is it exact?

    Args:
        outcomes: the training data's outcomes, before any winsorizing (the failure label is skipped).

    Returns:
        ``(kind, index) -> True`` when every repeat measured the same value (exact), ``False`` when one
        differed (noisy); outcomes without a repeat are left out.
    """
    verdicts: dict[tuple[str, int], bool] = {}
    for o in outcomes:
        if o.kind == "failure":
            continue
        repeats = repeated_rows(o.X)
        if not repeats:
            continue
        Y = np.asarray(o.Y, dtype=float)
        scale = float(np.std(Y))
        differ = max(float(np.ptp(Y[rows])) for rows in repeats)
        verdicts[(o.kind, o.index)] = differ <= REPEAT_TOLERANCE * scale if scale > 0 else True
    return verdicts


def outcome_names(problem: Problem) -> dict[tuple[str, int], str]:
    """The name a user knows each modelled outcome by: an objective's metric (``"roc_auc"``), a hard constraint's
    metric, or the constraint as written (``"size_kb <= 100"``) where an objective or another hard constraint
    measures the same metric.

    Args:
        problem: the study's problem (its objectives and hard constraints, in the order of the outcomes' indices).

    Returns:
        ``(kind, index) -> name``, for every objective and hard constraint.
    """
    names = {("objective", i): o.name for i, o in enumerate(problem.objectives)}
    hard = problem.hard_constraints
    for i, c in enumerate(hard):
        shared = c.name in names.values() or sum(other.name == c.name for other in hard) > 1
        names[("constraint", i)] = c.describe() if shared else c.name
    return names


def noise_treatment(raw: TrainingData, data: TrainingData, problem: Problem) -> tuple[bool, set[tuple[str, int]], dict[str, Any]]:
    """The noise treatment the repeats call for.

    Args:
        raw: the training data as measured (the repeats are judged on these values).
        data: the training data the GPs see (its objectives and hard constraints get a treatment).
        problem: the study's problem, for the metrics' names in the audit trail (:func:`outcome_names`).

    Returns:
        ``(exact, noisy, audit)``: whether every objective is exact; the ``(kind, index)`` of the outcomes
        whose GPs infer their noise (every outcome without a verdict too); the audit trail's entries, with
        ``"noise_repeats"`` keyed by the metrics' names (``{"roc_auc": "exact", "size_kb": "noisy"}``).
    """
    verdicts = repeat_verdicts([*raw.objectives, *raw.constraints])
    outcomes = [*data.objectives, *data.constraints]
    noisy = {(o.kind, o.index) for o in outcomes if not verdicts.get((o.kind, o.index), False)}
    exact = not any(kind == "objective" for kind, _ in noisy)
    names = outcome_names(problem)
    audit = {
        "noise": "exact" if exact else "inferred",
        # objectives first, then constraints, each in the study's order
        "noise_repeats": {names.get(key, f"{key[0]} {key[1]}"): "exact" if same else "noisy"
                          for key, same in sorted(verdicts.items(), key=lambda kv: (kv[0][0] != "objective", kv[0][1]))},
    }
    return exact, noisy, audit


def repeat_asked(trials: Sequence[Trial]) -> bool:
    """Whether two of ``trials`` (told or running) have the same configuration: the repeat was asked (or the
    user ran one configuration twice)."""
    keys = [config_key(t.config) for t in trials]
    return len(set(keys)) < len(keys)


def trial_to_repeat(data: TrainingData) -> Trial:
    """The trial whose configuration the noise check measures again: the first member of the measured front
    of the feasible trials (``data`` must hold one)."""
    from moo_hpo.fronts import pareto_mask

    feasible = {t.number for t in data.feasible}
    rows = [i for i, t in enumerate(data.complete) if t.number in feasible]
    Y = -np.column_stack([o.Y for o in data.objectives])[rows]  # minimization; data's rows are data.complete
    return data.complete[rows[int(np.flatnonzero(pareto_mask(Y))[0])]]
