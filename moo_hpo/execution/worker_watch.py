"""Says when a Dask study's trials wait because no worker is left to run them, because the workers are busy
with tasks that are not the study's, or because Dask paused workers at their memory limit, and when workers are back.

Dask keeps a trial whose worker died (or that has not started) on the scheduler until a worker can run it, so a
study whose every worker is gone waits without an error; the progress line alone would show nothing moving. The
same silence follows a study resumed after its process was killed: the killed run's trials run on on the workers
(Dask cannot stop a started task). A :class:`WorkerWatch` looks at the cluster every few seconds from a daemon
thread and logs the first time trials wait on no worker, or on workers busy with other tasks, and again when
workers return.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("moo_hpo")

__all__ = ["WATCH_SECONDS", "WorkerWatch"]

#: How often the watch looks at the cluster.
WATCH_SECONDS = 5.0


class WorkerWatch:
    """Logs when running trials have no worker slot to run on, once per such spell, and when slots return.

    Args:
        slots: how many trials the cluster's workers can run at once now (0: none can).
        running: how many trials the study has running (submitted, not finished).
        where: the scheduler, in words, for the message.
        every: seconds between looks (None: :data:`WATCH_SECONDS`).
        crowded: ``(the study's trials waiting for a worker, tasks that are not the study's running on the
            workers)``, or None not to look.
        paused: the workers Dask paused at their memory limit (a worker that holds too much memory runs no task
            until it frees some), or None not to look.
        study: the study's name, for the messages (two studies may share a cluster, and a process); None: unnamed.
    """

    def __init__(self, slots: Callable[[], int], running: Callable[[], int], where: str, every: float | None = None,
                 crowded: Callable[[], tuple[int, int]] | None = None, paused: Callable[[], list[str]] | None = None,
                 study: str | None = None) -> None:
        self.slots, self.running, self.where, self.crowded, self.paused = slots, running, where, crowded, paused
        self.study = "the study" if study is None else f"the study {study!r}"
        self.paused_said: set[str] = set()  # the paused workers said, for the spell they are paused in
        self.every = WATCH_SECONDS if every is None else every
        self.waiting = False  # inside a spell without workers
        self._crowded_looks = 0  # consecutive looks that found trials waiting behind other tasks (said at the second)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="moo_hpo-worker-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)  # a daemon thread: a look still waiting on the scheduler is left to end

    def look(self) -> None:
        """One look at the cluster (what the thread does every ``every`` seconds)."""
        try:
            slots, running = self.slots(), self.running()
        except Exception:  # noqa: BLE001 - a scheduler that cannot answer is the study loop's to report
            return
        paused = self._look_for_paused(running)
        if slots == 0 and running and not self.waiting and not paused:  # paused workers: said above, and they are there
            self.waiting = True
            logger.warning(
                "no Dask worker is left on the scheduler %s that can run the study's trials: %d trial(s) wait for one "
                "(start workers; or stop with Ctrl-C, every finished trial is saved)", self.where, running,
            )
        elif slots > 0 and self.waiting:
            self.waiting = False
            logger.warning("Dask workers are back on the scheduler %s: %d trial(s) can run at once", self.where, slots)
        if slots > 0 and self.crowded is not None:
            self._look_for_other_tasks()

    def _look_for_paused(self, running: int) -> bool:
        """Log once per spell when workers are paused at their memory limit while the study has trials running.

        Returns:
            Whether any worker is paused.
        """
        try:
            paused = set(self.paused()) if self.paused is not None else set()
        except Exception:  # noqa: BLE001 - as in look
            return False
        new = paused - self.paused_said
        self.paused_said &= paused  # a worker that resumed may pause again: said again then
        if new and running:
            self.paused_said |= new
            logger.warning(
                "Dask paused %d worker(s) on %s at their memory limit (%s): a paused worker runs no trial until it frees "
                "memory, so the trials on it wait. An objective that keeps memory between trials (a cache, a growing "
                "list) fills a long-lived worker: free it in the objective, or let the nanny restart such a worker "
                "(dask config distributed.worker.memory.pause: false, so that it restarts at its terminate threshold "
                "instead of pausing)", len(new), self.where, ", ".join(sorted(new)),
            )
        return bool(paused)

    def _look_for_other_tasks(self) -> None:
        """Log once per spell when the study's trials wait while the workers run tasks that are not its own."""
        try:
            waiting, others = self.crowded()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - as above
            return
        if not (waiting and others):
            self._crowded_looks = 0
            return
        self._crowded_looks += 1
        if self._crowded_looks == 2:  # not a moment's overlap as the study's trials start
            logger.warning(
                "%d trial(s) of %s wait for a Dask worker: the workers on %s are busy with %d task(s) that are "
                "not this study's (another study's, or the trials of a run of this one that was stopped or killed: "
                "Dask cannot stop a started task, so they run on to their end, or stop at their next report: at once after "
                "a Ctrl-C, 2 minutes after a kill; client.restart() stops them)", waiting, self.study, self.where, others,
            )

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            self.look()
