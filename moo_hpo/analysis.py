"""What a study's trials say: the reference point, feasible set, Pareto front, hypervolume and choices.

One layer over :mod:`moo_hpo.fronts` (array math) and :mod:`moo_hpo.choice` (preferences), working on
trial records and a :class:`~moo_hpo.problem.Problem`. The study, its optimizers, the reports and the
CLI all read these results from here, so they agree.

**The reference point** (one policy, :class:`ReferencePoint`): per objective its explicit ``ref`` when
given; otherwise worst + 10% of the observed range over the feasible trials
(:func:`moo_hpo.fronts.derive_reference_point`). While fewer than :data:`REFERENCE_FREEZE_AFTER` trials are
feasible the point is provisional and follows the feasible trials; the study freezes it inside
:meth:`~moo_hpo.Study.tell` when that many are feasible, from those trials, and stores it, so every
hypervolume figure afterwards has one meaning. Reading it never changes a study.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.fronts import HypervolumeTracker, derive_reference_point, pareto_mask
from moo_hpo.infeasibility import (  # re-exported: the study, the reports and the CLI read them from here
    bounds_broken_by_all,
    broken_bounds,
    least_violating_error,
    least_violating_skipped,
    no_feasible_reason,
    unreachable_hint,
)
from moo_hpo.trial import Trial, config_key

if TYPE_CHECKING:
    from moo_hpo.constraints import Constraint
    from moo_hpo.objectives.specs import Objective
    from moo_hpo.problem import Problem

__all__ = [
    "REFERENCE_FREEZE_AFTER",
    "HypervolumeMonitor",
    "ReferencePoint",
    "bounds_broken_by_all",
    "broken_bounds",
    "feasible_trials",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_history",
    "least_violating_error",
    "least_violating_skipped",
    "no_feasible_reason",
    "pareto_front",
    "RECOMMEND_METHODS",
    "front_points",
    "recommend",
    "reference_tighter_than_bounds",
    "unreachable_hint",
]

#: A derived reference point is frozen once this many trials are feasible.
REFERENCE_FREEZE_AFTER = 10


class ReferencePoint:
    """The hypervolume reference point of a study, in the internal (minimized) convention.

    Args:
        objectives: the study's objectives (their ``ref`` values are the explicit part).
        stored: the record saved by :meth:`record` (a frozen point), or None.
    """

    def __init__(self, objectives: Sequence[Objective], stored: Mapping[str, Any] | None = None) -> None:
        self.objectives = tuple(objectives)
        self.explicit: list[float | None] = [None if o.ref is None else o.to_internal(o.ref) for o in self.objectives]
        self._frozen: np.ndarray | None = None
        self.from_trials: int | None = None
        self.user_set = False  # set by study.set_reference_point: it wins over the refs it was set over
        self.set_values = [False] * len(self.objectives)  # which values that call set (and are still in force)
        if stored is not None and "set_over" in stored and list(stored["set_over"]) == self.explicit:
            self._frozen, self.user_set = np.array(stored["internal"], dtype=float), True
            self.set_values = [True] * len(self.objectives)
        elif all(e is not None for e in self.explicit):
            self._frozen = np.array(self.explicit, dtype=float)
        elif stored is not None:  # a frozen point, but for the refs given now (a study resumed with a new ref)
            self._frozen = np.array([v if e is None else e for v, e in zip(stored["internal"], self.explicit, strict=True)],
                                    dtype=float)
            self.from_trials = stored.get("from_trials")
            # a point set by hand: its values for objectives without a ref stay set by hand, over any number of reopens
            by_hand = stored.get("set_by_hand") or [("set_over" in stored)] * len(self.objectives)
            self.set_values = [bool(h) and e is None for h, e in zip(by_hand, self.explicit, strict=True)]

    @property
    def is_frozen(self) -> bool:
        """True when the point is explicit or frozen: it will not change any more."""
        return self._frozen is not None

    @property
    def frozen(self) -> np.ndarray | None:
        """The frozen point (a copy), or None while it is provisional."""
        return None if self._frozen is None else self._frozen.copy()

    def value(self, feasible: np.ndarray) -> np.ndarray:
        """The point: the frozen one, else derived from the first :data:`REFERENCE_FREEZE_AFTER` rows.

        Args:
            feasible: objective values of the feasible trials (internal convention), in the order they
                were told; ignored once the point is frozen.

        Raises:
            ConfigError: when a value must be derived and ``feasible`` is empty.
        """
        if self._frozen is not None:
            return self._frozen.copy()
        return derive_reference_point(np.asarray(feasible, dtype=float)[:REFERENCE_FREEZE_AFTER], self.explicit)

    def freeze_if_due(self, feasible: np.ndarray) -> bool:
        """Freeze the point from the feasible trials when there are enough of them.

        Args:
            feasible: objective values of the feasible trials (internal convention), in the order they
                were told.

        Returns:
            True when this call froze the point (the caller stores :meth:`record`).
        """
        if self._frozen is not None or len(feasible) < REFERENCE_FREEZE_AFTER:
            return False
        point = self.value(feasible)
        if not np.isfinite(point).all():  # values near the float's limit: kept provisional, reading it says why
            return False
        self._frozen = point
        self.from_trials = REFERENCE_FREEZE_AFTER
        return True

    def set(self, internal: Sequence[float]) -> None:
        """Freeze a point given by the user (internal convention): it wins over the objectives' ``ref`` values while
        they stay as they are (a study reopened with other refs takes those)."""
        self._frozen = np.array(internal, dtype=float)
        self.from_trials = None
        self.user_set = True
        self.set_values = [True] * len(self.objectives)

    def record(self) -> dict[str, Any]:
        """What the store keeps of a frozen point (a point the user set: with the refs it was set over)."""
        if self._frozen is None:
            raise ConfigError("the reference point is not frozen yet; nothing to store")
        return {"internal": self._frozen.tolist(), "from_trials": self.from_trials,
                **({"set_over": list(self.explicit)} if self.user_set else {}),
                **({"set_by_hand": list(self.set_values)} if any(self.set_values) else {})}

    @property
    def set_by_hand(self) -> list[str]:
        """The names of the objectives whose value :meth:`set` gave (kept over a later change of another's ``ref``)."""
        return [o.name for o, by_hand in zip(self.objectives, self.set_values, strict=True) if by_hand]

    def in_units(self, internal: Sequence[float]) -> dict[str, float]:
        """A point in the internal convention as metric name -> value in the metric's own units."""
        return {o.name: o.from_internal(float(v)) for o, v in zip(self.objectives, internal, strict=True)}

    def from_units(self, ref: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """A point in the metrics' own units (name -> value, or values in objective order) as internal values.

        Raises:
            ConfigError: when a name is missing, the number of values is wrong or a value is not a finite number.
        """
        if isinstance(ref, Mapping):
            missing = [o.name for o in self.objectives if o.name not in ref]
            if missing:
                raise ConfigError(f"the reference point lacks {missing}; received {dict(ref)!r}")
            unknown = [k for k in ref if k not in {o.name for o in self.objectives}]
            if unknown:  # a misspelt name beside the right ones would be ignored in silence
                raise ConfigError(f"the reference point names {unknown}, which {'is' if len(unknown) == 1 else 'are'} no "
                                  f"objective; expected one value for each of {[o.name for o in self.objectives]}")
            values = [ref[o.name] for o in self.objectives]
        elif isinstance(ref, (str, bytes)) or not isinstance(ref, Iterable):
            raise ConfigError(f"expected a reference point (objective name -> value, or a list of values); received {ref!r}")
        else:
            values = list(ref)
            if len(values) != len(self.objectives):
                raise ConfigError(f"expected {len(self.objectives)} reference values; received {values!r}")
        for o, v in zip(self.objectives, values, strict=True):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
                raise ConfigError(f"the reference value for {o.name!r} must be a finite number; received {v!r}")
        return np.array([o.to_internal(float(v)) for o, v in zip(self.objectives, values, strict=True)])


def feasible_trials(problem: Problem, trials: Sequence[Trial]) -> list[Trial]:
    """Complete trials within every hard constraint, in the given order."""
    return [t for t in trials if problem.is_feasible(t)]


def in_told_order(trials: Sequence[Trial]) -> list[Trial]:
    """Finished trials in the order they were told (finish time, then number)."""
    return sorted(trials, key=lambda t: (t.finished_at if t.finished_at is not None else np.inf, t.number))


def pareto_front(problem: Problem, trials: Sequence[Trial]) -> list[Trial]:
    """The feasible trials that no other feasible trial dominates, in the given order.

    Trials of different configurations with identical objective values are all kept (none dominates the other);
    a configuration run again that measured the same values (a repeat of an exact objective) is listed once,
    as its first trial.
    """
    feasible = feasible_trials(problem, trials)
    if not feasible:
        return []
    Y = problem.objective_matrix(feasible)
    mask = pareto_mask(Y)
    front, seen = [], set()
    for t, y, keep in zip(feasible, Y, mask, strict=True):
        key = (config_key(t.config), tuple(y))
        if keep and key not in seen:
            seen.add(key)
            front.append(t)
    return front


def reference_tighter_than_bounds(problem: Problem, reference: ReferencePoint) -> list[tuple[Objective, Constraint, float]]:
    """The derived (not given) values of a frozen reference point that are tighter than a hard bound on the same
    objective: feasible trials between the two add no hypervolume, so the hypervolume (and EHVI) overlooks a
    range the user allowed.

    Args:
        problem: the study's problem.
        reference: its reference point, frozen.

    Returns:
        (objective, its hard bound, the reference value in the metric's units) per such objective.
    """
    units = reference.in_units(reference.frozen)
    out = []
    for o, explicit in zip(problem.objectives, reference.explicit, strict=True):
        if explicit is not None:
            continue
        for c in problem.hard_constraints:  # a bound on the objective's good side limits nothing the point could miss
            if c.name == o.name and (c.kind == "at_most") == (o.direction == "minimize"):
                value = units[o.name]
                if (value < c.bound) if c.kind == "at_most" else (value > c.bound):
                    out.append((o, c, value))
    return out


def reference_internal(problem: Problem, trials: Sequence[Trial]) -> np.ndarray:
    """The problem's reference point (frozen, or provisional from the feasible trials in told order).

    Raises:
        NoFeasibleTrialError: when a value must be derived and no trial is feasible.
    """
    reference = problem.reference
    if reference.is_frozen:
        return reference.value(np.empty((0, problem.n_objectives)))
    feasible = in_told_order(feasible_trials(problem, trials))
    if not feasible:
        raise least_violating_error(problem, trials, "cannot derive a reference point")
    point = reference.value(problem.objective_matrix(feasible))
    for j in np.flatnonzero(~np.isfinite(point)):
        objective = problem.objectives[j]
        used = feasible[:REFERENCE_FREEZE_AFTER]
        extreme = max(used, key=lambda t: abs(t.metrics[objective.name]))
        raise ConfigError(
            f"the reference point of {objective.name!r} derived from the trials (their worst value plus 10% of their "
            f"range) is not a finite number: trial #{extreme.number} measured {extreme.metrics[objective.name]:g}. "
            f"Give the objective a reference point (ref=...), or fail such trials instead of returning a huge value "
            "(raise, or return NaN)"
        )
    return point


def hypervolume(problem: Problem, trials: Sequence[Trial], ref: np.ndarray, normalized: bool = False) -> float:
    """Hypervolume of the feasible trials for a reference point in the internal convention (0.0 when none)."""
    from moo_hpo import fronts

    feasible = feasible_trials(problem, trials)
    if not feasible:
        return 0.0
    Y = problem.objective_matrix(feasible)
    if not (Y < np.asarray(ref, dtype=float)).all(axis=1).any():
        import warnings

        units = {o.name: float(o.from_internal(r)) for o, r in zip(problem.objectives, ref, strict=True)}
        warnings.warn(
            f"no feasible trial is better than the reference point {units} in every objective: the hypervolume is 0",
            RuntimeWarning,
            stacklevel=3,  # the user's call of Study.hypervolume
        )
        return 0.0
    return fronts.hypervolume(Y, ref, normalized=normalized, warn=False)


def hypervolume_history(problem: Problem, trials: Sequence[Trial], ref: np.ndarray) -> np.ndarray:
    """Hypervolume of the feasible trials after each trial of ``trials`` (in the given order)."""
    from moo_hpo import fronts

    include = np.array([problem.is_feasible(t) for t in trials], dtype=bool)
    Y = problem.objective_matrix(trials)
    return fronts.hypervolume_history(np.where(include[:, None], Y, 0.0), ref, include)


def hypervolume_contributions(problem: Problem, trials: Sequence[Trial], ref: np.ndarray) -> dict[int, float]:
    """Exclusive hypervolume contribution of each front trial: trial number -> value."""
    from moo_hpo import fronts

    front = pareto_front(problem, trials)
    if not front:
        return {}
    c = fronts.hypervolume_contributions(problem.objective_matrix(front), ref)
    return {t.number: float(v) for t, v in zip(front, c, strict=True)}


class HypervolumeMonitor:
    """The hypervolume of a running study, updated trial by trial once the reference point is frozen.

    Feed it every finished trial (:meth:`add`); each costs one exact hypervolume computation only when
    the trial enters the front. Used by :class:`~moo_hpo.HypervolumeStagnation`.

    Args:
        problem: the study's problem (its reference point is read from it).
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self._tracker: HypervolumeTracker | None = None
        self._fed: set[int] = set()

    @property
    def ready(self) -> bool:
        """True once the reference point is frozen (values have one meaning from then on)."""
        return self.problem.reference.is_frozen

    def start(self, trials: Sequence[Trial]) -> np.ndarray:
        """Begin tracking from the trials so far; returns their hypervolume history (given order).

        Raises:
            ConfigError: when the reference point is not frozen yet.
        """
        if not self.ready:
            raise ConfigError("the hypervolume is tracked once the reference point is frozen")
        ref = self.problem.reference.value(np.empty((0, self.problem.n_objectives)))
        self._tracker = HypervolumeTracker(ref)
        history = np.empty(len(trials))
        for i, t in enumerate(trials):
            history[i] = self.add(t)
        return history

    def add(self, trial: Trial) -> float:
        """Count one finished trial (once; feasible ones only change the value); returns the hypervolume."""
        if self._tracker is None:
            raise ConfigError("call start() first")
        if trial.number not in self._fed and self.problem.is_feasible(trial):
            self._fed.add(trial.number)
            self._tracker.add(self.problem.objective_matrix([trial])[0])
        return self._tracker.value

    @property
    def value(self) -> float | None:
        """The current hypervolume, or None before :meth:`start`."""
        return None if self._tracker is None else self._tracker.value


# the recommendations live in their own module; read from here too (the study, the reports and the CLI do)
from moo_hpo.recommending import RECOMMEND_METHODS, front_points, recommend  # noqa: E402
