"""What early stopping saved: the steps and the time the complete and pruned trials spent, against full training."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from moo_hpo.trial import TrialStatus

__all__ = ["COMPUTE_RULE", "compute_saved"]

#: How the report estimates what full training would have cost (shown with the compute-saved figures).
COMPUTE_RULE = (
    "Counted over the complete and pruned trials that reported intermediate metrics. A trial trained as many "
    "steps as its last report says. A complete trial was trained fully: it saved nothing (when the number of steps "
    "is itself searched, a short complete trial is no saving). A pruned trial's full training is the largest step "
    "any trial reported (or the pruner's max_resource while no trial completed). "
    "Time: a trial's own time (from its proposal to its result; on a Dask cluster its time on the worker, "
    "without the time it waited for one) is what it spent; its full-training estimate "
    "adds the steps it did not train at its own pace: the time between its first and last reports divided by the "
    "steps between them (start-up and time queued for a worker left out), or for a trial that reported once, the "
    "time from its start to that report divided by its step, at most the median pace of the others."
)


def compute_saved(trials: Sequence[Any], max_resource: float | None = None) -> dict[str, Any] | None:
    """What early stopping saved: steps trained and time spent against full training (see :data:`COMPUTE_RULE`).

    Args:
        trials: the study's trials (those that reported, complete or pruned, are counted).
        max_resource: the pruner's ``max_resource``, when it has one: full training while no trial completed
            (every trial so far was stopped early).

    Returns:
        None when no complete or pruned trial reported; else ``full_step`` (a pruned trial's full training: the
        largest step any trial reported), ``rule`` (the estimate's rule in words), ``steps`` and ``seconds`` (each ``{"trained"`` or
        ``"spent", "full", "saved", "saved_share"}``), ``by_status`` (the same per status: complete, pruned)
        and ``stopped_at`` (how many pruned trials stopped at each step, ``[{"step", "trials"}]``).
    """
    reporting = [t for t in trials if t.reports]
    counted = [t for t in reporting if t.status in (TrialStatus.COMPLETE, TrialStatus.PRUNED) and t.finished_at is not None]
    if not counted:
        return None
    full = max(r["step"] for t in reporting for r in t.reports)
    if max_resource is not None and not any(t.status is TrialStatus.COMPLETE for t in counted):
        full = max(full, max_resource)  # no trial trained fully: the pruner says how far a full trial trains
    paces = [p for t in counted if (p := _pace_between_reports(t)) is not None]
    typical = float(np.median(paces)) if paces else None
    per_status: dict[str, dict[str, float]] = {}
    for t in counted:
        last = t.reports[-1]
        step = max(float(last["step"]), 0.0)
        spent = _spent_seconds(t)
        per_step = _pace_between_reports(t)
        if per_step is None and step > 0:  # one report: from its start, which counts its start-up and queueing too
            queued = max(float(t.finished_at - t.started_at) - spent, 0.0)  # on a Dask cluster: waiting for a worker
            per_step = max(float(last["at"] - t.started_at) - queued, 0.0) / step
            per_step = per_step if typical is None else min(per_step, typical)
        whole = float(full) if t.status is TrialStatus.PRUNED else step  # a complete trial ran its whole training
        estimate = spent if per_step is None else spent + per_step * max(whole - step, 0.0)
        row = per_status.setdefault(t.status.value, {"trials": 0, "trained": 0.0, "full_steps": 0.0, "spent": 0.0, "estimate": 0.0})
        row["trials"] += 1
        row["trained"] += step
        row["full_steps"] += max(whole, step, 0.0)
        row["spent"] += spent
        row["estimate"] += estimate
    by_status = []
    for status in (TrialStatus.COMPLETE.value, TrialStatus.PRUNED.value):
        if status in per_status:
            row = per_status[status]
            by_status.append({"status": status, "trials": int(row["trials"]), "steps": _saving(row["trained"], row["full_steps"], "trained"),
                              "seconds": _saving(row["spent"], row["estimate"], "spent")})
    stopped = Counter(t.reports[-1]["step"] for t in counted if t.status is TrialStatus.PRUNED)
    return {
        "full_step": full,
        "rule": COMPUTE_RULE,
        "trials": len(counted),
        "steps": _saving(sum(r["trained"] for r in per_status.values()), sum(r["full_steps"] for r in per_status.values()), "trained"),
        "seconds": _saving(sum(r["spent"] for r in per_status.values()), sum(r["estimate"] for r in per_status.values()), "spent"),
        "by_status": by_status,
        "stopped_at": [{"step": s, "trials": n} for s, n in sorted(stopped.items())],
    }


def _spent_seconds(trial: Any) -> float:
    """A trial's own time: on a Dask worker, its time there (``extra["worker"]["run_seconds"]``: a busy cluster's
    queue left out); else from its proposal to its result."""
    where = trial.extra.get("worker") if isinstance(trial.extra, dict) else None
    ran = _number(where.get("run_seconds")) if isinstance(where, dict) else None
    return max(ran if ran is not None else float(trial.finished_at - trial.started_at), 0.0)


def _pace_between_reports(trial: Any) -> float | None:
    """Seconds per step between a trial's first and last reports (start-up and time queued for a worker left out),
    or None with fewer than two reports at different steps."""
    first, last = trial.reports[0], trial.reports[-1]
    steps = float(last["step"]) - float(first["step"])
    return max(float(last["at"] - first["at"]), 0.0) / steps if steps > 0 else None


def _saving(used: float, full: float, label: str) -> dict[str, float]:
    """``{label: used, "full", "saved", "saved_share"}``; whole step counts stay integers, seconds are floats."""
    kind = (lambda v: int(v) if float(v).is_integer() else float(v)) if label == "trained" else float
    return {label: kind(used), "full": kind(full), "saved": kind(full - used), "saved_share": (full - used) / full if full > 0 else 0.0}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
