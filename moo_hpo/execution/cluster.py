"""Trials on a Dask cluster: ``study.optimize(fn, executor=client_or_address, resources={"GPU": 1})``.

The study's process stays the only writer of its store: each trial is one Dask task that runs the
objective on a worker and returns its outcome, and the study tells it there. The same code runs on a
``LocalCluster``, on machines started with ``dask scheduler`` / ``dask worker``, through dask-jobqueue
(SLURM, PBS) and on Kubernetes.

One module, past 500 lines: the slots, the preflight, the resubmission of lost trials and the reports' queue all
act on one set of in-flight futures and are read and changed together.

* **Slots**: as many trials run at once as the workers have threads, or, with ``resources``, as many as
  the workers' resources hold (``--resources GPU=1`` per worker: one GPU trial per worker). A trial's
  record says which worker ran it, and its ``CUDA_VISIBLE_DEVICES``.
* **Before any trial**: the objective must pickle (cloudpickle), every worker that can take a trial (with
  ``resources``, each that holds them) must load it (a package
  missing there is a :class:`~moo_hpo.ConfigError`), and the workers must run the study's versions of
  Python (major.minor), moo_hpo and cloudpickle.
* **A lost worker**: Dask's scheduler moves its tasks to other workers, up to its
  ``distributed.scheduler.allowed-failures`` setting; when it gives up (``KilledWorker``) moo_hpo submits
  the trial again up to ``retries`` times (one trial either way), then records it failed ("worker lost").
  The pickled objective waits on the scheduler (a Dask variable), so no worker's loss takes it away;
  each worker loads it once, and keeps the two objectives it loaded last.
* **A lost scheduler** stops the study with a :class:`~moo_hpo.MooHpoError`; every finished trial is
  saved and ``Study.load`` resumes it.
* **Timeouts**: with ``trial_timeout`` the worker runs the objective in a child process of its own
  (:mod:`moo_hpo.execution.workers`), which a timeout kills.
* **Intermediate reports** (``trial.report`` with a pruner): each goes to the study through a Dask queue
  while the trial runs, and the pruner's answer comes back through a Dask variable of that trial (a Dask
  event says it is there); the study's process polls the queue between trials' results. A study that stops
  with trials running sets an event that makes their next report raise, so they do not wait for an answer.
* **Output**: the last 2,000 characters a trial printed reach its record (``extra["output"]``), also with
  several threads per worker (each thread's prints go to its own trial, :mod:`moo_hpo.execution.thread_output`;
  prints from threads the objective starts itself go to the worker's output).

One module for both sides of the protocol, the study's executor and the task each worker runs: the task's
arguments, messages, variable and event names are read and written here only, so they change together.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import platform
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from moo_hpo.exceptions import ConfigError, MooHpoError
from moo_hpo.values import is_integer, is_number
from moo_hpo.execution.executors import Outcome, call_objective, takes_trial
from moo_hpo.execution.reporter import DetachedOnCopy
from moo_hpo.execution.thread_output import ThreadOutput
from moo_hpo.execution.scheduler_address import check_address, check_greets
from moo_hpo.execution.worker_watch import WorkerWatch
from moo_hpo.trial import Trial

logger = logging.getLogger("moo_hpo")

__all__ = ["DaskExecutor"]

_OUTPUT_TAIL = 2000
_OBJECTIVE_TIMEOUT = 120.0  # seconds a worker waits for the objective from the scheduler
_LOADED: dict[str, Callable[..., Any]] = {}  # on a worker: the objectives it loaded, by payload key, oldest first
_KEEP_LOADED = 2  # objectives a worker keeps (two studies sharing a cluster at once do not reload theirs)
_LOADED_LOCK = threading.Lock()
_MAX_MOVES = 3  # times a trial that reached a worker unfit for it is sent again before it fails

#: seconds between looks at the workers that cannot run the objective while trials wait with no other worker
UNFIT_RECHECK_SECONDS = 10.0

#: An objective that pickles to more than this is logged (the scheduler keeps it, every worker loads it).
LARGE_OBJECTIVE_BYTES = 100_000_000


#: seconds to gather a finished trial's result; longer means its worker died holding it (Dask runs the trial again)
_GATHER_TIMEOUT = 10.0


def _scheduler_errors() -> tuple[type[BaseException], ...]:
    """What a call to the scheduler raises when the connection to it is lost (or it cancelled the study's tasks)."""
    from concurrent.futures import CancelledError

    from distributed.client import FuturesCancelledError

    return (OSError, TimeoutError, CancelledError, FuturesCancelledError)


def _connection_text(exc: BaseException) -> str:
    """What a lost connection to the scheduler says, for the user: its last line, without Dask's description of the
    connection object (``in <TCP (closed) ConnectionPool.queue_get local=... remote=...>:``) or the cancelled tasks'
    keys."""
    import re

    text = str(exc).strip()
    line = text.splitlines()[-1] if text else type(exc).__name__
    if "moo_hpo-trial-" in line:  # a list of the cancelled tasks' keys says nothing to the user
        return "the running trials' tasks were cancelled"
    return re.sub(r"\s*\bin <[^<>]*>:?\s*", " ", line).strip(" :") or type(exc).__name__


def _versions() -> dict[str, str]:
    import cloudpickle

    import moo_hpo

    return {"python": ".".join(platform.python_version_tuple()[:2]), "moo_hpo": moo_hpo.__version__, "cloudpickle": cloudpickle.__version__}


def _load(key: str, payload: bytes | None = None) -> Callable[..., Any]:
    """The objective under ``key``, unpickled once per worker (from the scheduler's variable ``key``)."""
    fn = _LOADED.get(key)
    if fn is None:
        import pickle

        import cloudpickle  # noqa: F401 - needed to load what cloudpickle wrote

        if payload is None:
            payload = _objective_payload(key)
        fn = pickle.loads(payload)
        with _LOADED_LOCK:  # a worker's threads may load at once
            _LOADED[key] = fn
            for old in list(_LOADED)[:-_KEEP_LOADED]:  # a long-lived worker keeps the latest loaded objectives only
                _LOADED.pop(old, None)
    return fn


def _objective_payload(key: str) -> bytes:
    """The pickled objective from the scheduler's variable ``key``, waited for up to ``_OBJECTIVE_TIMEOUT`` s, but not
    once its study has stopped (a task that started after the study's Ctrl-C or crash would otherwise hold its
    worker's thread for the whole wait, and the next study's trials with it).

    Raises:
        TimeoutError: when the objective did not come in time.
        RuntimeError: when the study stopped meanwhile.
    """
    from distributed import Event, Variable, get_client

    client = get_client()
    deadline = time.monotonic() + _OBJECTIVE_TIMEOUT
    while True:
        try:
            return Variable(key, client=client).get(timeout=1.0)
        except TimeoutError:
            if Event(f"{key}-stopped", client=client).is_set():
                raise RuntimeError("the study stopped before this trial could load its objective") from None
            if time.monotonic() > deadline:
                raise


def _preflight(payload: bytes, key: str) -> dict[str, str]:
    """On each worker before any trial: load the objective, report the versions."""
    _load(key, payload)
    return _versions()


def _executing(dask_worker: Any) -> list[Any]:
    """On a worker: the keys of the tasks it executes now."""
    return [task.key for task in dask_worker.state.executing]


class DaskReporter(DetachedOnCopy):
    """``trial.report`` in a Dask task: the report goes into the study's queue, the pruner's answer comes
    back in the trial's variable (matched by the report's sequence number)."""

    ANSWER_TIMEOUT = 120.0

    def __init__(self, channel: str) -> None:
        import uuid

        self.channel = channel
        self.attempt = uuid.uuid4().hex  # this run of the trial (Dask may run a trial again on another worker)
        self._prune = False

    def report(self, trial: Trial, step: float, metrics: dict[str, float]) -> None:
        from distributed import Event, Queue, Variable

        seq = len(trial.reports)
        name = f"{self.channel}-{trial.number}-{self.attempt}"
        Queue(self.channel).put({"number": trial.number, "attempt": self.attempt, "seq": seq, "step": step, "metrics": metrics})
        ready, answer = Event(name), Variable(name)  # the study sets the answer, then the event
        deadline = time.monotonic() + self.ANSWER_TIMEOUT
        while True:
            if ready.wait(timeout=1.0):
                try:
                    value = answer.get(timeout=5.0)
                except TimeoutError:  # the answer was forgotten between the event and the read: the study stopped?
                    value = {}
                ready.clear()  # before the next report, whose answer sets it again (an older answer: wait on)
                if value.get("seq") == seq:
                    break
            if _study_stopped(self.channel):  # a study that stopped (Ctrl-C, an error) answers no more
                raise MooHpoError(f"the study stopped while trial #{trial.number} ran; this run is abandoned")
            if time.monotonic() > deadline:
                raise MooHpoError(f"no answer from the study to trial #{trial.number}'s report at step {step}")
            time.sleep(0.01)
        if "error" in value:
            raise ConfigError(value["error"])
        trial.reports.append(value["entry"])
        self._prune = bool(value["prune"])

    def should_prune(self, trial: Trial) -> bool:
        return self._prune


def _pickled_parts(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its objective's value and exception as pickled bytes: a type that only the workers can
    import then fails that trial in the study (:func:`_unpickled_parts`), not the study's reading of the result."""
    import pickle

    for part in ("value", "exception"):
        if part in message:
            message[part] = pickle.dumps(message[part])
    message["pickled_parts"] = True
    return message


def _unpickled_parts(message: dict[str, Any]) -> dict[str, Any]:
    """The study's side of :func:`_pickled_parts`: the value and the exception loaded, or the error saying why not."""
    import pickle

    if not message.pop("pickled_parts", False):
        return message
    if "exception" in message:
        try:
            message["exception"] = pickle.loads(message["exception"])
        except Exception:  # noqa: BLE001 - a class the workers have and the study lacks: the error's text stays
            del message["exception"]
    if "value" in message:
        try:
            message["value"] = pickle.loads(message["value"])
        except Exception as exc:  # noqa: BLE001
            del message["value"]
            message["error"] = (
                f"the objective's return value could not be loaded in the study's process: {type(exc).__name__}: {exc} "
                "(a type the workers can import and the study's machine cannot: return plain numbers, or install it "
                "where the study runs)"
            )
    return message


def _release_queue(name: str, dask_scheduler: Any = None) -> None:
    """On the scheduler: drop the reports queue ``name`` (every Queue object made for it holds a reference, so a
    single release would keep it)."""
    queues = dask_scheduler.extensions["queues"]
    while name in queues.queues:
        queues.release(name=name)


def _study_stopped(channel: str) -> bool:
    """Whether the study of the reports channel ``channel`` has stopped (its executor shut down with trials running)."""
    from distributed import Event

    return bool(Event(f"{channel}-stopped").is_set())


def _run_trial(
    key: str, trial: Trial, with_trial: bool, trial_timeout: float | None, channel: str | None = None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One trial on a Dask worker: the outcome as a message, with where it ran and what it printed.

    A worker that joined after the study's start was not checked then: it is checked here, against the study's
    ``versions``, and a worker that cannot load the objective says so (not the objective's own failure)."""
    from moo_hpo.execution.worker_main import outcome_message

    try:
        from distributed import get_worker

        address, name = get_worker().address, get_worker().name
    except (ImportError, ValueError):
        address = name = None
    where = {"worker": address, "name": None if name is None else str(name), "host": socket.gethostname(), "pid": os.getpid(),
             "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
    mine = _versions()
    differ = [f"{k} {v} in the study, {mine.get(k)} here" for k, v in (versions or {}).items() if mine.get(k) != v]
    if differ:
        return {"number": trial.number, "extra": {"worker": where}, "unfit": address,
                "error": f"the Dask worker {address} runs other versions than the study: {', '.join(differ)}; install the "
                         "study's versions on it or stop it"}
    try:
        fn = _load(key)
    except Exception as exc:  # noqa: BLE001 - a package missing on a worker that joined later
        unfit = None if isinstance(exc, TimeoutError) else address  # a busy scheduler is no fault of the worker's
        return {"number": trial.number, "extra": {"worker": where}, "unfit": unfit,
                "error": f"the Dask worker {address} could not load the objective: {type(exc).__name__}: {exc}; install "
                         "what it needs on that worker or stop it"}
    reporter = DaskReporter(channel) if channel else None
    output = io.StringIO()
    began = time.monotonic()
    if trial_timeout is None:
        trial._reporter = reporter
        with ThreadOutput.capture(output):
            outcome = call_objective(fn, trial, with_trial, in_worker=True)
    else:
        from moo_hpo.execution.workers import WorkerPoolExecutor

        pool = WorkerPoolExecutor(fn, 1, trial_timeout, reporter)
        try:
            pool.submit(trial)
            ((_, outcome),) = pool.wait()
        finally:
            pool.shutdown()
    message = _pickled_parts(outcome_message(trial.number, outcome))
    where["run_seconds"] = time.monotonic() - began  # on its worker: a trial's duration also counts time queued
    # what the objective wrote into trial.extra, then where it ran: the objective's own "worker" or "output" is kept
    # as "user_worker" / "user_output" (the driver says so once)
    ours = {"worker": where, **({"output": output.getvalue()[-_OUTPUT_TAIL:]} if output.getvalue() else {})}
    written = dict(message.get("extra", {}))
    for key in [k for k in ("worker", "output") if k in written]:
        name = "user_" + key
        while name in written:
            name = "user_" + name
        written[name] = written.pop(key)
        message.setdefault("renamed", {})[key] = name
    message["extra"] = {**written, **ours}
    return message


#: ``trial.extra`` key: how many runs of the trial Dask started again after losing the worker that ran it (its
#: reports then start over; only reporting trials tell the study of a new run while it is under way).
RUNS_LOST = "runs_lost"


class DaskExecutor:
    """Runs trials as tasks on a Dask cluster (see the module docstring).

    Args:
        fn: the objective.
        executor: a ``distributed.Client``, or a scheduler address such as ``"tcp://host:8786"``.
        resources: what each trial needs of a worker's resources (``{"GPU": 1}``), or None.
        retries: submissions again after Dask gave up on a trial because its workers were lost.
        trial_timeout: seconds a trial may run (in a child process of its worker) before it is killed.
        reporter: where the trials' intermediate reports go (the study's); None: no reports.

    Raises:
        ConfigError: for bad arguments; an objective that does not pickle or that a worker cannot load;
            workers with other versions of Python, moo_hpo or cloudpickle; no worker with ``resources``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        executor: Any,
        resources: Mapping[str, float] | None = None,
        retries: int = 1,
        trial_timeout: float | None = None,
        wait_for_workers: float = 60.0,
        reporter: Any = None,
    ) -> None:
        import cloudpickle
        from distributed import Client

        if not is_integer(retries) or retries < 0:
            raise ConfigError(f"retries must be a non-negative integer; received {retries!r}")
        if resources is not None and (
            not isinstance(resources, Mapping)
            or not all(is_number(v) and 0 < v < float("inf") for v in resources.values())
        ):
            raise ConfigError(f"resources must map resource names to positive amounts (e.g. {{'GPU': 1}}); received {resources!r}")
        if isinstance(executor, Client):
            if executor.status in ("closing", "closed"):
                raise ConfigError("the Dask client given as executor is closed; pass an open Client or a scheduler address")
            self.client, self._own_client = executor, False
        elif isinstance(executor, str):
            check_address(executor)  # before a Client: one made from a malformed address waits 40 s in its __del__
            check_greets(executor)  # and one waiting for a listener that is no scheduler waits for ever
            try:
                # not the process's default client: a client that failed to connect would stay the default (until
                # the garbage collector finds it) and every distributed call without client= would go to its loop
                self.client, self._own_client = Client(executor, timeout="20s", set_as_default=False), True
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"cannot reach the Dask scheduler at {executor!r} (expected an address such as 'tcp://host:8786'): {exc}"
                ) from None
        else:
            hint = "; wrap a cluster in a client: executor=distributed.Client(cluster)" if hasattr(executor, "scheduler_address") else ""
            raise ConfigError(f"executor must be a dask.distributed Client or a scheduler address; received {executor!r}{hint}")
        from moo_hpo.toml_study import entry_modules_by_value

        try:
            with entry_modules_by_value():  # a study file's entry beside it: its code travels with the objective
                payload = cloudpickle.dumps(fn)
        except Exception as exc:  # noqa: BLE001
            self.close_client()
            raise ConfigError(f"the objective must be picklable to run on Dask workers; received {fn!r}: {type(exc).__name__}: {exc}") from None
        if len(payload) > LARGE_OBJECTIVE_BYTES:
            logger.warning(
                "the objective pickles to %.0f MB (a closure over a dataset?): the scheduler keeps it and every worker "
                "loads a copy; load large data on the workers instead (inside the objective, from a file they can read)",
                len(payload) / 1e6,
            )
        self.resources = dict(resources) if resources else None
        self.retries = retries
        self.trial_timeout = trial_timeout
        self._takes_trial = takes_trial(fn)
        self.reporter = reporter if self._takes_trial else None  # only an objective given the trial reports
        self._channel = f"moo_hpo-reports-{uuid.uuid4().hex}" if self.reporter is not None else None
        self._running: dict[Any, tuple[Trial, int]] = {}  # future -> (trial, submissions so far)
        # trials back from a worker unfit for them, sent again once a fit worker has a free slot (sent at once, one
        # would go to the idle unfit worker again while the fit ones are busy)
        self._deferred: list[tuple[Trial, int]] = []
        self._scheduler_lost = False  # the study stopped because the scheduler was lost: nothing runs there any more
        # one for the study's life, on this client's loop: distributed.wait waits on the loop of the process's default
        # client (the newest one not closed), and with another client in the process (one to another scheduler, one
        # that failed to connect) it woke only when that client's loop did, or never; an as_completed per wait
        # would hold every result finished while a long trial runs
        from distributed import as_completed

        self._completed = as_completed(loop=self.client.loop)
        self._scheduler_address = str(getattr(self.client.scheduler, "address", ""))  # kept: a closed client drops it
        self._attempts: dict[int, list[str]] = {}  # trial number -> the runs that reported, in order
        self._reports: Any = None  # the study's reports queue on the scheduler, once made
        self._slots_at = (0.0, 0)
        self._unfit: set[str] = set()  # workers that cannot run the objective (other versions, a missing package)
        self._paused: list[str] = []  # workers Dask paused at their memory limit, at the latest look
        self._moved: dict[int, int] = {}  # trial number -> times it came back from an unfit worker
        self._renamed_logged = False  # the objective's "worker"/"output" extra kept under another name: said once
        self._payload, self._unfit_checked = payload, 0.0  # to look again at unfit workers while trials wait for them
        self._key = f"moo_hpo-objective-{uuid.uuid4().hex}"  # never an earlier study's, even in a long-lived worker
        try:
            self._wait_for_slots(wait_for_workers)
            self._hold_objective(payload)
            self._preflight(payload)
            with contextlib.suppress(Exception):  # what the study runs on, for -v and logs
                logger.info("trials run on the Dask scheduler %s: %d worker(s), %d trial(s) at once",
                            self.client.scheduler.address, len(self.client.scheduler_info(n_workers=-1)["workers"]), self._slots())
            self._watch = WorkerWatch(self._slots, lambda: self.n_running, getattr(self.client.scheduler, "address", "?"),
                                      crowded=self._crowded, paused=lambda: list(self._paused),
                                      study=getattr(getattr(reporter, "study", None), "name", None))
            self._watch.start()
        except BaseException:
            self._release_objective()
            self.close_client()
            raise

    # ------------------------------------------------------------------ set-up
    def _hold_objective(self, payload: bytes) -> None:
        """Keep the pickled objective on the scheduler (a Dask variable), where each worker fetches it once.

        Not scattered data that every trial's task depends on: Dask keeps one copy of data that no task is
        waiting for, and when the worker holding it dies, every trial that needs it is cancelled; nor a task
        result, which draws every trial to the worker that holds it.
        """
        from distributed import Variable

        Variable(self._key, client=self.client).set(payload)

    def _release_objective(self, tasks_left: bool = False) -> None:
        """Delete the objective's variable; with ``tasks_left`` (trials still on the cluster), first set the event that
        tells a task still to load it to stop waiting (see :func:`_objective_payload`)."""
        from distributed import Event, Variable

        if tasks_left:
            with contextlib.suppress(Exception):
                Event(f"{self._key}-stopped", client=self.client).set()
        with contextlib.suppress(Exception):
            Variable(self._key, client=self.client).delete()


    def _slots(self) -> int:
        now = time.monotonic()
        if now - self._slots_at[0] < 1.0:
            return self._slots_at[1]
        # a worker that cannot run the objective holds no slot: a trial kept in flight for it would have nowhere to
        # run but there, and come back from it until it failed; nor does one Dask paused at its memory limit
        found = self.client.scheduler_info(n_workers=-1)["workers"]
        self._paused = sorted(a for a, w in found.items() if w.get("status") == "paused")
        workers = [w for address, w in found.items() if address not in self._unfit and w.get("status") != "paused"]
        if self.resources:
            slots = sum(min(int(w.get("resources", {}).get(r, 0) // need) for r, need in self.resources.items()) for w in workers)
        else:
            slots = sum(int(w.get("nthreads", 1)) for w in workers)
        self._slots_at = (now, slots)
        return slots

    def _crowded(self) -> tuple[int, int]:
        """``(this study's trials not yet running on a worker, tasks of others running on the workers)``: what the
        workers execute (the scheduler's "processing" counts tasks queued on a worker too)."""
        mine = {future.key for future in list(self._running)}
        if not mine:
            return 0, 0
        # the workers, not the scheduler: a stopped or killed client's task runs on, which the scheduler forgot
        fit = [a for a in self.client.scheduler_info(n_workers=-1)["workers"] if a not in self._unfit]
        found = self.client.run(_executing, workers=fit, on_error="return")  # a worker that fails to answer: skipped
        running = {key for keys in found.values() if isinstance(keys, list) for key in keys}
        return len(mine - running), len(running - mine)

    def _wait_for_slots(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        said = False
        while self._slots() == 0 and not self._paused:  # workers Dask paused are there: the study starts, the watch says why
            if not said and time.monotonic() > deadline - timeout + 5:
                said = True
                need = f" with resources {self.resources}" if self.resources else ""
                logger.warning("waiting up to %g s for a Dask worker%s to join the scheduler", timeout, need)
            if time.monotonic() > deadline:
                need = f"with resources {self.resources} (start workers with --resources)" if self.resources else ""
                raise ConfigError(f"no Dask worker {need} joined the scheduler within {timeout:g} s".replace("  ", " "))
            time.sleep(0.2)
            self._slots_at = (0.0, 0)

    def _preflight(self, payload: bytes) -> None:
        """Every worker that can take a trial (with ``resources``: those that hold them) loads the objective and
        runs the study's versions."""
        workers = None
        if self.resources:  # a CPU worker beside GPU ones never runs these trials: it need not load the objective
            workers = [address for address, w in self.client.scheduler_info(n_workers=-1)["workers"].items()
                       if all(w.get("resources", {}).get(r, 0) >= need for r, need in self.resources.items())]
        # each worker's answer, its error included (a missing package), so that the message names the worker
        found = self.client.run(_preflight, payload, self._key, workers=workers, on_error="return")
        from distributed.comm.core import CommClosedError

        # a worker that died while it loaded (its connection closed: an OOM kill, a nanny's restart) is lost, not
        # unable to load: the study goes on with the others (those Dask starts again load it with their first trial)
        lost = [worker for worker, exc in found.items() if isinstance(exc, CommClosedError)]
        if lost and len(lost) < len(found):
            logger.warning("the Dask worker%s %s %s lost while loading the objective before the first trial; the study "
                           "goes on with the %d other%s", "s" if len(lost) > 1 else "", ", ".join(lost),
                           "were" if len(lost) > 1 else "was", len(found) - len(lost), "s" if len(found) - len(lost) > 1 else "")
            found = {worker: answer for worker, answer in found.items() if worker not in lost}
        elif lost:
            raise ConfigError(f"every Dask worker ({len(lost)}) was lost while loading the objective before the first "
                              f"trial (their connections closed: {found[lost[0]]}); see the workers' logs (memory?)")
        failed = {worker: exc for worker, exc in found.items() if isinstance(exc, BaseException)}
        if failed:
            worker, exc = next(iter(failed.items()))
            others = f" (and {len(failed) - 1} other worker(s) of {len(found)})" if len(failed) > 1 else ""
            hint = (
                "; install that package on the workers, or for a module of your own send its code with "
                "cloudpickle.register_pickle_by_value(module)" if isinstance(exc, ImportError) else ""
            )
            raise ConfigError(f"the Dask worker {worker}{others} could not load the objective: {type(exc).__name__}: "
                              f"{exc}{hint}") from None
        mine = _versions()
        bad = {}
        for worker, versions in found.items():
            differ = {k: (mine[k], versions.get(k)) for k in mine if versions.get(k) != mine[k]}
            if differ:
                bad[worker] = ", ".join(f"{k} {here} here, {there} there" for k, (here, there) in differ.items())
        if bad:
            first, text = next(iter(bad.items()))
            others = f" (and {len(bad) - 1} other worker(s) of {len(found)})" if len(bad) > 1 else ""
            raise ConfigError(
                f"the Dask worker {first}{others} runs other versions than this process: {text}; install this "
                f"process's versions on the workers (moo_hpo {mine['moo_hpo']}, cloudpickle {mine['cloudpickle']}, "
                f"Python {mine['python']})"
            )

    # ------------------------------------------------------------------ the executor interface
    @property
    def capacity(self) -> int:
        return max(self._slots(), 1 if not self.n_running else 0)

    @property
    def n_running(self) -> int:
        return len(self._running) + len(self._deferred)

    def running(self) -> list[Trial]:
        return [trial for trial, _ in self._running.values()] + [trial for trial, _ in self._deferred]

    def _submit(self, trial: Trial, submissions: int) -> None:
        import copy

        sent = copy.copy(trial)
        sent.reports = []  # a trial run again reports again from its first step (the study restarts it then)
        fit = None
        if self._unfit:  # preferably not to the workers that cannot run the study's objective (a preference: workers
            # that restart get new addresses, and a trial pinned to gone ones would wait forever)
            fit = [w for w in self.client.scheduler_info(n_workers=-1)["workers"] if w not in self._unfit] or None
        future = self.client.submit(
            _run_trial, self._key, sent, self._takes_trial, self.trial_timeout, self._channel, _versions(),
            key=f"moo_hpo-trial-{trial.number}-{submissions}-{uuid.uuid4().hex[:12]}",
            pure=False, resources=self.resources, **({"workers": fit, "allow_other_workers": True} if fit else {}),
        )
        self._running[future] = (trial, submissions + 1)
        if self._channel is None:  # waited for through one as_completed (see wait); a study with reports polls
            self._completed.add(future)

    def submit(self, trial: Trial) -> None:
        """Send ``trial`` to the cluster."""
        self._submit(trial, 0)

    def wait(self) -> list[tuple[Trial, Outcome]]:
        """Block until at least one running trial ends, and return those (a lost worker's trial may be resubmitted);
        or until a worker joins, and return none (the study fills the new slots at once).

        Raises:
            MooHpoError: when the connection to the scheduler is lost (every finished trial is saved).
        """
        try:
            return self._wait()
        except _scheduler_errors() as exc:
            raise self._lost(exc) from None
        except Exception:  # a client closed under the study fails in Dask's own ways (its loop closed, a None comm)
            if self._client_closed():
                raise self._lost(None) from None
            raise

    def _client_closed(self) -> bool:
        """Whether the study's client was closed by the user's code while the study ran: closed, while its scheduler
        still answers (a client that lost its scheduler closes itself once it gives up reconnecting: under load it
        had by the time the study looked, and the scheduler's loss read as the user's closing of the client)."""
        if getattr(self.client, "status", None) not in ("closing", "closed"):
            return False
        if not self._scheduler_address.startswith("tcp://"):
            return True  # in-process or another transport: nothing to ask
        try:
            host, port = self._scheduler_address.removeprefix("tcp://").rsplit(":", 1)
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
                return True
        except (OSError, ValueError):  # refused or gone: the scheduler was lost
            return False

    def _wait(self) -> list[tuple[Trial, Outcome]]:
        from concurrent.futures import CancelledError

        slots = self._slots()
        while self._running or self._deferred:
            self._send_deferred()
            if self._channel is None:
                # on this client's loop, through the study's one as_completed (see __init__)
                ready = self._completed.next_batch(block=False)
                if not ready:
                    if self._slots() > slots:
                        return []
                    time.sleep(0.02)
                    continue
                done = [f for f in ready if f in self._running]  # a future dropped on shutdown may still come
                if any(f.cancelled() for f in done):  # as distributed.wait: the scheduler was lost or restarted
                    raise CancelledError("the running trials' tasks were cancelled")
            else:  # answer intermediate reports while waiting
                done = self._wait_answering_reports(slots)
                if done is None:
                    return []
            out = self._ended_outcomes(done)
            if out:
                return out
        return []

    def _ended_outcomes(self, done: list[Any]) -> list[tuple[Trial, Outcome]]:
        """The outcomes of the running trials whose futures are ``done`` (a lost worker's trial may be submitted
        again instead, and is left out)."""
        out = []
        for future in done:
            trial, submissions = self._running.pop(future)
            try:
                outcome = self._outcome(future, trial, submissions)
            except BaseException:
                self._running.setdefault(future, (trial, submissions))  # still the study's running trial
                raise
            if outcome is not None:
                out.append((trial, outcome))
                self._forget_answers(trial.number)
        return out

    def take_ended(self) -> list[tuple[Trial, Outcome]]:
        """The running trials that have ended by now, without waiting (while the study's optimizer proposes).

        Raises:
            MooHpoError: when the connection to the scheduler is lost.
        """
        try:
            return self._ended_outcomes([f for f in self._running if f.done()])
        except _scheduler_errors() as exc:
            raise self._lost(exc) from None

    def _send_deferred(self) -> None:
        """Send the trials back from unfit workers again while the fit workers have free slots; with none (only unfit
        workers left, or none at all), they wait here for one, as the worker watch says."""
        self._look_at_unfit_again()
        while self._deferred and len(self._running) < self._slots():
            trial, submissions = self._deferred.pop(0)
            self._submit(trial, submissions)

    def _look_at_unfit_again(self) -> None:
        """While trials wait with no fit worker, every :data:`UNFIT_RECHECK_SECONDS` have the unfit workers load the
        objective again (what it needs may have been installed since), and take back those that can; the addresses of
        workers that left are forgotten."""
        now = time.monotonic()
        if not self._deferred or not self._unfit or now - self._unfit_checked < UNFIT_RECHECK_SECONDS or self._slots() > 0:
            return
        self._unfit_checked = now
        self._unfit &= set(self.client.scheduler_info(n_workers=-1)["workers"])
        if not self._unfit:
            return
        found = self.client.run(_preflight, self._payload, self._key, workers=sorted(self._unfit), on_error="return")
        mine = _versions()
        fixed = sorted(w for w, v in found.items() if isinstance(v, dict) and all(v.get(k) == mine[k] for k in mine))
        if fixed:
            self._unfit -= set(fixed)
            self._slots_at = (0.0, 0)
            logger.warning("the Dask worker(s) %s can run the objective now: the waiting trials go to them", ", ".join(fixed))

    def _forget_answers(self, number: int) -> None:
        """Delete a finished trial's answer variables and events on the scheduler."""
        if self._channel is None:
            return
        from distributed import Event, Variable

        for attempt in self._attempts.pop(number, []):
            with contextlib.suppress(Exception):
                Variable(f"{self._channel}-{number}-{attempt}", client=self.client).delete()
            with contextlib.suppress(Exception):
                Event(f"{self._channel}-{number}-{attempt}", client=self.client).clear()

    def _wait_answering_reports(self, slots: int) -> list[Any] | None:
        """Poll the running trials and the reports queue until a trial ends (those trials' futures) or the cluster
        has more than ``slots`` slots (None: a worker joined); answer each report."""
        while True:
            self._answer_queued_reports()
            done = [f for f in self._running if f.done()]
            if done:
                return done
            if self._slots() > slots:
                return None
            time.sleep(0.02)

    def answer_reports(self, timeout: float) -> None:
        """Answer the reports that arrived, then wait ``timeout`` seconds (while the study's optimizer proposes).

        Raises:
            MooHpoError: when the connection to the scheduler is lost.
        """
        if self._channel is not None:
            try:
                self._answer_queued_reports()
            except _scheduler_errors() as exc:
                raise self._lost(exc) from None
        time.sleep(timeout)

    def _lost(self, exc: BaseException | None) -> MooHpoError:
        """The error that stops a study whose connection to the scheduler is lost (or whose client was closed)."""
        self._scheduler_lost = True
        if self._client_closed():
            return MooHpoError("the Dask client given as executor was closed while the study ran; every finished trial "
                               "is saved: resume with mh.Study.load and an open client (the running trials' tasks may "
                               "still hold workers: close the cluster, or restart the client, to free them)")
        assert exc is not None
        return MooHpoError(f"lost the connection to the Dask scheduler ({_connection_text(exc)}); every finished trial is "
                           "saved: resume with mh.Study.load once the cluster is back")

    def _answer_queued_reports(self) -> None:
        """Answer every report in the study's queue: the pruner's decision, through the trial's variable."""
        from distributed import Event, Queue, Variable

        if self._reports is None:  # made once: making one is a round trip to the scheduler
            self._reports = Queue(self._channel, client=self.client)
        by_number = {trial.number: trial for trial, _ in self._running.values()}
        for item in self._reports.get(batch=True):
            trial = by_number.get(item["number"])
            answer: dict[str, Any] = {"seq": item["seq"]}
            runs = self._attempts.setdefault(item["number"], [])
            if item["attempt"] not in runs:  # a new run of the trial: its reports start over
                if runs and trial is not None:
                    dropped = len(trial.reports)
                    self.reporter.restart(trial)
                    logger.warning("trial #%d: its Dask worker was lost while it ran; Dask runs it again from its start, and "
                                   "its %d report(s) so far give way to the new run's (trial.extra['runs_lost'] counts such "
                                   "runs)", trial.number, dropped)
                runs.append(item["attempt"])
            if trial is None:
                answer["error"] = f"trial #{item['number']} is not running"
            elif item["attempt"] != runs[-1]:  # from a run that was replaced: nobody waits for it
                continue
            else:
                try:
                    self.reporter.report(trial, item["step"], item["metrics"])
                    answer.update(prune=bool(self.reporter.should_prune(trial)), entry=trial.reports[-1])
                except Exception as exc:  # noqa: BLE001 - a bad report fails in the objective
                    # moo_hpo's refusals read as in one process; another error (a pruner's bug) keeps its type
                    answer["error"] = str(exc) if isinstance(exc, MooHpoError) else f"{type(exc).__name__}: {exc}"
            name = f"{self._channel}-{item['number']}-{item['attempt']}"
            Variable(name, client=self.client).set(answer)
            Event(name, client=self.client).set()

    def _outcome(self, future: Any, trial: Trial, submissions: int) -> Outcome | None:
        from distributed.scheduler import KilledWorker

        if future.status in ("lost", "pending"):  # its result went with its worker before it was gathered
            return self._run_again(future, trial, submissions)
        if future.status == "finished":
            try:
                try:
                    raw = future.result(timeout=_GATHER_TIMEOUT)
                except TimeoutError:
                    if future.status != "finished":  # lost with its worker meanwhile
                        return self._run_again(future, trial, submissions)
                    raw = future.result()  # at hand, slow to arrive (a large result): wait for it
            except KilledWorker as exc:  # its result was lost with its worker, and running it again killed workers
                return self._worker_lost(trial, submissions, exc)
            message = _unpickled_parts(raw)
            extra = message.get("extra", {})
            if message.get("renamed") and not self._renamed_logged:
                self._renamed_logged = True
                logger.warning("trial #%d: the objective's extra data names %s, which moo_hpo records for a trial run on "
                               "Dask (where it ran, what it printed); kept as %s (logged once)", trial.number,
                               sorted(message["renamed"]), [message["renamed"][k] for k in sorted(message["renamed"])])
            unfit = message.get("unfit")
            moved = self._moved.get(trial.number, 0)
            if unfit and moved < _MAX_MOVES:
                if unfit not in self._unfit:  # a worker that joined later and cannot run the objective: the others run it
                    self._unfit.add(unfit)
                    self._slots_at = (0.0, 0)  # its slots are gone now
                    others = bool(set(self.client.scheduler_info(n_workers=-1)["workers"]) - self._unfit)
                    logger.warning("%s; %s", message["error"], "trials go to the other workers" if others else
                                   "no other worker can run them: they wait for one that can (start one; or stop with "
                                   "Ctrl-C, every finished trial is saved)")
                with contextlib.suppress(Exception):  # its finished task is not to run again if that worker leaves
                    future.release()
                self._moved[trial.number] = moved + 1
                logger.debug("trial #%d came back from the unfit worker %s; it goes to a fit one", trial.number, unfit)
                self._deferred.append((trial, submissions - 1))
                return None
            lost = len(self._attempts.get(trial.number, ())) - 1  # runs Dask started again after losing a worker
            if lost > 0:
                extra = {**extra, RUNS_LOST: lost}
            if "error" in message:
                return Outcome(error=message["error"], exception=message.get("exception"), extra=extra)
            return Outcome(value=message["value"], extra=extra)
        if future.status == "cancelled":
            self._scheduler_lost = True
            raise MooHpoError(
                f"trial #{trial.number}'s task was cancelled: the Dask scheduler was lost or restarted; every finished "
                "trial is saved: resume with mh.Study.load once the cluster is back"
            )
        exc = future.exception()
        if isinstance(exc, KilledWorker):
            return self._worker_lost(trial, submissions, exc)
        return Outcome(error=f"the Dask task failed: {type(exc).__name__}: {exc}")

    def _run_again(self, future: Any, trial: Trial, submissions: int) -> None:
        """A finished trial whose result was lost with its worker before it was gathered: Dask runs its task again
        (up to ``distributed.scheduler.allowed-failures``); wait for that run."""
        logger.info("trial #%d: its result was lost with its Dask worker before the study gathered it; Dask runs it again",
                    trial.number)
        self._running[future] = (trial, submissions)
        if self._channel is None:  # as_completed yields each future once per add
            self._completed.add(future)
        return None

    def _worker_lost(self, trial: Trial, submissions: int, exc: BaseException) -> Outcome | None:
        """A trial whose workers died (Dask gave up: ``KilledWorker``): submitted again while ``retries`` allow (None),
        then recorded failed as "worker lost"."""
        if submissions <= self.retries:
            logger.info("trial #%d: the Dask workers running it died; submitting it again (%d of %d)",
                        trial.number, submissions, self.retries)
            self._submit(trial, submissions)
            return None
        # one reason for every such trial (no task key, no address), so a study whose first trials all kill
        # their workers stops as any study whose first trials all fail the same way
        return Outcome(
                error=f"worker lost: the Dask workers running this trial died (submitted {submissions} time(s), each run "
                "again by Dask up to distributed.scheduler.allowed-failures times); an objective that ends its own "
                "process (os._exit, a crash in native code) kills its worker: trial_timeout runs it in a "
                "child process of the worker instead; a worker past its memory limit is restarted by its nanny too "
                "(the worker's log says 'exceeded ... memory budget'): give the workers more memory or the trials less "
                "(under trial_timeout the child's memory escapes the worker's limit)",
                extra={"worker_lost": str(exc)[:500]},
            )

    def shutdown(self) -> None:
        """Cancel the running trials' tasks and release the cluster (a client made from an address is closed)."""
        self._watch.stop()
        if self._running and self._scheduler_lost:  # their tasks were lost with the scheduler: nothing to say of them
            self._running.clear()
        if not self._running and self._channel is not None:  # no trial will report again: its queue can go
            with contextlib.suppress(Exception):
                self.client.run_on_scheduler(_release_queue, self._channel)
        if self._running:
            logger.warning(
                "%d trial(s) were running on the cluster: Dask cannot stop a task that has started, so on workers that "
                "outlive the study they run on to their end, or to their next report (client.restart() stops them)",
                len(self._running),
            )
            with contextlib.suppress(Exception):
                self.client.cancel(list(self._running), force=True)
            if self._channel is not None:  # a trial waiting for an answer to its report stops waiting
                from distributed import Event

                with contextlib.suppress(Exception):
                    Event(f"{self._channel}-stopped", client=self.client).set()
                for trial, _ in list(self._running.values()):  # their answers are no longer needed
                    self._forget_answers(trial.number)
        tasks_left = bool(self._running)
        self._running.clear()
        self._deferred.clear()
        self._release_objective(tasks_left)
        self.close_client()

    def close_client(self) -> None:
        """Close the client when this executor made it."""
        if self._own_client:
            with contextlib.suppress(Exception):
                self.client.close()
            self._own_client = False
