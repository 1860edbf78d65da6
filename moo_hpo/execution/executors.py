"""Running trials: in this process, or in local worker processes (one process per trial).

Both executors share one small interface (``capacity``, ``submit``, ``wait``, ``shutdown``) so the
study's loop is the same whichever runs the trials. A process per trial costs a fork (about a
millisecond on Linux) and buys what in-process evaluation cannot give: a per-trial wall-clock limit
that really stops a hung trial, and a crash (segfault, out-of-memory kill) that takes down only its
own trial.
"""

from __future__ import annotations

import inspect
import multiprocessing as mp
import os
import pickle
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.trial import Trial

__all__ = ["InProcessExecutor", "Outcome", "ProcessExecutor", "call_objective", "format_exception"]


@dataclass
class Outcome:
    """What came of running the objective on one trial.

    Attributes:
        value: what the function returned (metrics, a :class:`~moo_hpo.trial.Result`, ...).
        error: the failure as text (type, message, traceback), or None.
        exception: the exception object when it could be kept, to decide whether to re-raise.
    """

    value: Any = None
    error: str | None = None
    exception: BaseException | None = None


def format_exception(exc: BaseException) -> str:
    """``Type: message`` followed by the traceback."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {exc}\n{tb}"


def _takes_trial(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` accepts a second positional argument (the trial)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def call_objective(fn: Callable[..., Any], trial: Trial, takes_trial: bool) -> Outcome:
    """Run ``fn(config)`` (or ``fn(config, trial)``), turning an ``Exception`` into an outcome.

    ``KeyboardInterrupt`` and other ``BaseException`` pass through.
    """
    try:
        value = fn(dict(trial.config), trial) if takes_trial else fn(dict(trial.config))
    except Exception as exc:  # noqa: BLE001 - failures are data
        return Outcome(error=format_exception(exc), exception=exc)
    return Outcome(value=value)


class InProcessExecutor:
    """Runs one trial at a time in the calling process."""

    capacity = 1

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self._takes_trial = _takes_trial(fn)
        self._queue: list[Trial] = []

    def submit(self, trial: Trial) -> None:
        """Queue a trial; it runs on the next :meth:`wait`."""
        self._queue.append(trial)

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def wait(self) -> list[tuple[Trial, Outcome]]:
        """Run the queued trials and return their outcomes."""
        done = []
        while self._queue:
            trial = self._queue[0]
            done.append((trial, call_objective(self.fn, trial, self._takes_trial)))
            self._queue.pop(0)
        return done

    def running(self) -> list[Trial]:
        return list(self._queue)

    def shutdown(self) -> None:
        self._queue.clear()


def _child_main(fn: Callable[..., Any], trial: Trial, takes_trial: bool, conn: Connection) -> None:
    outcome = call_objective(fn, trial, takes_trial)
    try:
        conn.send(outcome)
    except Exception as exc:  # noqa: BLE001 - the value or exception did not pickle
        if outcome.error is None:
            conn.send(Outcome(error=f"the objective's return value could not be sent back: {format_exception(exc)}"))
        else:
            conn.send(Outcome(error=outcome.error))
    finally:
        conn.close()


@dataclass
class _Running:
    trial: Trial
    process: Any
    conn: Connection
    deadline: float | None


class ProcessExecutor:
    """Runs each trial in its own local process, up to ``n_workers`` at once.

    Args:
        fn: the objective.
        n_workers: processes at once.
        trial_timeout: seconds a trial may run before its process is killed (None: no limit).
        start_method: ``"fork"`` (default where available: the objective need not be picklable),
            ``"forkserver"`` or ``"spawn"`` (the objective must be importable and picklable).

    Raises:
        ConfigError: for a bad worker count or timeout, or an objective that cannot be sent to a
            spawned process.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        n_workers: int,
        trial_timeout: float | None = None,
        start_method: str | None = None,
    ) -> None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ConfigError(f"n_workers must be a positive integer; received {n_workers!r}")
        if trial_timeout is not None and not trial_timeout > 0:
            raise ConfigError(f"trial_timeout must be a positive number of seconds; received {trial_timeout!r}")
        if start_method is None:
            start_method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(start_method)
        if start_method != "fork":
            try:
                pickle.dumps(fn)
            except Exception as exc:
                raise ConfigError(
                    f"with start_method={start_method!r} the objective must be picklable (a module-level "
                    f"function); received {fn!r}: {exc}"
                ) from exc
        self.fn = fn
        self.capacity = n_workers
        self.trial_timeout = trial_timeout
        self._takes_trial = _takes_trial(fn)
        self._running: dict[int, _Running] = {}

    @property
    def n_running(self) -> int:
        return len(self._running)

    def running(self) -> list[Trial]:
        return [r.trial for r in self._running.values()]

    def submit(self, trial: Trial) -> None:
        """Start a process for ``trial``."""
        parent_conn, child_conn = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(
            target=_child_main, args=(self.fn, trial, self._takes_trial, child_conn), daemon=True
        )
        process.start()
        child_conn.close()
        deadline = None if self.trial_timeout is None else time.monotonic() + self.trial_timeout
        self._running[trial.number] = _Running(trial, process, parent_conn, deadline)

    def wait(self) -> list[tuple[Trial, Outcome]]:
        """Block until at least one running trial ends (result, crash or timeout); return those."""
        if not self._running:
            return []
        while True:
            deadlines = [r.deadline for r in self._running.values() if r.deadline is not None]
            timeout = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
            ready = wait([r.conn for r in self._running.values()], timeout=timeout)
            done = [self._collect(r) for r in list(self._running.values()) if r.conn in ready]
            now = time.monotonic()
            for r in list(self._running.values()):
                if r.conn not in ready and r.deadline is not None and now >= r.deadline:
                    self._kill(r)
                    done.append((r.trial, Outcome(error=f"timeout: the trial ran longer than trial_timeout={self.trial_timeout:g} s and was stopped")))
            if done:
                return done

    def _collect(self, r: _Running) -> tuple[Trial, Outcome]:
        try:
            outcome = r.conn.recv()
        except (EOFError, OSError):
            r.process.join(timeout=5)
            code = r.process.exitcode
            outcome = Outcome(error=f"the worker process ended without a result (exit code {code})")
        r.conn.close()
        r.process.join(timeout=5)
        if r.process.is_alive():
            self._kill(r)
        self._running.pop(r.trial.number, None)
        return r.trial, outcome

    def _kill(self, r: _Running) -> None:
        r.process.terminate()
        r.process.join(timeout=2)
        if r.process.is_alive():  # pragma: no cover - ignores SIGTERM
            os.kill(r.process.pid, 9)
            r.process.join(timeout=2)
        r.conn.close()
        self._running.pop(r.trial.number, None)

    def shutdown(self) -> None:
        """Stop every running process (their trials are the caller's to record)."""
        for r in list(self._running.values()):
            self._kill(r)
