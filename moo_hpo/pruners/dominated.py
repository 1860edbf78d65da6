"""The simple rule: stop a trial whose report is clearly dominated by other trials' reports at the same step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from moo_hpo.problem import Problem
from moo_hpo.pruners.base import (
    Decision,
    Pruner,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
    hard_violation,
    points,
)

__all__ = ["DominatedPruner"]


class DominatedPruner(Pruner):
    """Stop a trial when, at the same step, another trial's report dominates its own by more than a margin.

    "By more than a margin": the other report is better in every objective by at least ``margin`` times
    the spread of that objective among the step's reports (0.1: a tenth of the spread; where every report
    of the step has the same value, an equal value passes), and strictly better in one. Only the objectives
    the report carries count. A trial is never stopped before ``min_reports`` other trials reported at that
    step, nor before ``min_step``, nor at or beyond ``max_resource`` (its last report: nothing left to save).
    A report beyond a hard bound stops the trial at once (as with :class:`~moo_hpo.pruners.MOASHA`).

    Args:
        margin: the margin, a share of each objective's spread at the step (a finite number, 0 or more).
        min_reports: other trials' reports at the step needed before it judges.
        min_step: no trial stops before this step (a finite number, 0 or more).
        max_resource: the step a full trial trains to (its last report is never judged); None: every report
            is judged, the last one included, which records a trial stopped there as pruned.

    Raises:
        ConfigError: (at setup) for a margin or min_step that is not a finite number >= 0, min_reports < 1,
            or a max_resource that is not a positive number (or None).
    """

    name = "dominated"

    def __init__(self, margin: float = 0.1, min_reports: int = 3, min_step: float = 1,
                 max_resource: float | None = None) -> None:
        self.margin = margin
        self.min_reports = min_reports
        self.min_step = min_step
        self.max_resource = max_resource

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        check_non_negative_number(self.name, "margin", self.margin)
        check_non_negative_number(self.name, "min_step", self.min_step)
        check_positive_int(self.name, "min_reports", self.min_reports)
        if self.max_resource is not None:
            check_positive_number(self.name, "max_resource", self.max_resource)
        self._at_step: dict[float, dict[int, dict[str, float]]] = {}

    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Decision:
        if self.max_resource is not None and step >= self.max_resource:
            return Decision(False)
        _, broken = hard_violation(self.problem, metrics)
        if broken:
            return Decision(True, f"pruned at step {step:g}: {broken}")
        reports = self._at_step.setdefault(step, {})
        numbers = [n for n, m in reports.items() if n != number and hard_violation(self.problem, m)[0] == 0]
        others = [reports[n] for n in numbers]
        reports[number] = dict(metrics)
        if step < self.min_step or len(others) < self.min_reports:
            return Decision(False)
        Y = points(self.problem, [metrics, *others])
        reported = np.isfinite(Y[0])  # judged on the objectives this report carries
        if not reported.any():
            return Decision(False)
        Y = Y[:, reported]
        finite = Y[np.isfinite(Y).all(axis=1)]
        spread = finite.max(axis=0) - finite.min(axis=0)
        shifted = Y[1:] + self.margin * spread  # the others, made worse by the margin
        beats = np.isfinite(shifted).all(axis=1) & (shifted <= Y[0]).all(axis=1) & (shifted < Y[0]).any(axis=1)
        if beats.any():
            by = [numbers[i] for i in np.flatnonzero(beats)]
            more = f" and {len(by) - 1} other trial{'s' if len(by) > 2 else ''}" if len(by) > 1 else ""
            return Decision(True, f"pruned at step {step:g}: dominated by trial #{by[0]}{more} by at least the margin")
        return Decision(False)
