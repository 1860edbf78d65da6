"""Multi-objective asynchronous successive halving (MOASHA).

Rungs sit at ``min_resource * reduction_factor**k`` steps, below ``max_resource``. The first report of a
trial at or beyond a rung's step records the trial in that rung (with the metrics of that report), and the
trial goes on only if it ranks within the best ``1 / reduction_factor`` of the ``n`` trials the rung holds
then (position ``p`` from 0 with ``p <= n / reduction_factor``; the first trial of a rung goes on):
asynchronous successive halving's stopping rule (Li et al., 2020), as Syne Tune's MOASHA and Ray Tune's
ASHA apply it. Each decision keeps to ``1 / reduction_factor`` of the rung as it stands; the rung's
promotions are not capped over time, because a cap lets earlier, worse trials use up a rung's quota and
stops a later trial that ranks first, which costs more than it saves (measured: a sequential study of 20
trials with rungs at 1, 3 and 9 finished one trial under a cap).
Ranking several objectives: constrained domination (hard constraints whose metrics were reported first,
then non-dominated rank), the crowding distance within a rank (Schmucker et al., 2021 rank a rung by
non-dominated sorting with an epsilon-net within fronts; crowding distance serves the same purpose, keeping
the survivors spread along the rung's front), then the order of arrival; a report equal to one the rung holds
ranks behind every distinct one when two or more objectives are ranked, and ties with its equal when one is
(:func:`~moo_hpo.pruners.base.rank_order`).

A trial that reports a hard-constrained metric beyond its bound stops at once: report such a metric (model
size, latency) when it is final, or leave it out of the intermediate reports. A report at or beyond
``max_resource`` is a full trial's last: it is never stopped (a bound it breaks makes it infeasible, as without a
pruner). A report is judged on the objectives it carries: against the rung's members on those objectives, a
member that lacks one of them ranking behind it (so a model size returned only with the result does not enter
the rungs' ranking); a report that carries no objective at all is not judged.

Why our own code: Optuna's pruners rank one objective only, and Syne Tune's MOASHA is a scheduler that
owns the trial loop; this one is a pruner of moo_hpo's studies, with their constraints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.problem import Problem
from moo_hpo.pruners.base import (
    Decision,
    Pruner,
    check_positive_int,
    check_positive_number,
    hard_violation,
    points,
    position_of_last,
    reports_an_objective,
)

__all__ = ["MOASHA"]


class MOASHA(Pruner):
    """Multi-objective asynchronous successive halving (see the module docstring).

    Args:
        min_resource: the step of the first rung (e.g. 1 epoch).
        max_resource: the step a trial trains to at most (e.g. 27 epochs); no rung at or beyond it.
        reduction_factor: eta: a rung promotes ``1 / eta`` of its trials.

    Raises:
        ConfigError: (at setup) for a non-positive resource, ``min_resource >= max_resource`` or
            ``reduction_factor < 2``.
    """

    name = "moasha"

    def __init__(self, min_resource: float = 1, max_resource: float = 27, reduction_factor: int = 3) -> None:
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.reduction_factor = reduction_factor

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        check_resources(self.name, self.min_resource, self.max_resource, self.reduction_factor)
        self.rung_steps = rung_steps(self.min_resource, self.max_resource, self.reduction_factor)
        self._rungs: list[dict[int, dict[str, float]]] = [{} for _ in self.rung_steps]  # rung -> trial -> metrics
        self._promoted: list[set[int]] = [set() for _ in self.rung_steps]
        # each rung's points and hard violations, a row per member in its order: computed once per report
        self._points: list[np.ndarray] = [np.empty((0, len(problem.objectives))) for _ in self.rung_steps]
        self._violations: list[list[float]] = [[] for _ in self.rung_steps]

    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Decision:
        if step >= self.max_resource:  # a full trial's last report: nothing left to save (a bound it breaks
            return Decision(False)     # makes it complete and infeasible, as without a pruner)
        _, broken = hard_violation(self.problem, metrics)
        if broken:
            return Decision(True, f"pruned at step {step:g}: {broken}")
        if not reports_an_objective(self.problem, metrics):
            return Decision(False)  # nothing to rank it by: it joins the rungs with its first report that has one
        decision = Decision(False)
        for k, rung_step in enumerate(self.rung_steps):
            if not at_rung(step, rung_step) and step < rung_step or number in self._rungs[k]:
                continue
            decision = self._record(k, number, metrics)
            if decision.prune:
                if not at_rung(step, rung_step):  # a report past the rung's step (reports every few epochs): say which
                    decision = Decision(True, decision.reason.replace(
                        f"(step {rung_step:g})", f"(step {rung_step:g}, judged on the report at step {step:g})", 1))
                break
        return decision

    def _record(self, k: int, number: int, metrics: Mapping[str, float]) -> Decision:
        """Record ``number`` in rung ``k`` and decide whether it goes on."""
        rung = self._rungs[k]
        rung[number] = dict(metrics)
        members = list(rung)
        self._points[k] = _appended(self._points[k], points(self.problem, [metrics])[0], len(members))
        self._violations[k].append(hard_violation(self.problem, metrics)[0])
        Y = self._points[k][: len(members)]
        Y = Y[:, np.isfinite(Y[-1])]  # judged on the objectives its report carries; a member without one ranks behind
        position = position_of_last(Y, np.array(self._violations[k]))
        if position <= len(members) / self.reduction_factor:
            self._promoted[k].add(number)
            return Decision(False)
        copied = [m for m, y in zip(members[:-1], Y[:-1], strict=True)
                  if Y.shape[1] > 1 and np.array_equal(y, Y[-1])]  # one objective: ties, not copies
        same = next((m for m in copied if m in self._promoted[k]), copied[0] if copied else None)
        copy = ("" if same is None else
                f" (the same point as trial #{same}'s report, which the rung kept: it keeps one of each point)"
                if same in self._promoted[k] else
                f" (the same point as trial #{same}'s report: a copy ranks behind every distinct report)")
        return Decision(
            True,
            f"pruned at rung {k + 1} of {len(self.rung_steps)} (step {self.rung_steps[k]:g}): ranked {position + 1} of {len(members)}, "
            f"outside the best 1/{self.reduction_factor}{copy}",
        )

    def promoted(self, k: int) -> set[int]:
        """The trials rung ``k`` let go on (for reports and tests)."""
        return set(self._promoted[k])

    def rung(self, k: int) -> dict[int, dict[str, float]]:
        """Rung ``k``'s trials and the metrics each was recorded with."""
        return {n: dict(m) for n, m in self._rungs[k].items()}


def _appended(buffer: np.ndarray, row: np.ndarray, count: int) -> np.ndarray:
    """``buffer`` (its first ``count - 1`` rows in use) with ``row`` as its row ``count - 1``; it doubles when full,
    so a rung of n members costs n row copies in all, not n squared."""
    if count > len(buffer):
        grown = np.empty((max(2 * len(buffer), 16), buffer.shape[1]))
        grown[: count - 1] = buffer[: count - 1]
        buffer = grown
    buffer[count - 1] = row
    return buffer


def check_resources(owner: str, min_resource: Any, max_resource: Any, reduction_factor: Any) -> None:
    """Check a successive-halving pruner's options.

    Args:
        owner: the pruner's name, for the message.
        min_resource: the first rung's step: a positive number.
        max_resource: the longest training: a positive number above ``min_resource``.
        reduction_factor: an integer of 2 or more.

    Raises:
        ConfigError: naming the option, what it must be and what was received.
    """
    check_positive_number(owner, "min_resource", min_resource)
    check_positive_number(owner, "max_resource", max_resource)
    check_positive_int(owner, "reduction_factor", reduction_factor, minimum=2)
    if min_resource >= max_resource:
        raise ConfigError(f"{owner}: min_resource must be below max_resource; received {min_resource!r} >= {max_resource!r}")


def at_rung(step: float, rung_step: float) -> bool:
    """Whether a report's step is a rung's.

    Args:
        step: the report's step.
        rung_step: the rung's step.

    Returns:
        True when they agree to a relative 1e-9 (0.7 x 3 is the rung 2.0999999999999996, which a report at 2.1 is).
    """
    return math.isclose(step, rung_step, rel_tol=1e-9)


def rung_steps(min_resource: float, max_resource: float, reduction_factor: int) -> list[float]:
    """``min_resource * reduction_factor**k`` below ``max_resource`` (1, 3, 9 for 1 / 27 / 3). A product just above
    its 12-significant-digit rounding takes the rounding: 0.1 x 3 is the step 0.3 a user reports, not
    0.30000000000000004, which a report at 0.3 stays below. A rung never moves above its product (2/3 stays
    0.6666666666666666, which a report at 2/3 reaches; 3**27 stays exact)."""
    steps, k = [], 0
    while (exact := float(min_resource) * reduction_factor ** k) < max_resource * (1 - 1e-12):
        r = min(exact, float(f"{exact:.12g}"))
        steps.append(int(r) if r.is_integer() else r)
        k += 1
    return steps
