"""How long a study took, from its trials' records: the time its trials ran, and the optimizer's share.

Used by the Bayesian optimizers' time budget (:mod:`moo_hpo.optimizers.bayesian.time_share`) and by the
report's time line (:func:`time_figures`, :func:`time_text`), so both count a study's time the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from moo_hpo.trial import Trial, TrialStatus

__all__ = ["busy_seconds", "proposal_seconds", "time_figures", "time_text"]


def proposal_seconds(trials: Sequence[Trial], key: str = "seconds") -> float:
    """The proposal time the study recorded with ``trials`` (``extra["optimizer"]["seconds"]``), interrupted trials'
    included: the optimizer spent it. ``busy_seconds(trials, with_proposals=True)`` counts the same proposals, so it
    is never less than this.

    Args:
        trials: the trials.
        key: the entry of the proposals' audit trail to add up (``"one_off_seconds"``: the part a Bayesian
            optimizer spent loading BoTorch's kernel).
    """
    total = 0.0
    for t in trials:
        audit = t.extra.get("optimizer") if isinstance(t.extra, dict) else None
        seconds = audit.get(key) if isinstance(audit, dict) else None
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
            total += float(seconds)
    return total


def busy_seconds(trials: Sequence[Trial], with_proposals: bool = False) -> float:
    """The wall time in which any of ``trials`` ran: the union of their start-to-finish intervals (now for a
    running one), so trials on parallel workers count once and pauses between sessions not at all. An
    interrupted trial's run counts nothing: after a crash its end is unknown (its last report at best).

    Args:
        trials: the study's trials.
        with_proposals: count the optimizer's proposals too (the study's wall time, proposing included): each
            trial's proposal (``extra["optimizer"]["seconds"]``) as the time just before it started, an interrupted
            trial's too (its proposal ran before the interruption; only its end is unknown). Proposals made in one
            batch are recorded with one start, so each is laid before the next one's: the proposals never overlap,
            and the result is never less than :func:`proposal_seconds` of the same trials.
    """
    now = time.time()
    started = [t for t in trials if t.started_at is not None]
    spans = [(t.started_at, t.finished_at if t.finished_at is not None else now)
             for t in started if t.status is not TrialStatus.INTERRUPTED]
    if with_proposals:
        before = math.inf  # where the next (later) proposal began
        for t in sorted(started, key=lambda t: (t.started_at, t.number), reverse=True):
            end = min(t.started_at, before)
            before = end - proposal_seconds([t])
            spans.append((before, end))
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def time_figures(trials: Sequence[Trial]) -> dict[str, float]:
    """The report's time figures, over the same finished trials (interrupted ones included), so that the optimizer's
    share of the wall time is at most 100%.

    Args:
        trials: the study's finished trials (a running one's proposal and run are left out of every figure).

    Returns:
        ``wall_seconds``: the wall time in which trials ran or were proposed (:func:`busy_seconds`
        with the proposals: parallel trials count once, pauses between sessions not at all, an interrupted trial
        its proposal only, as its end is unknown); ``trial_seconds``: the trials' own times added
        up (parallel ones each), interrupted trials left out for the same reason; ``proposal_seconds``: what the
        optimizer took to propose them, interrupted trials' proposals included (recorded with each trial since
        moo_hpo 0.1).
    """
    ran = [t for t in trials if t.status is not TrialStatus.INTERRUPTED]
    return {
        "trial_seconds": float(sum(t.duration or 0.0 for t in ran)),
        "wall_seconds": busy_seconds(trials, with_proposals=True),
        "proposal_seconds": proposal_seconds(trials),
    }


def time_text(t: Mapping[str, float]) -> str:
    """The report's time line: wall time, time in trials, and the optimizer's time with its share of the wall time
    (the figures of :func:`time_figures`)."""
    wall, proposing = t["wall_seconds"], t.get("proposal_seconds", 0.0)
    share = f" ({proposing / wall:.0%} of the wall time)" if wall > 0 else ""
    return f"{wall:.1f} s wall, {t['trial_seconds']:.1f} s in trials, {proposing:.1f} s proposing{share}"
