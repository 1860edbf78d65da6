"""Running one trial's objective, and the executor that runs trials in this process.

Every executor shares one small interface (``capacity``, ``n_running``, ``submit``, ``wait``,
``running``, ``shutdown``), so the study's loop is the same whichever runs the trials:
:class:`InProcessExecutor` here, :class:`~moo_hpo.execution.workers.WorkerPoolExecutor` for local
worker processes (a per-trial wall-clock limit that really stops a hung trial, and a crash that takes
down only its own trial).
"""

from __future__ import annotations

import inspect
import re
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moo_hpo.execution.interrupts import raise_a_caught_stop
from moo_hpo.trial import Trial

__all__ = [
    "InProcessExecutor", "Outcome", "call_objective", "format_exception", "takes_trial", "trial_by_keyword",
]


@dataclass
class Outcome:
    """What came of running the objective on one trial.

    Attributes:
        value: what the function returned (metrics, a :class:`~moo_hpo.trial.Result`, ...).
        error: the failure as text (type, message, traceback), or None.
        exception: the exception object when it could be kept, to decide whether to re-raise.
        extra: what the executor knows of the run (where it ran, its output), kept in the trial's ``extra``.
        signal: the name of the signal that ended the process running the trial (``"SIGKILL"``), or None.
    """

    value: Any = None
    error: str | None = None
    exception: BaseException | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    signal: str | None = None


def format_exception(exc: BaseException) -> str:
    """``Type: message`` followed by the traceback (an exception that was never raised has none: the line alone)."""
    if exc.__traceback__ is None and exc.__cause__ is None and exc.__context__ is None:
        return f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {exc}\n{tb}"


def takes_trial(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes the trial: its second positional parameter is named ``trial``, has no default, or
    defaults to None (``fn(config, trial)``, ``fn(config, t=None)``); or it takes ``*args``; or a keyword-only
    ``trial``. A second parameter with another default keeps it (``fn(config, X=X_val)``, ``fn(config, verbose=False)``).
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2:
        second = positional[1]
        if second.name == "trial" or second.default is inspect.Parameter.empty or second.default is None:
            return True
        return trial_by_keyword(fn)
    return any(p.kind is p.VAR_POSITIONAL for p in params) or trial_by_keyword(fn)


def trial_by_keyword(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes the trial as a keyword-only parameter named ``trial`` (``def fn(config, *, trial)``):
    it is then given as ``trial=``, whatever positional parameters come before it."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is p.KEYWORD_ONLY and p.name == "trial" for p in params)


def given_the_trial(exc: Exception, fn: Callable[..., Any], index: int, called: str) -> Exception:
    """``exc``, which ``fn`` raised after moo_hpo passed the trial to its positional parameter at ``index``, with a hint
    at the end of its message where that parameter is not named ``trial`` and ``exc`` is a type error that names the
    ``Trial`` type (the trial used as a number, a shape or an array: ``build(config, n_classes)``): which parameter
    received the trial, and how to keep it for something else. The exception keeps its type (``catch=`` still
    catches it); a call of the trial's own methods (``Trial.report()``) gets no hint.

    Args:
        exc: what ``fn`` raised.
        fn: the user's function.
        index: the position of the parameter that received the trial.
        called: how ``fn`` is named in the message (``"build"``, ``"fit"``, ``"the objective"``).
    """
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception that cannot say itself: left as it is
        return exc
    if not isinstance(exc, (TypeError, AttributeError, ValueError)) or not re.search(r"\bTrial\b(?!\.)", text):
        return exc
    try:
        positional = [p for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return exc
    if len(positional) <= index or positional[index].name == "trial":
        return exc
    name = positional[index].name
    hint = (f"(moo_hpo passed the trial to {called}'s parameter {name!r}, as to any parameter in that place without a "
            f"default or defaulting to None: if {name!r} is for something else, give it its value, "
            f"functools.partial({getattr(fn, '__name__', called)}, {name}=...), or another default)")
    if hint in text or hint in getattr(exc, "__notes__", ()):  # the same exception object again: hinted once
        return exc
    if len(exc.args) == 1 and exc.args[0] == text:  # its message is its argument: the hint ends the message
        exc.args = (f"{text} {hint}",)
        if str(exc) == f"{text} {hint}":
            return exc
        exc.args = (text,)
    exc.add_note(hint)  # a message of its own making (pydantic's): the hint below the traceback
    return exc


def call_objective(fn: Callable[..., Any], trial: Trial, takes_trial: bool, in_worker: bool = False) -> Outcome:
    """Run ``fn(config)`` (or ``fn(config, trial)``), turning an ``Exception`` into an outcome.

    In a worker (``in_worker``: a local worker process, a Dask task) ``SystemExit`` (a training script's
    ``sys.exit``, argparse on arguments it does not know) is the trial's failure too, not the worker's end, and so is
    a ``KeyboardInterrupt`` the objective raised itself (no SIGINT reached the worker: :data:`INTERRUPT_SIGNALLED`).
    In the study's own process it passes through, with ``KeyboardInterrupt`` and every other ``BaseException``:
    there it may be the process's own shutdown (a signal handler that calls ``sys.exit``), or Ctrl-C.

    In a worker, what the objective wrote into ``trial.extra`` (a copy there) goes into the outcome's ``extra``, so
    that the study keeps it as it does when the objective runs in its own process on the trial itself (moo_hpo's own
    keys left out: ``optimizer``, ``repeat_of`` ...).
    """
    before = dict(trial.extra) if in_worker else {}
    try:
        if not takes_trial:
            value = fn(dict(trial.config))
        else:
            value = fn(dict(trial.config), trial=trial) if trial_by_keyword(fn) else fn(dict(trial.config), trial)
    except Exception as exc:  # noqa: BLE001 - failures are data
        if takes_trial and not trial_by_keyword(fn):
            exc = given_the_trial(exc, fn, 1, "the objective")
        return Outcome(error=format_exception(exc), exception=exc, extra=_written(trial, before, in_worker))
    except SystemExit as exc:
        if not in_worker or isinstance(exc, KeyboardInterrupt):  # a SIGTERM's Terminated stops the study, as Ctrl-C
            raise
        said = f"the objective called sys.exit({exc.code!r}), which ends the trial, not the study: {format_exception(exc)}"
        return Outcome(error=said)
    except KeyboardInterrupt as exc:
        if not in_worker or INTERRUPT_SIGNALLED.is_set():  # Ctrl-C: the study's, or its process group's, which stops it
            raise
        # raised by the objective itself (no signal came): the trial's failure; it killed the worker, which a Dask
        # nanny restarted to run the trial again, and read as "killed by SIGINT"
        said = f"the objective raised KeyboardInterrupt, which ends the trial, not the study: {format_exception(exc)}"
        return Outcome(error=said)
    return Outcome(value=value, extra=_written(trial, before, in_worker))


#: Set in a local worker process when it receives SIGINT (Ctrl-C reaches the study's whole process group): a
#: ``KeyboardInterrupt`` then is the signal's, which ends the worker, rather than one the objective raised.
INTERRUPT_SIGNALLED = threading.Event()


def note_interrupt_signals() -> None:
    """Install, in a local worker process, a SIGINT handler that sets :data:`INTERRUPT_SIGNALLED` and then raises
    ``KeyboardInterrupt`` as Python's own handler does (so :func:`call_objective` tells Ctrl-C from an objective's
    own ``raise KeyboardInterrupt``)."""
    import signal

    def interrupted(signum: int, frame: Any) -> None:
        INTERRUPT_SIGNALLED.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)


def _written(trial: Trial, before: dict[str, Any], in_worker: bool) -> dict[str, Any]:
    """What the objective wrote into a worker's copy of ``trial.extra`` (new keys, and keys given another value)."""
    if not in_worker:
        return {}
    from moo_hpo.trial import ASKED_KEYS

    return {k: v for k, v in trial.extra.items() if k not in ASKED_KEYS and (k not in before or before[k] is not v)}


class InProcessExecutor:
    """Runs one trial at a time in the calling process."""

    capacity = 1

    def __init__(self, fn: Callable[..., Any], reporter: Any = None) -> None:
        self.fn = fn
        self.reporter = reporter  # where trial.report(...) goes (the study's StudyReporter)
        self._takes_trial = takes_trial(fn)
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
            before, trial._reporter = trial._reporter, self.reporter
            try:
                outcome = call_objective(self.fn, trial, self._takes_trial)
                raise_a_caught_stop()  # a Ctrl-C or SIGTERM the objective caught: the trial stays running, then interrupted
                done.append((trial, outcome))
            finally:  # the study's own reporter again: a report on the finished trial is refused by the study, not
                trial._reporter = before  # kept on its record in memory and never stored
            self._queue.pop(0)
        return done

    def running(self) -> list[Trial]:
        return list(self._queue)

    def shutdown(self) -> None:
        self._queue.clear()
