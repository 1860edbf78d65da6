"""The progress display of :meth:`moo_hpo.Study.optimize`: trials done, hypervolume, feasible, failures, and
the time the optimizer spent proposing."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from moo_hpo.study import Study
    from moo_hpo.trial import Trial

__all__ = ["PLAIN_LINE_SECONDS", "Progress"]

#: Without a terminal, a progress line every tenth of the trials or this many seconds, whichever comes first.
PLAIN_LINE_SECONDS = 60.0
#: The progress display's hypervolume is computed again at most this often (seconds), and for every printed line.
HV_EVERY_S = 1.0


class Progress:
    """A rich progress bar over one :meth:`~moo_hpo.Study.optimize` call.

    The hypervolume is shown once the reference point is frozen, computed again at most every second and for each printed line; "optimizer" is the
    time the optimizer's ask and tell took in this call and its share of the call's wall time. Without a
    terminal (output to a file, a CI log) a plain line goes to standard error every tenth of the trials
    or every minute, and a line every minute without one says what the study is waiting for (running trials,
    or the optimizer's proposal), so a long model step or a slow trial is not mistaken for a hang.

    Args:
        study: the study being optimized.
        total: the number of trials of this call, when known.
        enabled: False shows nothing.
    """

    def __init__(self, study: Study, total: int | None, enabled: bool) -> None:
        self.study = study
        self.enabled = enabled
        self.total = total
        self._progress = None
        self._plain = False
        self._hv: float | None = None
        self._hv_at = 0.0
        self._started = time.monotonic()
        self._optimizer_seconds_before = study.optimizer_seconds
        self._resumed = bool(study.trials)  # the counts are the study's: said, beside this call's trials
        # a stored study reopened: its first optimize says so (shown or not, the next call is not its first)
        self._resuming = len(study.trials) if getattr(study, "_resume_unsaid", 0) else 0
        study._resume_unsaid = 0

    def __enter__(self) -> Progress:
        stored = self._resuming
        if self.enabled and stored:  # a script run again goes on with its file's study: said before the first bar
            more = f"this call runs {self.total} more" if self.total is not None else "this call adds trials until its timeout"
            print(f"resuming {self.study.name!r} from {self.study._store.location}: {stored} trial{'s' if stored != 1 else ''} "
                  f"stored; {more} (another storage file, or deleting this one, starts afresh)", file=sys.stderr, flush=True)
        if self.enabled and not sys.stderr.isatty():
            # no terminal (a log file, a CI job, a notebook's captured output): a plain line now and then
            self._plain = True
            self._last_line = time.monotonic()
            self._done = 0
            self._quiet = threading.Event()
            self._heartbeat_thread = threading.Thread(target=self._heartbeat, name="moo_hpo-progress", daemon=True)
            self._heartbeat_thread.start()
            return self
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}", style="bold", markup=False),  # the name is text: '[/x]' is no markup
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[stats]}", markup=False),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.study.name, total=self.total, stats=self._stats())
        return self

    def _stats(self, trial: Trial | None = None, fresh: bool = False) -> str:
        s = self.study
        hv = self._hypervolume(trial, fresh)
        hv_text = f"HV {hv:.4g} | " if hv is not None else ""
        spent = s.optimizer_seconds - self._optimizer_seconds_before
        wall = max(time.monotonic() - self._started, 1e-9)
        pruned = s.count("pruned")
        scope = f"study of {len(s.trials)}: " if self._resumed else ""
        return (
            f"{hv_text}{scope}feasible {s.n_feasible} | failed {s.count('failed')} | skipped {s.count('infeasible_skipped')}"
            + (f" | pruned {pruned}" if pruned or s.pruner is not None else "")
            + f" | optimizer {spent:.1f} s ({min(spent / wall, 1.0):.0%})"
        )

    def _hypervolume(self, trial: Trial | None, fresh: bool = False) -> float | None:
        """The study's hypervolume once its reference point is frozen, computed at most every
        :data:`HV_EVERY_S` seconds (or ``fresh``): per trial, a growing front's volume cost more than the trials
        themselves in studies of thousands of fast ones."""
        s = self.study
        if s.n_feasible == 0 or not s.reference_point_frozen:
            return None
        now = time.monotonic()
        if self._hv is None or fresh or now - self._hv_at >= HV_EVERY_S:
            with warnings.catch_warnings():  # a hypervolume of 0 is the report's to explain, not the bar's
                warnings.simplefilter("ignore", RuntimeWarning)
                self._hv, self._hv_at = s.hypervolume(), now
        return self._hv

    def _heartbeat(self) -> None:
        """Without a terminal: a line after every :data:`PLAIN_LINE_SECONDS` without one, saying what runs."""
        while not self._quiet.wait(PLAIN_LINE_SECONDS / 4):
            now = time.monotonic()
            if now - self._last_line < PLAIN_LINE_SECONDS:
                continue
            self._last_line = now
            running = len(self.study._running)
            what = f"{running} trial{'s' if running != 1 else ''} running" if running else "the optimizer is proposing"
            of = f"/{self.total}" if self.total else ""
            print(f"{self.study.name}: {self._done}{of} trials in {now - self._started:.0f} s | still working: {what}",
                  file=sys.stderr, flush=True)

    def _plain_line(self, trial: Trial) -> None:
        self._done += 1
        now = time.monotonic()
        every = max(1, (self.total or 100) // 10)
        record = self.study.trial(trial.number)
        # a tenth of the trials (without a count, every 10th trial, at most one line a second however fast they are)
        paced = self.total is not None or now - self._last_line >= 1.0
        due = (self._done % every == 0 and paced) or now - self._last_line >= PLAIN_LINE_SECONDS
        if not due and self._done != self.total:
            return
        self._last_line = now
        of = f"/{self.total}" if self.total else ""
        stats = self._stats(record, fresh=True)
        print(f"{self.study.name}: {self._done}{of} trials in {now - self._started:.0f} s | {stats}", file=sys.stderr, flush=True)

    def update(self, trial: Trial) -> None:
        """Count one finished trial."""
        if self._plain:
            self._plain_line(trial)
        elif self._progress is not None:
            record = self.study.trial(trial.number)
            self._progress.update(self._task, advance=1, stats=self._stats(record))

    def __exit__(self, *exc: object) -> None:
        if self._plain:
            self._quiet.set()
            self._heartbeat_thread.join()
        if self._progress is not None:
            self._progress.update(self._task, stats=self._stats(fresh=True))  # the last figures, not a second old
            self._progress.__exit__(*exc)  # type: ignore[arg-type]
