"""The simple rule: stop a trial whose report is clearly dominated by other trials' reports at the same step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.problem import Problem
from moo_hpo.pruners.base import (
    Decision,
    Pruner,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
    hard_violation,
    points,
    reports_an_objective,
)

__all__ = ["DominatedPruner"]


class DominatedPruner(Pruner):
    """Stop a trial when, at the same step, another trial's report dominates its own by at least a margin.

    "By a margin": the other report is better in every objective by at least ``margin`` times
    the spread of that objective among the step's comparable reports (0.1: a tenth of the spread; where every report
    of the step has the same value, an equal value passes), and strictly better in one. Only the objectives
    the report carries count. A trial is never stopped before ``min_reports`` other trials reported at that
    step that carry its objectives, nor before ``min_step``, nor at or beyond ``max_resource`` (its last report:
    nothing left to save). A report without any objective is not judged.
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
            if self.min_step >= self.max_resource:
                raise ConfigError(
                    f"{self.name}: min_step must be below max_resource (no report before the last one would be "
                    f"judged, so no trial would stop); received min_step={self.min_step!r}, max_resource={self.max_resource!r}"
                )
        # step -> trial -> its report's point (reports that broke a hard bound stopped at once and are not kept)
        self._at_step: dict[float, dict[int, np.ndarray]] = {}

    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Decision:
        if self.max_resource is not None and step >= self.max_resource:
            return Decision(False)
        _, broken = hard_violation(self.problem, metrics)
        if broken:
            return Decision(True, f"pruned at step {step:g}: {broken}")
        if not reports_an_objective(self.problem, metrics):
            return Decision(False)  # nothing to compare it by (nor to compare others with)
        reports = self._at_step.setdefault(step, {})
        numbers = [n for n in reports if n != number]
        mine = points(self.problem, [metrics])[0]
        reports[number] = mine
        if step < self.min_step:
            return Decision(False)
        Y = np.vstack([mine, *(reports[n] for n in numbers)]) if numbers else mine[None, :]
        Y = Y[:, np.isfinite(Y[0])]  # judged on the objectives this report carries, against the reports that have them
        comparable = np.isfinite(Y[1:]).all(axis=1)
        if comparable.sum() < self.min_reports:
            return Decision(False)
        numbers = [n for n, ok in zip(numbers, comparable, strict=True) if ok]
        Y = np.vstack([Y[:1], Y[1:][comparable]])
        spread = Y.max(axis=0) - Y.min(axis=0)
        shifted = Y[1:] + self.margin * spread  # the others, made worse by the margin
        beats = (shifted <= Y[0]).all(axis=1) & (shifted < Y[0]).any(axis=1)
        if beats.any():
            by = [numbers[i] for i in np.flatnonzero(beats)]
            more = f" and {len(by) - 1} other trial{'s' if len(by) > 2 else ''}" if len(by) > 1 else ""
            return Decision(True, f"pruned at step {step:g}: dominated by trial #{by[0]}{more} by at least the margin")
        return Decision(False)
