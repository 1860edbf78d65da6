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

from moo_hpo.exceptions import ConfigError, NoFeasibleTrialError
from moo_hpo.fronts import HypervolumeTracker, derive_reference_point, pareto_mask
from moo_hpo.infeasibility import (  # re-exported: the study, the reports and the CLI read them from here
    bounds_broken_by_all,
    broken_bounds,
    least_violating_error,
    least_violating_skipped,
    no_feasible_reason,
    unreachable_hint,
)
from moo_hpo.naming import closest_name
from moo_hpo.trial import Trial, config_key
from moo_hpo.user_warnings import warn

if TYPE_CHECKING:
    from moo_hpo.choice import Recommendation
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
        if all(e is not None for e in self.explicit):
            self._frozen = np.array(self.explicit, dtype=float)
        elif stored is not None:  # a frozen point, but for the refs given now (a study resumed with a new ref)
            self._frozen = np.array([v if e is None else e for v, e in zip(stored["internal"], self.explicit, strict=True)],
                                    dtype=float)
            self.from_trials = stored.get("from_trials")

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
        """Freeze a point given by the user (internal convention)."""
        self._frozen = np.array(internal, dtype=float)
        self.from_trials = None

    def record(self) -> dict[str, Any]:
        """What the store keeps of a frozen point."""
        if self._frozen is None:
            raise ConfigError("the reference point is not frozen yet; nothing to store")
        return {"internal": self._frozen.tolist(), "from_trials": self.from_trials}

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


def _weights(objectives: Sequence[Objective], weights: Mapping[str, float] | Sequence[float]) -> list[float]:
    if isinstance(weights, Mapping):
        names = [o.name for o in objectives]
        unknown = [k for k in weights if k not in names]
        if unknown:
            raise ConfigError(f"weights name unknown objectives {unknown}; expected {names}")
        values = [(o.name, weights.get(o.name, 0.0)) for o in objectives]
    elif isinstance(weights, (str, bytes)) or not isinstance(weights, Iterable):
        raise ConfigError(f"weights must map objective names to numbers (or list one per objective); received {weights!r}")
    else:
        given = list(weights)
        if len(given) != len(objectives):
            raise ConfigError(f"expected {len(objectives)} weights, one per objective; received {given!r}")
        values = list(zip([o.name for o in objectives], given, strict=True))
    for name, w in values:
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) or not np.isfinite(w) or w < 0:
            raise ConfigError(f"the weight of {name!r} must be a finite number >= 0; received {w!r}")
    return [float(w) for _, w in values]


def _note_held_out_filters(constraints: Sequence[Constraint], trials: Sequence[Trial]) -> None:
    """Warn about a filter on a held-out figure (``holdout_eo_diff`` beside ``eo_diff``): choosing by it makes it
    as optimistic as the validation figure."""
    from moo_hpo.objectives.holdout import HOLDOUT_PREFIX

    held_out = [c.name for c in constraints if c.name.startswith(HOLDOUT_PREFIX)
                and any(c.name.removeprefix(HOLDOUT_PREFIX) in t.metrics for t in trials)]
    if held_out:
        warn(
            f"recommend filters on {held_out}, measured on the held-out split: a model chosen by it makes that figure "
            f"as optimistic as the validation one; filter on {[n.removeprefix(HOLDOUT_PREFIX) for n in held_out]} and "
            "read the held-out figures as a check"
        )


#: The methods of :func:`recommend`.
RECOMMEND_METHODS = ("knee", "best", "asf", "tchebycheff")


def front_points(problem: Problem, trials: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
    """The Pareto front of ``trials`` (all judged feasible) as the recommendations judge it: the front's indices into
    ``trials``, equal points once (the first trial's), and their objective matrix (internal, minimized)."""
    Y = problem.objective_matrix(trials)
    front_idx = np.flatnonzero(pareto_mask(Y))
    _, first = np.unique(Y[front_idx], axis=0, return_index=True)  # equal points count once (the first trial)
    front_idx = front_idx[np.sort(first)]
    return front_idx, Y[front_idx]


def recommend(
    problem: Problem,
    trials: Sequence[Trial],
    method: str = "knee",
    weights: Mapping[str, float] | Sequence[float] | None = None,
    objective: str | None = None,
    constraints: Sequence[Constraint] = (),
    normalized: bool = True,
) -> Recommendation:
    """Choose an operating point from the feasible trials (see :meth:`moo_hpo.Study.recommend`).

    Raises:
        NoFeasibleTrialError: when no trial is feasible, or none passes the filters.
        ConfigError: for an unknown method, objective or weight.
    """
    from moo_hpo import choice
    from moo_hpo.constraints import Constraint
    from moo_hpo.robust import has_repeats, judged_configurations

    if method not in RECOMMEND_METHODS:  # before anything is judged: a study with no feasible trial says it too
        near = closest_name(str(method), RECOMMEND_METHODS)
        raise ConfigError(f"unknown method {method!r}; expected one of {list(RECOMMEND_METHODS)}"
                          + (f" (did you mean {near!r}?)" if near else ""))
    feasible = feasible_trials(problem, trials)
    if not feasible:
        raise least_violating_error(problem, trials, "cannot recommend a trial")
    if isinstance(constraints, Constraint):
        constraints = [constraints]
    for c in constraints:
        if not isinstance(c, Constraint):
            raise ConfigError(f"filters must be mh.AtMost(...) or mh.AtLeast(...); received {c!r}")
        if not any(c.name in t.metrics for t in feasible):
            measured = sorted({m for t in feasible for m in t.metrics})
            near = closest_name(c.name, measured)
            raise ConfigError(
                f"no trial measured {c.name!r}, which the filter {c.describe()!r} names"
                + (f"; did you mean {near!r}? " if near else ". ")
                + f"The trials measured {measured}"
            )
    if weights is not None and method not in ("asf", "tchebycheff"):
        raise ConfigError(f"weights apply to the methods 'asf' and 'tchebycheff'; method {method!r} uses none")
    if not normalized and method != "asf":
        raise ConfigError(
            f"normalized=False applies to the method 'asf' only; method {method!r} "
            + ("ranks one objective in its own units" if method == "best" else "works on the normalized objectives")
        )
    _note_held_out_filters(constraints, feasible)
    runs: dict[int, int] = {}  # stand-in trial's number -> how many runs its figures are the mean of
    originals: dict[int, Trial] = {}
    if has_repeats(trials):  # a configuration run more than once is judged on its runs' mean, as sizing does
        judged = judged_configurations(problem, trials)
        if not judged:
            raise NoFeasibleTrialError("no configuration is feasible on the mean of its runs")
        feasible = [figures for figures, _, _, _ in judged]
        runs = {figures.number: n for figures, _, n, _ in judged}
        originals = {figures.number: original for figures, original, _, _ in judged}
    kept = [t for t in feasible if all(c.name in t.metrics and c.is_satisfied(t.metrics[c.name]) for c in constraints)]
    if not kept:
        what = "configurations" if runs else "trials"
        raise NoFeasibleTrialError(f"none of the {len(feasible)} feasible {what} satisfies {[c.describe() for c in constraints]}")
    front_idx, Yf = front_points(problem, kept)
    names = [o.name for o in problem.objectives]
    if method == "knee":
        i, reason = choice.knee_index(Yf)
    elif method == "best":
        if objective is None and len(names) == 1:
            objective = names[0]
        if objective not in names:
            raise ConfigError(f"method 'best' needs objective= one of {names}; received {objective!r}")
        i, reason = choice.best_index(Yf, names.index(objective), label=objective)
    elif method in ("asf", "tchebycheff"):
        if weights is None:
            raise ConfigError(f"method {method!r} needs weights (objective name -> weight)")
        w = _weights(problem.objectives, weights)
        i, reason = choice.asf_index(Yf, w, normalized=normalized) if method == "asf" else choice.tchebycheff_index(Yf, w)
    else:
        raise ConfigError(f"unknown method {method!r}; expected 'knee', 'best', 'asf' or 'tchebycheff'")
    chosen = kept[int(front_idx[i])]
    values = ", ".join(f"{o.name}={chosen.metrics[o.name]:.4g}" for o in problem.objectives)
    n_runs = runs.get(chosen.number, 1)
    reason += f" ({values}{f', mean of {n_runs} runs' if n_runs > 1 else ''})"
    figures = dict(chosen.metrics)
    chosen = originals.get(chosen.number, chosen)
    if method in ("asf", "tchebycheff") and isinstance(weights, Mapping):
        unweighted = [n for n in names if n not in weights]
        if unweighted:  # easy to miss: an objective left out of the weights plays no part in the choice
            reason += f"; {', '.join(unweighted)} left out of the weights, so weighing 0"
    if constraints:
        reason += f"; among trials with {', '.join(c.describe() for c in constraints)}"
    from moo_hpo.objectives.fairness import one_class_groups, predicts_one_class

    caution = None
    if predicts_one_class(chosen.extra):  # its zero gap is no fairness: the fairness audit leaves such models out
        caution = ("this model predicts one class for everyone (its accuracy is the base rate and its fairness gaps "
                   "are 0 by construction)")
    elif groups := one_class_groups(chosen.extra):  # a gap between rates near 0 is small whatever the model's merit
        caution = f"this model predicts one class for everyone in a group: {'; '.join(groups)}"
    return choice.Recommendation(chosen, method, reason, caution, metrics=figures, runs=n_runs)
