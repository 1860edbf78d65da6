"""Local worker processes: fresh interpreters that run trials one after another.

Why not ``fork``: a process that forks after torch, OpenMP or MKL started their thread pools (the
Bayesian optimizers fit models in the study's process) hands its children a pool that deadlocks on
first use, and forked daemon processes may not start processes of their own (``DataLoader(num_workers=2)``).
So every worker is a new ``python -m moo_hpo.execution.worker_main``; the objective reaches it once,
pickled with cloudpickle (lambdas and functions of a script travel by value), and each trial is one
message there and one back, over the worker's standard input and a pipe of its own (its standard output and
error are the study's, so what the objective prints lands where the user's script prints). A worker is a session leader: a timeout kills its whole process group
(the objective's own children too) and the worker is replaced. Workers exit when the study's process
dies, so they never outlive it or hold its files.

Recycling (``max_trials_per_worker``): a worker that has run that many trials is retired once it has sent its
last result: its input is closed, so it leaves its loop and exits as a Python program does (its ``atexit``
handlers run, a GPU's memory and whatever the objective leaked go back to the system), and a fresh worker is
started in its place at once, loading the objective while the study proposes the next trial. A retired worker
that has not exited 30 s later, or when the study stops, is killed with its process group.

Threads: each worker gets an equal share of the machine's cores for the thread pools of OpenMP, MKL,
OpenBLAS and torch (``OMP_NUM_THREADS`` and its kin set to ``cores // n_workers``, at least 1), unless the
user set any of them. The objective's own subprocesses inherit the limits. Without it every worker's scikit-learn or torch starts a thread per core: on two cores, two
workers fitting boosted trees took 12.1 s for 8 trials with two threads each and 3.9 s with one.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_integer, is_number
from moo_hpo.execution.executors import Outcome, takes_trial
from moo_hpo.execution.messages import receive, send
from moo_hpo.trial import Trial

__all__ = ["THREAD_VARIABLES", "WorkerPoolExecutor", "check_max_trials_per_worker", "exit_text", "thread_limits"]

#: The environment variables that size the numeric libraries' thread pools (torch reads OMP_NUM_THREADS).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


logger = logging.getLogger("moo_hpo")

_RETIRED_GRACE_S = 30.0  # a retired worker killed if it has not exited by then
_RETIRED_AT_SHUTDOWN_S = 5.0  # how long the study's end waits for retired workers to exit


#: What a signal that ended a worker usually means, for the trial's error.
_SIGNAL_HINTS = {
    "SIGKILL": "the kernel's out-of-memory killer sends it when memory runs out: see `dmesg`",
    "SIGSEGV": "a crash in native code: a library's bug, or an array indexed out of bounds in an extension",
    "SIGABRT": "a native library aborted: its message is in the output above",
    "SIGBUS": "a bad memory access in native code, or shared memory (/dev/shm) too small",
}


def signal_name(code: int | None) -> str | None:
    """The name of the signal that ended a process with exit ``code`` (negative for a signal), or None."""
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def exit_text(code: int | None) -> str:
    """A worker's end in words: ``exit code 3``, or for a signal its name and what it usually means
    (``killed by SIGKILL (the kernel's out-of-memory killer ...)``)."""
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"killed by signal {-code}"
    hint = _SIGNAL_HINTS.get(name)
    return f"killed by {name}" + (f" ({hint})" if hint else "")


def _has_exited(process: subprocess.Popen) -> bool:
    """True once ``process`` has exited, without reaping it where the platform allows (so that its process group,
    the objective's leftover children, can still be killed by its id), else by reaping it (POSIX does not reuse the
    id of a live process group)."""
    waitid = getattr(os, "waitid", None)  # not on macOS before Python 3.13
    if waitid is not None:
        try:
            return waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # reaped already (SIGCHLD ignored, or Popen's own poll)
            return True
    return process.poll() is not None


def check_max_trials_per_worker(value: Any) -> None:
    """Refuse a ``max_trials_per_worker`` that is not a positive integer or None.

    Raises:
        ConfigError: naming what was received.
    """
    if value is not None and (not is_integer(value) or value < 1):
        raise ConfigError(f"max_trials_per_worker must be a positive integer or None; received {value!r}")


def _unpicklable_part(fn: Any) -> str:
    """What of an objective cannot be pickled, named for the user: a probe, ``build`` or ``fit`` of a probe pipeline,
    else the objective."""
    import cloudpickle

    parts = [(f"the probe {p.name!r}", p) for p in getattr(fn, "probes", ())]
    parts += [(f"{label} {getattr(part, '__name__', part)!r}", part)
              for label in ("build", "fit") if (part := getattr(fn, label, None)) is not None]
    for label, part in parts:
        try:
            cloudpickle.dumps(part)
        except Exception:  # noqa: BLE001
            return label
    return f"the objective {getattr(fn, '__name__', fn)!r}"


def thread_limits(n_workers: int) -> dict[str, str]:
    """The thread-pool sizes for one of ``n_workers`` worker processes: an equal share of this process's cores
    (at least 1) for every variable of :data:`THREAD_VARIABLES`; none at all when the user has set any of them
    (a user's ``OMP_NUM_THREADS`` alone would otherwise be overridden by the BLAS libraries' own variables)."""
    if any(name in os.environ for name in THREAD_VARIABLES):
        return {}
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    share = str(max(1, cores // max(1, n_workers)))
    return dict.fromkeys(THREAD_VARIABLES, share)


def _above_standard_streams(fd: int) -> int:
    """``fd``, or a duplicate of it numbered 3 or more (the original closed) when it took a standard stream's
    number."""
    if fd > 2:
        return fd
    import fcntl

    duplicate = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return duplicate


@dataclass
class _Worker:
    process: subprocess.Popen
    messages: Any  # the read end of the worker's message pipe
    ready: bool = False
    trial: Trial | None = None
    deadline: float | None = None
    started: float = field(default_factory=time.monotonic)
    trials_run: int = 0
    start_attempt: int = 0  # 1: started in place of one killed while starting (see _await_ready)
    failed: str | None = None  # why it could not start: said again to whoever sends it a trial


class WorkerPoolExecutor:
    """Runs trials in ``n_workers`` local worker processes (see the module docstring).

    Args:
        fn: the objective (any callable cloudpickle can pickle).
        n_workers: worker processes, i.e. trials at once.
        trial_timeout: seconds a trial may run before its worker is killed (None: no limit).
        reporter: where the trials' intermediate reports go (``report(trial, step, metrics)`` and
            ``should_prune(trial)``, e.g. the study's); each report is answered with the pruner's decision
            while the trial runs. None: reports are refused.
        max_trials_per_worker: trials a worker runs before a fresh one takes its place (1: a new process for every
            trial); None: workers run trials until the study ends.

    Raises:
        ConfigError: for a bad worker count, timeout or ``max_trials_per_worker``, an objective that cannot be
            pickled, or one that the workers cannot load (a package missing there).
    """

    def __init__(
        self, fn: Callable[..., Any], n_workers: int, trial_timeout: float | None = None, reporter: Any = None,
        max_trials_per_worker: int | None = None,
    ) -> None:
        import cloudpickle

        if not is_integer(n_workers) or n_workers < 1:
            raise ConfigError(f"n_workers must be a positive integer; received {n_workers!r}")
        check_max_trials_per_worker(max_trials_per_worker)
        if trial_timeout is not None and not (is_number(trial_timeout) and 0 < trial_timeout < float("inf")):
            raise ConfigError(f"trial_timeout must be a positive, finite number of seconds; received {trial_timeout!r}")
        try:
            payload = cloudpickle.dumps(fn)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's to fix
            raise ConfigError(
                f"{_unpicklable_part(fn)} must be picklable to run in worker processes: {type(exc).__name__}: {exc}"
            ) from None
        self._setup = {
            "fn": payload,
            "takes_trial": takes_trial(fn),
            "sys_path": list(sys.path),
            "cwd": os.getcwd(),
            "parent_pid": os.getpid(),
        }
        self.capacity = n_workers
        self.trial_timeout = trial_timeout
        self.reporter = reporter
        self.max_trials_per_worker = max_trials_per_worker
        self._retired: list[tuple[_Worker, float]] = []  # workers told to exit, and when (see _retire)
        self._selector = selectors.DefaultSelector()
        self._ended: list[tuple[Trial, Outcome]] = []  # trials that ended while reports were answered (see answer_reports)
        self._workers: list[_Worker] = [self._start() for _ in range(n_workers)]
        try:  # every worker has loaded the objective before the first trial is proposed
            for worker in self._workers:
                self._await_ready(worker)
        except BaseException:
            self.shutdown()
            raise

    # ------------------------------------------------------------------ workers
    def _start(self) -> _Worker:
        # the worker's messages; its standard output stays the study's. Both ends above 2: with the study's own
        # standard output closed (a daemon), the pipe would otherwise take its number, and the worker's prints with it
        read_end, write_end = (_above_standard_streams(fd) for fd in os.pipe())
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "moo_hpo.execution.worker_main", str(write_end)],
                stdin=subprocess.PIPE,
                pass_fds=(write_end,),
                start_new_session=True,  # its own process group: a timeout kills the objective's children too
                env={**os.environ, **thread_limits(self.capacity), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # the worker holds the only write end: its death reads as the end of the pipe
        worker = _Worker(process, os.fdopen(read_end, "rb"))
        send(process.stdin, self._setup)
        self._selector.register(worker.messages, selectors.EVENT_READ, worker)
        return worker

    def _stop(self, worker: _Worker) -> None:
        try:
            self._selector.unregister(worker.messages)
        except (KeyError, ValueError):
            pass
        try:
            os.killpg(worker.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        worker.process.wait()
        for stream in (worker.process.stdin, worker.messages):
            try:
                stream.close()
            except OSError:
                pass

    def _replace(self, worker: _Worker) -> _Worker:
        self._stop(worker)
        self._workers[self._workers.index(worker)] = fresh = self._start()
        return fresh

    def _retire(self, worker: _Worker) -> None:
        """Let a worker that ran its last trial exit by itself (its input closed) and start a fresh one in its place."""
        self._reap_retired()
        try:
            self._selector.unregister(worker.messages)
        except (KeyError, ValueError):
            pass
        try:
            worker.process.stdin.close()  # the worker reads the end of its input and returns from its loop
        except OSError:
            pass
        self._retired.append((worker, time.monotonic()))
        self._workers[self._workers.index(worker)] = self._start()

    def _reap_retired(self, wait: float = 0.0) -> None:
        """Collect the retired workers that exited (their leftover children killed with their process group); kill those
        still there 30 s after they were retired, or, with ``wait``, after that many more seconds."""
        until = time.monotonic() + wait
        while self._retired:
            remaining = []
            for worker, since in self._retired:
                exited = _has_exited(worker.process)
                overdue = time.monotonic() - since > _RETIRED_GRACE_S or (wait and time.monotonic() >= until)
                if exited or overdue:
                    if overdue and not exited:
                        logger.warning("a retired worker process (pid %d) had not exited; it was killed", worker.process.pid)
                    self._stop(worker)
                else:
                    remaining.append((worker, since))
            self._retired = remaining
            if not remaining or not wait:
                return
            time.sleep(0.02)

    def _read_idle(self, worker: _Worker) -> None:
        """Read what a worker without a trial sent: the "ready" of a worker started in place of a lost one (left
        unread, it made every select return at once: the study spun on a core until the worker's next trial), or the
        end of the pipe of an idle worker that died (it is replaced)."""
        if worker.ready:  # an idle worker says nothing: its pipe ended
            # poll, never wait: a worker that is alive and sent something (a thread of the objective's reporting after
            # its trial returned) is replaced all the same, not waited for
            logger.warning("an idle worker process ended or sent a message out of turn (%s); starting another",
                           exit_text(worker.process.poll()) if worker.process.poll() is not None else "still running")
            self._replace(worker)
            return
        try:
            self._await_ready(worker, wait_for_replacement=False)  # its replacement's "ready" comes as this one's did
        except ConfigError as exc:  # it could not load the objective: said when a trial is sent to it
            logger.warning("%s", exc)

    def _await_ready(self, worker: _Worker, wait_for_replacement: bool = True) -> _Worker:
        """Block until a new worker has loaded the objective; return the worker that did.

        A worker killed by a signal while it starts (the out-of-memory killer, an administrator's kill) is replaced
        once, with a warning, and the replacement is awaited (with ``wait_for_replacement``): something outside the
        study stopped it, which says nothing about the objective. A replacement killed in turn, or a worker that
        exits by itself while starting, is an error.

        Raises:
            ConfigError: when the worker could not load the objective (its error text is included) or exited while
                starting.
        """
        if worker.failed is not None:
            raise ConfigError(worker.failed)
        try:
            message = receive(worker.messages)
        except EOFError:
            code = worker.process.wait()
            if signal_name(code) is not None and worker.start_attempt == 0:
                logger.warning("a worker process was %s while starting; starting another in its place", exit_text(code))
                fresh = self._replace(worker)
                fresh.start_attempt = 1
                return self._await_ready(fresh) if wait_for_replacement else fresh
            worker.failed = f"a worker process exited while starting ({exit_text(code)}); see its output above"
            self._stop(worker)  # its ended pipe would otherwise wake every select
            raise ConfigError(worker.failed) from None
        if not message.get("ready"):
            worker.failed = f"a worker process could not load the objective:\n{message.get('error')}"
            self._stop(worker)
            raise ConfigError(worker.failed)
        worker.ready = True
        return worker

    # ------------------------------------------------------------------ the executor interface
    @property
    def n_running(self) -> int:
        return sum(w.trial is not None for w in self._workers) + len(self._ended)

    def running(self) -> list[Trial]:
        return [w.trial for w in self._workers if w.trial is not None] + [trial for trial, _ in self._ended]

    def answer_reports(self, timeout: float) -> None:
        """Answer the reports that arrive within ``timeout`` seconds (while the study's optimizer proposes); a trial
        that ends meanwhile (a result, a crash, its ``trial_timeout``) is kept for :meth:`take_ended` or the next
        :meth:`wait`."""
        self._ended.extend(self._poll(timeout))

    def take_ended(self) -> list[tuple[Trial, Outcome]]:
        """The trials that ended while reports were answered (:meth:`answer_reports`), handed over once."""
        ended, self._ended = self._ended, []
        return ended

    def submit(self, trial: Trial) -> None:
        """Send ``trial`` to a free worker.

        Raises:
            ConfigError: when a worker cannot load the objective.
        """
        while True:  # a free worker still starting (one that replaced a lost or retired one): awaited while the running
            # trials are watched, so that one past its trial_timeout is stopped then and one that ends is collected then
            free = [w for w in self._workers if w.trial is None]
            worker = next((w for w in free if w.ready), free[0])  # a ready one first
            if worker.ready:
                break
            if worker.failed is not None:
                raise ConfigError(worker.failed)
            deadlines = [w.deadline for w in self._workers if w.trial is not None and w.deadline is not None]
            self._ended.extend(self._poll(None if not deadlines else max(0.0, min(deadlines) - time.monotonic())))
        send(worker.process.stdin, trial)
        worker.trial = trial
        worker.deadline = None if self.trial_timeout is None else time.monotonic() + self.trial_timeout

    def wait(self) -> list[tuple[Trial, Outcome]]:
        """Block until at least one running trial ends (result, crash or timeout); return those."""
        self._reap_retired()
        if self._ended:  # trials that ended while the optimizer proposed, and any that ended since
            self.answer_reports(0.0)
            return self.take_ended()
        if not self.n_running:
            return []
        while True:
            deadlines = [w.deadline for w in self._workers if w.trial is not None and w.deadline is not None]
            done = self._poll(None if not deadlines else max(0.0, min(deadlines) - time.monotonic()))
            if done:
                return done

    def _poll(self, timeout: float | None) -> list[tuple[Trial, Outcome]]:
        """Read what the workers send within ``timeout`` seconds (None: until something comes), answering reports, and
        stop the trials past their deadline; return the trials that ended."""
        done = []
        for key, _ in self._selector.select(timeout):
            worker = key.data
            if worker.trial is not None:
                finished = self._collect(worker)
                if finished is not None:
                    done.append(finished)
            else:
                self._read_idle(worker)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.trial is not None and worker.deadline is not None and now >= worker.deadline:
                trial = worker.trial
                self._replace(worker)
                done.append(
                    (trial, Outcome(error=f"timeout: the trial ran longer than trial_timeout={self.trial_timeout:g} s and was stopped"))
                )
        return done

    def _collect(self, worker: _Worker) -> tuple[Trial, Outcome] | None:
        """The worker's next message: its trial's outcome, or None after answering an intermediate report."""
        trial = worker.trial
        assert trial is not None
        try:
            message = receive(worker.messages)
        except (EOFError, OSError):
            code = worker.process.wait()
            self._replace(worker)
            return trial, Outcome(error=f"the worker process ended without a result ({exit_text(code)})", signal=signal_name(code))
        except Exception as exc:  # noqa: BLE001 - a result that does not unpickle here
            self._replace(worker)
            return trial, Outcome(error=f"the trial's result could not be read back: {type(exc).__name__}: {exc}")
        if "report" in message:
            send(worker.process.stdin, self._answer(trial, message["report"]))
            return None
        worker.trial, worker.deadline = None, None
        worker.trials_run += 1
        if self.max_trials_per_worker is not None and worker.trials_run >= self.max_trials_per_worker:
            self._retire(worker)
        if "error" in message:
            return trial, Outcome(error=message["error"], exception=message.get("exception"), extra=message.get("extra") or {})
        return trial, Outcome(value=message["value"], extra=message.get("extra") or {})

    def _answer(self, trial: Trial, report: dict[str, Any]) -> dict[str, Any]:
        """Pass an intermediate report on and return the pruner's decision (or the report's error)."""
        if self.reporter is None:
            return {"error": "this executor has nowhere to send intermediate reports"}
        try:
            before = len(trial.reports)
            self.reporter.report(trial, report["step"], report["metrics"])
        except Exception as exc:  # noqa: BLE001 - a bad report fails in the objective, not here
            from moo_hpo.exceptions import MooHpoError

            # moo_hpo's refusals read as in one process; another error (a pruner's bug) keeps its type in the text
            return {"error": str(exc) if isinstance(exc, MooHpoError) else f"{type(exc).__name__}: {exc}"}
        entry = trial.reports[-1] if len(trial.reports) > before else {"step": report["step"], "metrics": report["metrics"], "at": time.time()}
        return {"prune": bool(self.reporter.should_prune(trial)), "entry": entry}

    def shutdown(self) -> None:
        """Stop every worker (the trials they ran are the caller's to record)."""
        self._ended = []
        for worker in self._workers:
            self._stop(worker)
        self._workers = []
        try:
            self._reap_retired(wait=_RETIRED_AT_SHUTDOWN_S)
        except Exception as exc:  # noqa: BLE001 - the study stops anyway; its running trials must still be recorded
            logger.warning("retired worker processes could not be collected: %s", exc)
        self._selector.close()
