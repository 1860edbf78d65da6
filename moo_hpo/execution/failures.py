"""A failed trial's log line, and the stop of a run whose first trials all fail the same way (a typo in a metric's
name, a bug in the objective): said at once instead of spending the budget on it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from moo_hpo.exceptions import MooHpoError
from moo_hpo.execution.probe_checks import first_finished
from moo_hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["SAME_FAILURE_STOP", "failure_kind", "report_failure"]

logger = logging.getLogger("moo_hpo")

#: A study whose first this-many finished trials all failed with one reason stops with that reason.
SAME_FAILURE_STOP = 5


def _failure_key(error: str | None) -> str:
    """What makes two failures the same for :func:`report_failure`: the first line of the reason, to the letter; for a
    result of the wrong form (``the objective returned tuple ((0.63, 0.37)); ...``, ``metric 'a' is not a number``),
    without its numbers."""
    first = (error or "").splitlines()[0] if error else ""
    return failure_kind(first) if first.startswith(("the objective returned ", "metric ")) else first


#: the characters of a failed trial's reason the log shows (the trial's ``error`` keeps it whole)
LOGGED_REASON = 800


def report_failure(study: Study, trial: Trial, first: int) -> None:
    """Log a failed trial's one-line reason; stop a run whose first trials (numbered from ``first``) all fail alike.

    Raises:
        MooHpoError: when the run's first :data:`SAME_FAILURE_STOP` finished trials that ran (skipped ones left out)
            failed with one reason (a typo in a metric name, a bug in the objective); its ``failed_alike`` is True.
    """
    reason = (trial.error or "unknown").splitlines()[0]
    if len(reason) > LOGGED_REASON:  # cut at a word, saying where the rest is
        reason = reason[:LOGGED_REASON].rsplit(" ", 1)[0] + f" ... (the whole reason in trial {trial.number}'s error)"
    logger.warning("trial %d failed: %s", trial.number, reason)
    # judged once per run (a run again of a study that stopped so is stopped again), at the fifth of its trials to
    # finish after running the objective (several may be told at once, while an optimizer proposes)
    ran = [t for t in study.trials[first:] if t.status is not TrialStatus.INFEASIBLE_SKIPPED]
    finished = first_finished(ran, SAME_FAILURE_STOP)
    if len(finished) < SAME_FAILURE_STOP or trial.number != finished[-1].number:
        return
    # one reason to the letter: failures that differ in a number (a loss diverging at another step) may be the
    # search's own findings, not a mistake in the objective; but a result of the wrong form (a tuple, text for a
    # number) is the objective's mistake whatever values it holds: those are compared without their numbers
    reasons = {_failure_key(t.error) if t.status is TrialStatus.FAILED else None for t in finished}
    if len(reasons) == 1 and None not in reasons:
        fix = "Fix the objective and run it again"
        if reason.startswith("missing metric(s)"):  # the name may be wrong in the study's definition instead
            fix = ("Fix the metric's name in the objective, or in the study's objectives and constraints (a study file "
                   "keeps the definition it was created with: give the corrected study a new file), and run it again")
        where = "the study" if study._store.location == ":memory:" else study._store.location  # the CLI adds its count
        error = MooHpoError(f"the first {SAME_FAILURE_STOP} trials{' of this run' if first else ''} all failed the same way, so "
                            f"the study stops: {reason}. "
                            f"{fix} (the failed trials stay in {where})")
        error.failed_alike = True  # type: ignore[attr-defined]
        raise error


def failure_kind(error: str | None) -> str:
    """What a failure's reason says, apart from its numbers: its first line with every number as ``#`` (a
    returned value, a size in an out-of-memory error, an address), so that a summary counts failures of one kind as
    one; numbers joined by ``x`` or ``:``, or by two or more ``.`` or ``-`` (a shape ``32x128``, ``10.0.0.5:41234``, a
    date) are one number.
    Digits inside a name are the name's: ``latency_p50_ms`` and ``latency_p99_ms``, ``f1`` and ``f2`` are told apart.

    Args:
        error: a failed trial's error text.

    Returns:
        Its first line, numbers replaced.
    """
    import re

    first = (error or "").strip().splitlines()[0] if (error or "").strip() else ""
    first = re.sub(r"\b0x[0-9a-fA-F]+\b", "#", first)  # an object's address
    # numbers joined by x or :, or by two or more . or - (shapes 32x128, network addresses 10.0.0.5:41234, versions 1.2.3,
    # dates, and a date's T before its time): one number; a decimal 2.5e3 is left to the rule below
    first = re.sub(r"(?<![A-Za-z_\d])\d+(?:[x:]\d+|(?:[.\-]\d+){2,}|T\d+)+(?![\d_])", "#", first)
    return re.sub(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\d_])", "#", first)
