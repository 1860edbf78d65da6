"""The program a local worker process runs: ``python -m moo_hpo.execution.worker_main``.

A fresh interpreter (never a fork of the study's process, whose torch / BLAS thread pools may be
running), so an objective may use torch, OpenMP, ``DataLoader(num_workers=...)`` or
``multiprocessing`` freely. It reads from its standard input and writes to the pipe named on its command
line, with length-prefixed pickles (:mod:`moo_hpo.execution.messages`); its standard output and error are
the study's process's, so what the objective prints goes where the user's own prints go. It exits when the
study's process dies, however it dies.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from typing import Any

from moo_hpo.execution.messages import ExceptionCarrier, receive, send
from moo_hpo.execution.reporter import DetachedOnCopy

def _die_with_parent(parent_pid: int) -> None:
    """Exit when the study's process is gone: at once on Linux (PR_SET_PDEATHSIG), else within a second."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - the watchdog below still covers it
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(0.5)

    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="moo_hpo-parent-watch", daemon=True).start()


class PipeReporter(DetachedOnCopy):
    """``trial.report`` in a worker: the report goes to the study over the pipe, the pruner's answer comes back."""

    def __init__(self, inbox: Any, outbox: Any, running: dict[str, Any]) -> None:
        self.inbox, self.outbox = inbox, outbox
        self.running = running  # {"number": the trial this worker runs now, or None; "lock": one message at a time}
        self._prune = False

    def report(self, trial: Any, step: float, metrics: dict[str, float]) -> None:
        with self.running["lock"]:  # a report from a thread of the objective's never crosses the trial's result
            if self.running["number"] != trial.number:  # after its trial returned: sent on, it would be read as the
                from moo_hpo.exceptions import ConfigError  # next trial's report

                raise ConfigError(f"trial #{trial.number} has ended: a report after its objective returned is not taken")
            send(self.outbox, {"number": trial.number, "report": {"step": step, "metrics": metrics}})
            answer = receive(self.inbox)
        if "error" in answer:
            from moo_hpo.exceptions import ConfigError

            raise ConfigError(answer["error"])
        trial.reports.append(answer["entry"])
        self._prune = bool(answer["prune"])

    def should_prune(self, trial: Any) -> bool:
        return self._prune


def outcome_message(number: int, outcome: Any) -> dict[str, Any]:
    """What goes back for one trial: the value, or the error text plus the exception when it round-trips."""
    from moo_hpo.execution.executors import format_exception

    from moo_hpo.execution.extra_text import as_text

    # what the objective wrote into trial.extra, as JSON can hold it (a type only this process can import would not
    # load in the study's)
    written: dict[str, Any] = as_text(dict(outcome.extra or {})) or {}
    if outcome.error is None:
        try:
            pickle.loads(pickle.dumps(outcome.value))
        except Exception as exc:  # noqa: BLE001 - report it as the trial's failure
            return {"number": number, "error": f"the objective's return value could not be sent back: {format_exception(exc)}"}
        return {"number": number, "value": outcome.value, **({"extra": written} if written else {})}
    message: dict[str, Any] = {"number": number, "error": outcome.error, **({"extra": written} if written else {})}
    for carrier in (ExceptionCarrier, lambda exc: exc):  # as it was raised; else as pickle rebuilds it; else its text
        try:
            sent = carrier(outcome.exception)
            pickle.loads(pickle.dumps(sent))
        except Exception:  # noqa: BLE001
            continue
        message["exception"] = sent
        break
    return message


def main() -> None:
    """Serve trials until the study closes the pipe."""
    inbox = os.fdopen(os.dup(0), "rb")
    message_fd = int(sys.argv[1])
    os.set_inheritable(message_fd, False)  # the objective's own subprocesses never hold the messages' pipe
    outbox = os.fdopen(message_fd, "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # an objective that reads its input reads nothing, not the messages
    if sys.stdout is not None:  # None when the study's standard output was closed
        sys.stdout.reconfigure(line_buffering=True)  # the objective's prints show as it runs, not at its end
    try:
        setup = receive(inbox)
    except EOFError:
        return
    _die_with_parent(setup["parent_pid"])
    sys.path[:] = setup["sys_path"]
    os.chdir(setup["cwd"])
    try:
        import cloudpickle  # noqa: F401 - needed to load what cloudpickle wrote

        fn = pickle.loads(setup["fn"])
    except BaseException as exc:  # noqa: BLE001 - e.g. a package missing here
        from moo_hpo.execution.executors import format_exception

        send(outbox, {"ready": False, "error": format_exception(exc)})
        return
    from moo_hpo.execution.executors import call_objective, note_interrupt_signals

    note_interrupt_signals()  # a KeyboardInterrupt from Ctrl-C, not from the objective, ends this worker
    send(outbox, {"ready": True, "pid": os.getpid()})
    running: dict[str, Any] = {"number": None, "lock": threading.Lock()}
    while True:
        try:
            trial = receive(inbox)
        except EOFError:
            return
        trial._reporter = PipeReporter(inbox, outbox, running)
        running["number"] = trial.number
        outcome = call_objective(fn, trial, setup["takes_trial"], in_worker=True)
        with running["lock"]:
            running["number"] = None
            send(outbox, outcome_message(trial.number, outcome))


if __name__ == "__main__":
    main()
