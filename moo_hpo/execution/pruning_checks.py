"""Checks of a study with a pruner: an objective that cannot report (before the first trial), and one that can but
never does (after the first complete trials): either way nothing is stopped early, which the user should hear."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moo_hpo.execution.executors import takes_trial
from moo_hpo.pipeline import takes_trial_at
from moo_hpo.trial import TrialStatus
from moo_hpo.user_warnings import warn

if TYPE_CHECKING:
    from moo_hpo.study import Study
    from moo_hpo.trial import Trial

__all__ = ["NO_REPORTS_WARN", "check_can_report", "note_no_reports"]

#: When this many trials of a study with a pruner have completed and none reported intermediate metrics, optimize
#: warns (once) that the pruner has nothing to judge.
NO_REPORTS_WARN = 3

_NOTED_NO_REPORTS: weakref.WeakSet[Any] = weakref.WeakSet()  # the studies warned of it in this process


def check_can_report(study: Study, fn: Callable[..., Any], with_model: bool, through_pipeline: bool) -> bool:
    """Warn when the study has a pruner but the objective is not given the trial (as the executors and
    :class:`~moo_hpo.pipeline.ProbePipeline` decide): it cannot report, so nothing is pruned.

    Returns:
        Whether the objective is given the trial (so that it can report).
    """
    if takes_trial_at(fn, 2 if with_model else 1) if through_pipeline else takes_trial(fn):
        return True
    if study.pruner is None:
        return False
    call = "fit(model, config, trial)" if with_model else "fn(config, trial)"
    warn(
        f"the study has a pruner ({study.pruner!r}), but the objective {getattr(fn, '__name__', fn)!r} takes no trial, "
        f"so it cannot report and no trial is pruned; write it as {call} and call trial.report(step, metrics) "
        "and trial.should_prune() while it trains",
    )
    return False


def note_no_reports(study: Study, trial: Trial) -> None:
    """Warn, once per study and process (once :data:`NO_REPORTS_WARN` trials have completed, in whatever order
    parallel workers finish them), that the study has a pruner but none of its trials reported intermediate metrics:
    the objective takes the trial but never calls ``trial.report``."""
    if study.pruner is None or study in _NOTED_NO_REPORTS:
        return
    if any(t.reports for t in study.trials):  # first: it stops at the first trial that reported
        return
    if sum(t.status is TrialStatus.COMPLETE for t in study.trials) < NO_REPORTS_WARN:
        return
    _NOTED_NO_REPORTS.add(study)
    warn(
        f"the study has a pruner ({study.pruner!r}), but none of its first {NO_REPORTS_WARN} complete trials reported "
        "intermediate metrics, so the pruner has nothing to judge and every trial trains to the end: call "
        "trial.report(step, metrics) after each epoch, then trial.should_prune() (or raise mh.TrialPruned())",
    )
