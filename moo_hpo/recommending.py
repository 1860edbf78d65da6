"""Recommendations: an operating point chosen from a study's feasible trials (the knee, the best per objective,
ASF and weighted Tchebycheff choices of :mod:`moo_hpo.choice`), after the user's filters and the objectives'
``ref`` values, with a configuration run more than once judged on the mean of its runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from moo_hpo.exceptions import ConfigError, NoFeasibleTrialError
from moo_hpo.fronts import pareto_mask
from moo_hpo.infeasibility import least_violating_error
from moo_hpo.naming import closest_name
from moo_hpo.trial import Trial
from moo_hpo.user_warnings import warn

if TYPE_CHECKING:
    from moo_hpo.choice import Recommendation
    from moo_hpo.constraints import Constraint
    from moo_hpo.objectives.specs import Objective
    from moo_hpo.problem import Problem

__all__ = ["RECOMMEND_METHODS", "front_points", "pick_within_refs", "recommend"]


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


def pick_within_refs(problem: Problem, trials: list[Trial], pick: Callable[[list[Trial]], tuple[Trial, str]],
                     budgeted: Sequence[str] = ()) -> tuple[Trial, str, str]:
    """``pick``'s choice among the trials within every objective's ``ref`` (the worst value that still counts: at
    it or better), when some trial is; among all of them otherwise. The recommendations and device sizing choose
    so.

    Args:
        problem: the study's problem (its objectives' ``ref`` values).
        trials: the candidates (feasible, filtered), not empty.
        pick: chooses among candidates: ``(trial, reason)``.
        budgeted: metrics whose objective's ``ref`` is not applied: a device's budgets on them say what fits (a
            size ``ref`` of 10 KiB, where the hypervolume is measured from, is no budget for a device of 500 KiB).

    Returns:
        ``(trial, reason, note)``: the note says, for a reason, what the refs left out, or that no trial is within
        them; "" when the refs changed nothing (the same trial would be chosen among all).
    """
    given = [(o, o.to_internal(o.ref)) for o in problem.objectives if o.ref is not None and o.name not in budgeted]
    inside = [t for t in trials if all(o.to_internal(t.metrics[o.name]) <= r for o, r in given)]
    chosen, reason = pick(inside or trials)
    if not given or len(inside) == len(trials):
        return chosen, reason, ""
    refs = ", ".join(f"{o.name} {'<=' if o.direction == 'minimize' else '>='} {o.ref:g}" for o, _ in given)
    if not inside:
        return chosen, reason, f"no trial is within the objectives' ref= ({refs}): chosen among all"
    if pick(trials)[0] is chosen:
        return chosen, reason, ""  # the same choice among all: nothing to say
    return chosen, reason, f"among trials within the objectives' ref= ({refs}; {len(trials) - len(inside)} left out)"


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

    # analysis re-exports this module: imported here, not above
    from moo_hpo.analysis import feasible_trials
    from moo_hpo.constraints import Constraint
    from moo_hpo.robust import has_repeats, judged_configurations, runs_phrase

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
            near = closest_name(c.name, measured, abbreviation=True)
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
    counts: dict[int, dict[str, int]] = {}  # and per metric, how many of them measured it
    originals: dict[int, Trial] = {}
    if has_repeats(trials):  # a configuration run more than once is judged on its runs' mean, as sizing does
        judged = judged_configurations(problem, trials)
        if not judged:
            raise NoFeasibleTrialError("no configuration is feasible on the mean of its runs")
        feasible = [figures for figures, _, _, _ in judged]
        runs = {figures.number: n for figures, _, n, _ in judged}
        counts = {figures.number: c for figures, _, _, c in judged}
        originals = {figures.number: original for figures, original, _, _ in judged}
    kept = [t for t in feasible if all(c.name in t.metrics and c.is_satisfied(t.metrics[c.name]) for c in constraints)]
    if not kept:
        what = "configurations" if runs else "trials"
        raise NoFeasibleTrialError(f"none of the {len(feasible)} feasible {what} satisfies {[c.describe() for c in constraints]}")
    names = [o.name for o in problem.objectives]
    if method == "best":
        if objective is None and len(names) == 1:
            objective = names[0]
        if objective not in names:
            raise ConfigError(f"method 'best' needs objective= one of {names}; received {objective!r}")
    if method in ("asf", "tchebycheff") and weights is None:
        raise ConfigError(f"method {method!r} needs weights (objective name -> weight)")

    def pick(candidates: list[Trial]) -> tuple[Trial, str]:
        front_idx, Yf = front_points(problem, candidates)
        if method == "knee":
            i, reason = choice.knee_index(Yf)
        elif method == "best":
            i, reason = choice.best_index(Yf, names.index(objective), label=objective)
        else:
            w = _weights(problem.objectives, weights)
            i, reason = choice.asf_index(Yf, w, normalized=normalized) if method == "asf" else choice.tchebycheff_index(Yf, w)
        return candidates[int(front_idx[i])], reason

    chosen, reason, outside_refs = pick_within_refs(problem, kept, pick)
    n_runs, measured = runs.get(chosen.number, 1), counts.get(chosen.number, {})
    partial = any(measured.get(o.name, n_runs) < n_runs for o in problem.objectives)  # a repeat skipped before training
    values = ", ".join(f"{o.name}={chosen.metrics[o.name]:.4g}"
                       + (f" ({runs_phrase(measured.get(o.name, n_runs), n_runs)})" if partial else "") for o in problem.objectives)
    reason += f" ({values}{f', mean of {n_runs} runs' if n_runs > 1 and not partial else ''})"
    figures = dict(chosen.metrics)
    chosen = originals.get(chosen.number, chosen)
    if method in ("asf", "tchebycheff") and isinstance(weights, Mapping):
        unweighted = [n for n in names if n not in weights]
        if unweighted:  # easy to miss: an objective left out of the weights plays no part in the choice
            reason += f"; {', '.join(unweighted)} left out of the weights, so weighing 0"
    if constraints:
        reason += f"; among trials with {', '.join(c.describe() for c in constraints)}"
    if outside_refs:
        reason += f"; {outside_refs}"
    from moo_hpo.objectives.fairness import one_class_groups, predicts_one_class

    caution = None
    if predicts_one_class(chosen.extra):  # its zero gap is no fairness: the fairness audit leaves such models out
        caution = ("this model predicts one class for everyone (its accuracy is the base rate and its fairness gaps "
                   "are 0 by construction)")
    elif groups := one_class_groups(chosen.extra):  # a gap between rates near 0 is small whatever the model's merit
        caution = f"this model predicts one class for everyone in a group: {'; '.join(groups)}"
    return choice.Recommendation(chosen, method, reason, caution, metrics=figures, runs=n_runs)
