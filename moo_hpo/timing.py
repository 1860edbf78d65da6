"""How long a study took, from its trials' records: the time its trials ran, and the optimizer's share.

Used by the Bayesian optimizers' time budget (:mod:`moo_hpo.optimizers.bayesian.time_share`) and by the
report's time line (:mod:`moo_hpo.reports.data`), so both count a study's time the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from moo_hpo.trial import Trial, TrialStatus

__all__ = ["busy_seconds", "proposal_seconds"]


def proposal_seconds(trials: Sequence[Trial]) -> float:
    """The proposal time the study recorded with ``trials`` (``extra["optimizer"]["seconds"]``)."""
    total = 0.0
    for t in trials:
        audit = t.extra.get("optimizer") if isinstance(t.extra, dict) else None
        seconds = audit.get("seconds") if isinstance(audit, dict) else None
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            total += float(seconds)
    return total


def busy_seconds(trials: Sequence[Trial], with_proposals: bool = False) -> float:
    """The wall time in which any of ``trials`` ran: the union of their start-to-finish intervals (now for a
    running one), so trials on parallel workers count once and pauses between sessions not at all. An
    interrupted trial counts nothing: its end is when the study noticed, after a crash maybe much later.

    Args:
        trials: the study's trials.
        with_proposals: let each interval begin when the optimizer began proposing the trial (the study's wall
            time, proposing included), not when the trial started.
    """
    now = time.time()
    spans = sorted(
        (t.started_at - (proposal_seconds([t]) if with_proposals else 0.0), t.finished_at if t.finished_at is not None else now)
        for t in trials
        if t.started_at is not None and t.status is not TrialStatus.INTERRUPTED
    )
    total, reach = 0.0, -math.inf
    for start, end in spans:
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total
