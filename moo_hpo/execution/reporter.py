"""How ``trial.report`` and ``trial.should_prune`` reach the study from wherever the trial runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import StorageError
from moo_hpo.trial import Trial

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["DetachedOnCopy", "StudyReporter"]


class DetachedOnCopy:
    """A trial's reporter whose copy is nothing: ``dataclasses.asdict(trial)``, which copies each field, gives
    ``_reporter: None`` (the result is JSON) rather than a handle on the study, a worker's pipe to it or a Dask
    channel, which cannot be copied. (A copied or pickled trial leaves its reporter out already.)"""

    def __copy__(self) -> None:
        return None

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        return None


class StudyReporter(DetachedOnCopy):
    """The study's end: used in this process directly, and by the executors that relay reports from worker
    processes (:mod:`moo_hpo.execution.workers`) and Dask tasks (:mod:`moo_hpo.execution.cluster`)."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.storage_failure: StorageError | None = None  # the first report the study's file could not take

    def report(self, trial: Trial, step: float, metrics: Mapping[str, float]) -> None:
        """Record the report in the study; mirror it on ``trial`` when it is a copy of the record.

        Raises:
            StorageError: when the study's file cannot take it; kept in ``storage_failure`` too, for the study
                loop to stop on (the objective that reported may catch it, or run in another process).
        """
        try:
            self.study.report(trial.number, step, metrics)
        except StorageError as exc:
            self.storage_failure = self.storage_failure or exc
            raise
        record = self.study.trial(trial.number)
        if trial is not record:
            trial.reports.append(record.reports[-1])

    def should_prune(self, trial: Trial) -> bool:
        """The study's pruner's latest answer for the trial."""
        return self.study.should_prune(trial.number)

    def restart(self, trial: Trial) -> None:
        """A trial runs again from its start (Dask ran it again after its worker was lost): its new reports
        replace the earlier attempt's, in memory and in the store."""
        self.study.trial(trial.number).reports.clear()
        self.study._store.delete_reports(trial.number)
