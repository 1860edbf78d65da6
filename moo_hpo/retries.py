"""Interrupted trials run again: the configurations a study was evaluating when it stopped.

A trial that was running when its study stopped (Ctrl-C, a crash of the study's process, an error in another
trial) is recorded ``interrupted``: its configuration is not to blame, but its work is lost. When the study goes
on, in the same process or after :meth:`~moo_hpo.Study.load`, each such configuration is proposed again before
the queued and the optimizer's ones, as a new trial (``trial.optimizer == "enqueued"``,
``trial.extra["retry_of"]`` = the interrupted trial's number), so that what the optimizer chose to evaluate is
evaluated. A configuration runs again once: a retry that is interrupted in turn (a trial that hangs until the
user presses Ctrl-C, one that takes the study's process down with it) is not retried, and neither are
repetitions of :meth:`~moo_hpo.Study.reevaluate` (it counts the repetitions it still owes itself).
``Study(..., retry_interrupted=False)`` turns it off and forgets the retries a study file still holds.

The queue is kept in the study's file (its ``retries`` entry: the interrupted trials' numbers), so a study killed
before its retries ran runs them on the next opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from moo_hpo.robust import REEVALUATE, REPEAT_OF
from moo_hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from moo_hpo.storage import Store

__all__ = ["RETRIES", "RETRY_OF", "RetryQueue", "is_retry_eligible", "retry_extra"]

RETRIES = "retries"  # the store's entry: numbers of interrupted trials whose configurations run again
RETRY_OF = "retry_of"  # a retry's extra: the number of the interrupted trial it runs again


def is_retry_eligible(trial: Trial) -> bool:
    """True for an interrupted trial that is neither a retry nor a repetition of :meth:`~moo_hpo.Study.reevaluate`."""
    extra = trial.extra if isinstance(trial.extra, dict) else {}
    return trial.status is TrialStatus.INTERRUPTED and RETRY_OF not in extra and trial.optimizer != REEVALUATE


def retry_extra(trial: Trial) -> dict[str, Any]:
    """The ``extra`` a retry of ``trial`` starts with: the link to it, and the link of a repetition an optimizer asked
    for (a Bayesian optimizer's noise check) to its original, so that the retry is that repetition."""
    extra = trial.extra if isinstance(trial.extra, dict) else {}
    return {RETRY_OF: trial.number, **({REPEAT_OF: extra[REPEAT_OF]} if REPEAT_OF in extra else {})}


class RetryQueue:
    """The interrupted trials whose configurations a study runs again, in the order they were interrupted.

    Args:
        store: the study's store (read for the queue; written as it changes, unless read-only).
        trials: the study's trials (a stored number that names none, or whose retry among them ran, as after a crash
            between recording a retry and updating the queue, is dropped).
        enabled: False forgets the stored queue and queues nothing more.
    """

    def __init__(self, store: Store, trials: Sequence[Trial], enabled: bool) -> None:
        self._store = store
        self.enabled = enabled
        stored: Any = store.get_meta(RETRIES) or []
        retried = {t.extra.get(RETRY_OF) for t in trials if isinstance(t.extra, dict) and t.status is not TrialStatus.INTERRUPTED}
        self.numbers: list[int] = [n for n in stored if isinstance(n, int) and 0 <= n < len(trials)
                                   and n not in retried] if enabled else []
        if not store.read_only and stored != self.numbers:
            store.set_meta(RETRIES, self.numbers)

    def add(self, trial: Trial) -> bool:
        """Queue ``trial``'s configuration to run again; True when it was queued (see :func:`is_retry_eligible`)."""
        if not self.enabled or not is_retry_eligible(trial) or trial.number in self.numbers:
            return False
        self.numbers.append(trial.number)
        self._store.set_meta(RETRIES, self.numbers)
        return True

    def requeue(self, number: int) -> None:
        """Put ``number`` first in the queue again (its retry was recorded but never started: the study stopped)."""
        if number not in self.numbers:
            self.numbers.insert(0, number)
            self._store.set_meta(RETRIES, self.numbers)

    def pop(self) -> int:
        """Take the first queued number (the caller has proposed its configuration)."""
        number = self.numbers.pop(0)
        self._store.set_meta(RETRIES, self.numbers)
        return number
