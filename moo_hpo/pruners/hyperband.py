"""Asynchronous Hyperband over MOASHA: brackets that differ in how early they first stop a trial.

Bracket ``s`` (``s = 0 .. s_max``) is a :class:`~moo_hpo.pruners.MOASHA` whose first rung sits at
``min_resource * reduction_factor**s``: bracket 0 stops the most aggressively, the last one never stops a
trial before ``max_resource / reduction_factor``. Trials join brackets in turn in the order of their first
report that is ranked (one with an objective, before ``max_resource``; Li et al., 2020 draw them at random with
fixed weights; turns keep a replayed study identical without a seed), so a study hedges between trusting early
rungs and training longer before it judges.
"""

from __future__ import annotations

from collections.abc import Mapping

from moo_hpo.problem import Problem
from moo_hpo.pruners.asha import MOASHA, check_resources
from moo_hpo.pruners.base import Decision, Pruner, hard_violation, reports_an_objective

__all__ = ["Hyperband"]


class Hyperband(Pruner):
    """Asynchronous Hyperband with MOASHA brackets (see the module docstring).

    Args:
        min_resource: the first rung's step in the most aggressive bracket.
        max_resource: the step a trial trains to at most.
        reduction_factor: eta of every bracket.

    Raises:
        ConfigError: (at setup) for a non-positive resource, ``min_resource >= max_resource`` or
            ``reduction_factor < 2``.
    """

    name = "hyperband"

    def __init__(self, min_resource: float = 1, max_resource: float = 27, reduction_factor: int = 3) -> None:
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.reduction_factor = reduction_factor

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        check_resources(self.name, self.min_resource, self.max_resource, self.reduction_factor)
        first = MOASHA(self.min_resource, self.max_resource, self.reduction_factor)
        first.setup(problem)
        self.rung_steps = first.rung_steps  # every bracket's rungs are among the first's (to a relative 1e-9: at_rung)
        self.brackets = [first]
        for start in first.rung_steps[1:]:
            bracket = MOASHA(start, self.max_resource, self.reduction_factor)
            bracket.setup(problem)
            self.brackets.append(bracket)
        self._bracket_of: dict[int, int] = {}

    def bracket(self, number: int) -> int:
        """The bracket trial ``number`` belongs to (trials join them in turn, in order of first ranked report)."""
        if number not in self._bracket_of:
            self._bracket_of[number] = len(self._bracket_of) % len(self.brackets)
        return self._bracket_of[number]

    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Decision:
        unranked = step >= self.max_resource or not reports_an_objective(self.problem, metrics)
        if number not in self._bracket_of and (unranked or hard_violation(self.problem, metrics)[1]):
            return self.brackets[0].decide(number, step, metrics)  # not ranked, or stopped by a bound: no turn taken
        s = self.bracket(number)
        decision = self.brackets[s].decide(number, step, metrics)
        if decision.prune:
            return Decision(True, f"bracket {s + 1} of {len(self.brackets)}: {decision.reason}")  # counted from one, as rungs
        return decision


