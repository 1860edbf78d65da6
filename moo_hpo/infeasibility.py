"""Why no trial is feasible: the least violating trial, the bounds every trial broke, and what to do about it.

Said wherever a feasible trial is needed and none is (:meth:`~moo_hpo.Study.recommend`, the reference point, the
report, device sizing), and by ``optimize`` when its first trials were all skipped before training on one bound
(:func:`moo_hpo.execution.probe_checks.note_unreachable_bound`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from moo_hpo.exceptions import NoFeasibleTrialError
from moo_hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from moo_hpo.constraints import Constraint
    from moo_hpo.problem import Problem

__all__ = [
    "bounds_broken_by_all",
    "broken_bounds",
    "least_violating_error",
    "least_violating_skipped",
    "relative_violation",
    "no_feasible_reason",
    "unreachable_hint",
]


def least_violating_error(problem: Problem, trials: Sequence[Trial], what: str) -> NoFeasibleTrialError:
    """The error to raise when ``what`` needs a feasible trial and none is; it names the least violating one.

    Among complete trials when there are some; else among the trials skipped before training (``infeasible_skipped``),
    judged on the hard bounds they measured then, with the values they measured: every candidate broke a bound before
    training, which may be out of reach of the search space.
    """
    why, number = no_feasible_reason(problem, trials)
    return NoFeasibleTrialError(f"{what}: {why}", least_violating=number)


def no_feasible_reason(problem: Problem, trials: Sequence[Trial]) -> tuple[str, int | None]:
    """Why no trial is feasible, naming the least violating one (see :func:`least_violating_error`), and its number
    (None when no trial completed or was skipped before training)."""
    complete = [t for t in trials if t.status is TrialStatus.COMPLETE]
    if not complete:
        skipped = [t for t in trials if t.status is TrialStatus.INFEASIBLE_SKIPPED]
        if not skipped:
            failed = [t for t in trials if t.status is TrialStatus.FAILED]
            if not failed:
                return f"no trial has completed yet ({len(trials)} trials)", None
            share = ("its only trial" if len(trials) == 1 else f"all {len(trials)} trials") if len(failed) == len(trials) \
                else f"{len(failed)} of the {len(trials)} trials"
            errors = Counter(_first_line(t.error) for t in failed)
            error, times = errors.most_common(1)[0]
            which = "the error" if len(errors) == 1 else f"the most common error ({times} of them)"
            return f"no trial has completed yet: {share} failed; {which}: {error}", None
        best, _ = least_violating_skipped(problem, skipped)
        if len(skipped) == len(trials):
            share = "its only trial was" if len(trials) == 1 else f"all {len(trials)} trials were"
        else:
            share = f"{len(skipped)} of the {len(trials)} trials {'was' if len(skipped) == 1 else 'were'}"
        each = "each breaking" if len(skipped) > 1 else "breaking"
        why = (f"no trial has completed yet: {share} skipped before training, {each} a hard constraint on what it "
               f"measured then; trial #{best.number} comes closest: {broken_bounds(problem, best)}")
        hint = unreachable_hint(problem, skipped)
        return why + (f"; {hint}" if hint else ""), best.number
    v = relative_violation(problem, complete)
    best = complete[int(np.argmin(v))]
    broken = problem.constraint_matrix([best])[0] > 0
    # a share of a bound of 0 has no meaning (its metric counts in its own units): the broken bounds say it all then
    zero = any(c.bound == 0 for c, b in zip(problem.hard_constraints, broken, strict=True) if b)
    share = "" if zero else f"over its bounds by {_share(v.min())} in all; "
    why = (f"none of the {len(complete)} complete trials satisfies every hard constraint; the least violating is trial "
           f"#{best.number} ({share}breaks {broken_bounds(problem, best)})")
    return why, best.number


def relative_violation(problem: Problem, trials: Sequence[Trial], missing: float | None = np.inf) -> np.ndarray:
    """Each trial's hard violation relative to the bounds: ``sum(max(g, 0) / |bound|)`` (a bound of 0 counts ``g``
    as it is); ``missing`` where a hard metric was not measured, or with None the bounds it measured only (a trial
    skipped before training).

    What picks the least violating trial: the sum of ``max(g, 0)`` in the metrics' own units
    (:meth:`~moo_hpo.problem.Problem.violation`) weighed 3.5 kB over a 40 kB budget above 0.05 ms over a 0.2 ms one,
    and a size bound in bytes would have outweighed any latency; relative to each bound, that is 9% against 25% (a
    bound of 0, having no size to measure against, keeps its metric's unit).
    """
    G = problem.constraint_matrix(trials)
    scale = np.array([abs(c.bound) or 1.0 for c in problem.hard_constraints], dtype=float)
    over = np.maximum(G, 0.0) / scale
    v = np.nansum(over, axis=1)
    if missing is not None:
        v[np.isnan(G).any(axis=1)] = missing
    return v


def _share(value: float) -> str:
    """A relative violation as a percentage: ``9%``, ``0.25%``."""
    return f"{100.0 * value:.2g}%" if value < 0.1 else f"{100.0 * value:.0f}%"


def _first_line(error: str | None, limit: int = 200) -> str:
    """A failed trial's error, its first line, at most ``limit`` characters."""
    line = error.strip().splitlines()[0] if error and error.strip() else "no error recorded"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def least_violating_skipped(problem: Problem, skipped: Sequence[Trial]) -> tuple[Trial, float]:
    """The trial skipped before training that comes closest to the hard constraints, and its violation.

    A skipped trial measured only the metrics known before training: its violation sums the bounds it measured
    (each ``max(g, 0)`` relative to its bound, :func:`relative_violation`), the others count 0.

    Args:
        problem: the study's problem.
        skipped: trials recorded ``infeasible_skipped`` (at least one).
    """
    v = relative_violation(problem, skipped, missing=None)
    i = int(np.argmin(v))
    return skipped[i], float(v[i])


def broken_bounds(problem: Problem, trial: Trial) -> str:
    """The hard constraints a trial breaks, with what it measured: ``latency_p99_ms <= 0.0001 (measured 0.031)``; a
    complete trial without a bound's metric is said to break it unmeasured (a skipped one had no chance to measure it).
    """
    parts = []
    for c in problem.hard_constraints:
        value = trial.metrics.get(c.name)
        if value is None:
            if trial.status is TrialStatus.COMPLETE:
                parts.append(f"{c.describe()} (not measured)")
        elif not c.is_satisfied(value):
            parts.append(f"{c.describe()} (measured {value:.4g})")
    if not parts and trial.status is TrialStatus.INFEASIBLE_SKIPPED:  # told skipped by hand, on a bound not recorded
        why = trial.extra.get("skipped") if isinstance(trial.extra, dict) else None
        return f"no hard bound it measured is broken (skipped: {why})" if why else "no hard bound it measured is broken"
    return ", ".join(parts)


def bounds_broken_by_all(problem: Problem, trials: Sequence[Trial]) -> list[Constraint]:
    """The hard constraints that every one of ``trials`` measured and broke (none for no trials)."""
    if not trials:
        return []
    return [c for c in problem.hard_constraints
            if all(c.name in t.metrics and not c.is_satisfied(t.metrics[c.name]) for t in trials)]


def unreachable_hint(problem: Problem, skipped: Sequence[Trial]) -> str:
    """What to do when trials were skipped before training: a hard bound that all of them broke may be out of reach
    of the search space (with the best value measured for it, where several such bounds are); ``""`` for one trial
    (too few to tell)."""
    if len(skipped) < 2:
        return ""
    shared = bounds_broken_by_all(problem, skipped)
    if not shared:
        return "loosen the hard bounds, or widen the search space towards candidates within them"
    said = [c.describe() for c in shared]
    if len(shared) > 1:
        said = [f"{c.describe()} (best measured {(min if c.kind == 'at_most' else max)(t.metrics[c.name] for t in skipped):.4g})"
                for c in shared]
    return (f"every one broke {' and '.join(said)}, which may be out of reach of the search space: loosen "
            f"{'it' if len(shared) == 1 else 'them'}, or widen the space towards candidates within "
            f"{'it' if len(shared) == 1 else 'them'}")
