"""The pruner protocol, and how a rung's reports are ranked under several objectives and hard constraints.

A pruner sees every intermediate report of a study in the order the study received them
(:meth:`Pruner.decide`) and answers whether that trial should stop. It keeps no state beyond what those
reports tell it, so a study resumed from its store replays the stored reports in their order and the pruner
decides again exactly as before.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_integer, is_number
from moo_hpo.problem import Problem
from moo_hpo.trial import Trial

__all__ = ["Decision", "Pruner", "hard_violation", "points", "position_of_last", "rank_order", "reports_an_objective"]


@dataclass(frozen=True)
class Decision:
    """A pruner's answer to one report.

    Attributes:
        prune: True when the trial should stop now.
        reason: one line saying why (kept with the trial when it is pruned).
    """

    prune: bool
    reason: str = ""


class Pruner(ABC):
    """Base class of the pruners: ``setup`` once with the study's problem, then ``decide`` per report.

    Subclasses store their constructor arguments unchanged (as the optimizers do) and keep every other
    state in :meth:`setup`.

    Attributes:
        name: the pruner's name (stored with the study).
        max_resource: the step a full trial trains to, or None when the pruner has none: the study logs reports
            beyond it, and the report takes it as full training while no trial completed.
        rung_steps: the steps at which the pruner judges (after :meth:`setup`), or empty: the study logs a
            trial that completes at one below ``max_resource``, and the learning curves draw them.
    """

    name = "pruner"
    problem: Problem
    max_resource: float | None = None
    rung_steps: Sequence[float] = ()

    def setup(self, problem: Problem) -> None:
        """Bind to a study's problem; called once, before the first report.

        Raises:
            ConfigError: for options of the wrong type or range.
        """
        self.problem = problem

    @abstractmethod
    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Decision:
        """Whether trial ``number`` should stop, given its report at ``step``.

        Args:
            number: the trial's number.
            step: the report's step (grows report by report within a trial).
            metrics: the reported metrics.
        """

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (read back from the attributes of the same name).

        Raises:
            ConfigError: when an argument was not kept as an attribute of its name (the convention that lets a
                study store and rebuild a pruner).
        """
        from moo_hpo.optimizers.base import constructor_options

        return constructor_options(self, "pruner")

    def __repr__(self) -> str:
        try:
            params = self.get_params()
        except ConfigError:  # a pruner of the user's that keeps no attributes of its arguments
            params = {}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def points(problem: Problem, reports: Sequence[Mapping[str, float]]) -> np.ndarray:
    """Reported metrics as objective points in the internal (minimized) convention, soft penalties added;
    ``inf`` where an objective was not reported (see :func:`rank_order`)."""
    trials = [Trial(number=i, config={}, metrics=dict(m)) for i, m in enumerate(reports)]
    Y = problem.objective_matrix(trials, penalized=True)
    return np.where(np.isnan(Y), np.inf, Y)


def reports_an_objective(problem: Problem, metrics: Mapping[str, float]) -> bool:
    """Whether a report carries at least one of the study's objectives (a report without any cannot be ranked:
    the pruners let such a trial go on)."""
    return any(o.name in metrics for o in problem.objectives)


def hard_violation(problem: Problem, metrics: Mapping[str, float]) -> tuple[float, str | None]:
    """The total violation of the hard constraints whose metrics were reported, and the first one broken.

    Returns:
        ``(violation >= 0, text of the first broken bound or None)``; unreported metrics count as met.
    """
    total, first = 0.0, None
    for c in problem.hard_constraints:
        value = metrics.get(c.name)
        if value is None:
            continue
        g = c.value(value)
        if g > 0:
            total += g
            first = first or f"{c.name} = {value:.6g} breaks the hard bound {c.describe()}"
    return total, first


def rank_order(Y: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """Indices of ``Y``'s points from best to worst: with two or more objectives ranked, a copy of an earlier point
    last (a rung keeps one of each point: a copy adds nothing to its front, and many models can report the same
    degenerate point, such as a classifier that still predicts one class, whose fairness gap of 0 puts it on the
    front), then constrained non-dominated rank, then crowding distance within a rank (the more isolated point
    first, so a rung's survivors spread along its front), then the index (earlier reports first). With one
    objective ranked there is no front to spread along: equal values are ties, ranked by arrival (a discrete
    accuracy such as k / 171 ties often, and a tie with the best is second, not last).

    An objective that no point reports (a model size measured only at the end) is left out of the ranking; a
    point without an objective that others report ranks behind every point that has it.

    Args:
        Y: ``(n, m)`` points, minimized; ``inf`` for unreported objectives.
        violation: ``(n,)`` total hard violations, ``>= 0``.
    """
    from moo_hpo.fronts import constrained_ranks

    n = len(Y)
    Y = Y[:, np.isfinite(Y).any(axis=0)] if n else Y  # the objectives some point reports
    if n == 0 or Y.shape[1] == 0:
        return np.arange(n, dtype=int)
    finite = np.isfinite(Y).all(axis=1)
    ranks = np.full(n, np.iinfo(np.int64).max // 2, dtype=np.int64)
    if finite.any():
        ranks[finite] = constrained_ranks(Y[finite], violation[finite])
    crowding = np.zeros(n)
    for r in np.unique(ranks[finite]):
        members = np.flatnonzero(finite & (ranks == r))
        crowding[members] = _crowding_distance(Y[members])
    seen: set[tuple] = set()
    copy = np.zeros(n, dtype=bool)
    for i in range(n if Y.shape[1] > 1 else 0):  # one objective: equal values are ties, not copies
        key = tuple(Y[i])
        copy[i] = key in seen
        seen.add(key)
    return np.array(sorted(range(n), key=lambda i: (copy[i], ranks[i], -crowding[i], i)), dtype=int)


def position_of_last(Y: np.ndarray, violation: np.ndarray) -> int:
    """Where the last of ``Y``'s points stands in :func:`rank_order`'s order (0: first), computed without ordering
    the others: the crowding distance of its own rank only (a rung's decision on its newest report needs no more, and
    a rung of thousands of reports has hundreds of ranks). A point that copies an earlier one (with two or more
    objectives ranked) is placed by the full order, as are points without every ranked objective.

    Args:
        Y: ``(n, m)`` points, minimized; ``inf`` for unreported objectives.
        violation: ``(n,)`` total hard violations, ``>= 0``.
    """
    from moo_hpo.fronts import constrained_ranks

    n = len(Y)
    last = n - 1
    Y = Y[:, np.isfinite(Y).any(axis=0)] if n else Y
    if n == 0 or Y.shape[1] == 0:
        return last
    finite = np.isfinite(Y).all(axis=1)
    _, first_of = np.unique(Y, axis=0, return_inverse=True)
    first_of = first_of.reshape(-1)
    earliest = np.full(first_of.max() + 1, n)
    np.minimum.at(earliest, first_of, np.arange(n))
    copy = (earliest[first_of] != np.arange(n)) & (Y.shape[1] > 1)  # one objective: ties, not copies
    if copy[last] or not finite[last] or not finite.all():  # the general order decides
        return int(np.flatnonzero(rank_order(Y, violation) == last)[0])
    ranks = constrained_ranks(Y, violation)
    mine = ranks[last]
    peers = np.flatnonzero(ranks == mine)
    crowding = _crowding_distance(Y[peers])
    own = crowding[-1]  # the last point is the last of its peers
    ahead = int(np.count_nonzero(~copy & (ranks < mine)))
    ahead += int(np.count_nonzero(~copy[peers[:-1]] & (-crowding[:-1] <= -own)))  # equal distance: the earlier first
    return ahead


def _crowding_distance(Y: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of points of one front (pymoo's definition: extremes infinite); equal
    points get the same distance, so the order of arrival decides between them."""
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    unique, inverse = np.unique(Y, axis=0, return_inverse=True)  # equal points share one distance
    if len(unique) <= 2:
        return np.full(len(Y), np.inf)
    return np.asarray(calc_crowding_distance(unique), dtype=float)[inverse.reshape(-1)]


def check_positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    """Raise ConfigError unless ``value`` is an integer ``>= minimum``."""
    if not is_integer(value) or value < minimum:
        raise ConfigError(f"{owner}: {name} must be an integer >= {minimum}; received {value!r}")


def check_non_negative_number(owner: str, name: str, value: Any) -> None:
    """Raise ConfigError unless ``value`` is a finite number ``>= 0``."""
    if not is_number(value) or not (0 <= value < math.inf):
        raise ConfigError(f"{owner}: {name} must be a finite number >= 0; received {value!r}")


def check_positive_number(owner: str, name: str, value: Any) -> None:
    """Raise ConfigError unless ``value`` is a positive finite number."""
    if not is_number(value) or not (0 < value < math.inf):
        raise ConfigError(f"{owner}: {name} must be a positive number; received {value!r}")
