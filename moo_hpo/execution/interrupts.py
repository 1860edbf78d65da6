"""Stopping a study by a signal: SIGTERM as Ctrl-C, and further Ctrl-C presses held while running trials are recorded."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import Any

__all__ = [
    "HELD_INTERRUPTS", "Terminated", "further_interrupts_held", "interrupts_deferred", "raise_a_caught_stop",
    "stops_recorded", "terminate_as_interrupt",
]

logger = logging.getLogger("moo_hpo")

#: Ctrl-C presses during the clean-up after an interrupt that are held back; one more stops at once.
HELD_INTERRUPTS = 2

#: The stop signals (SIGINT, SIGTERM) that reached the study's process while it ran, oldest first: an objective may
#: catch the KeyboardInterrupt they raise (scikit-learn's MLP and PyTorch Lightning's Trainer stop training on one and
#: return), and the study raises it again once the objective returns (:func:`raise_a_caught_stop`).
_stops: list[int] = []


def _ours(handler: Any) -> bool:
    """Whether ``handler`` is Python's Ctrl-C handler or one of moo_hpo's that stop the study (a user's is not)."""
    return handler is signal.default_int_handler or getattr(handler, "moo_hpo_stops_the_study", False)


@contextlib.contextmanager
def stops_recorded() -> Any:
    """While the study runs: a Ctrl-C is recorded as it raises KeyboardInterrupt (Python's handler wrapped; a user's
    own is left alone), as moo_hpo's SIGTERM handler records its own, so that a stop an objective caught is not lost;
    presses right after the first are held as during the clean-up (:func:`further_interrupts_held`), which they may
    reach before it holds them. Only in the main thread."""
    _stops.clear()
    wrap = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    presses = 0

    def ctrl_c(signum: int, frame: Any) -> None:
        # the first press stops the study; presses right after it, before its clean-up holds them itself (a user
        # presses twice by habit), are held too, up to HELD_INTERRUPTS; one more stops at once
        nonlocal presses
        presses += 1
        if presses == 1 or presses > 1 + HELD_INTERRUPTS:
            _stops.append(signum)
            signal.default_int_handler(signum, frame)
        if presses == 2:
            logger.warning("Ctrl-C again: the study is stopping, a moment (press it %d more time%s to stop at once)",
                           HELD_INTERRUPTS, "" if HELD_INTERRUPTS == 1 else "s")

    ctrl_c.moo_hpo_stops_the_study = True  # type: ignore[attr-defined]
    if wrap:
        signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield
    finally:
        if wrap:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _stops.clear()


def raise_a_caught_stop() -> None:
    """Raise again the stop (KeyboardInterrupt; :exc:`Terminated` for SIGTERM) that reached the study while an
    objective ran in its process, if the objective caught it and returned: its trial is then recorded interrupted and
    the study stops, as if the objective had let it through (before, the cut-short trial was recorded complete and
    the study went on)."""
    if _stops:
        signum = _stops[0]
        _stops.clear()
        logger.warning("the objective caught the %s and returned: its trial is recorded interrupted, and the study stops",
                       "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C")
        raise Terminated("SIGTERM") if signum == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def further_interrupts_held() -> Any:
    """Hold back Ctrl-C while the workers stop and the running trials are recorded as interrupted.

    A user presses Ctrl-C twice by habit; a second KeyboardInterrupt in the middle of the clean-up left trials
    ``running`` in the store. The clean-up is short (workers are killed, a few rows written), so up to
    :data:`HELD_INTERRUPTS` further presses wait for it; one more than that stops at once. Only Python's own
    handler is replaced, and only in the main thread (a user's own SIGINT handler is left alone).
    """
    _stops.clear()  # the study is stopping: a stop an objective caught is acted on, not raised again
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    terminate = signal.getsignal(signal.SIGTERM)
    if getattr(terminate, "moo_hpo_stops_the_study", False):  # terminate_as_interrupt's: a SIGTERM now waits too
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        if not _ours(signal.getsignal(signal.SIGINT)):
            yield
            return
        with _ctrl_c_held():
            yield
    finally:
        if getattr(terminate, "moo_hpo_stops_the_study", False):
            signal.signal(signal.SIGTERM, terminate)


@contextlib.contextmanager
def interrupts_deferred(what: str) -> Any:
    """Hold a Ctrl-C (and a SIGTERM that stops the study) back until the block ends, then raise it.

    For imports of large libraries: an interrupt halfway leaves a module half-initialized in ``sys.modules`` for the
    rest of the process (torch then fails with "partially initialized module", and a notebook needs a restart). The
    block is short (seconds, once per process). Only in the main thread, and only over Python's own Ctrl-C handler
    and moo_hpo's SIGTERM handler (a user's own handlers are left alone).

    Args:
        what: what is loading, for the log line of a held press.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if not held:
            logger.warning("%s: stopping in a moment, once %s finish loading",
                           "Ctrl-C" if signum == signal.SIGINT else "SIGTERM", what)
        held.append(signum)

    replaced = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if _ours(handler):
            replaced[signum] = handler
            signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
    if held:
        raise Terminated("SIGTERM") if held[0] == signal.SIGTERM else KeyboardInterrupt


@contextlib.contextmanager
def _ctrl_c_held() -> Any:
    """moo_hpo's (or Python's) Ctrl-C handler replaced by one that holds :data:`HELD_INTERRUPTS` presses back."""
    presses = 0
    before = signal.getsignal(signal.SIGINT)

    def hold(signum: int, frame: Any) -> None:
        nonlocal presses
        presses += 1
        if presses > HELD_INTERRUPTS:
            raise KeyboardInterrupt
        if presses == 1:
            logger.warning("Ctrl-C again: the running trials are being recorded as interrupted, a moment (press it "
                           "%d more time%s to stop at once; they then stay 'running' until the study is next opened)",
                           HELD_INTERRUPTS, "" if HELD_INTERRUPTS == 1 else "s")

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


class Terminated(KeyboardInterrupt, SystemExit):
    """The KeyboardInterrupt that SIGTERM raises during :meth:`~moo_hpo.Study.optimize` (so that the running trials'
    records say SIGTERM, not Ctrl-C).

    It is a ``SystemExit`` too, with ``code`` 143 (128 + SIGTERM's 15): a script that does not catch it ends as
    ``sys.exit(143)`` ends one, after Python's whole shutdown (``atexit`` functions, non-daemon threads joined, open
    files flushed), with the status a shell and a scheduler read as stopped by SIGTERM; Python would end it with
    status 1 for a KeyboardInterrupt of another type. ``except KeyboardInterrupt`` catches it as before.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.code = 143


@contextlib.contextmanager
def terminate_as_interrupt() -> Any:
    """SIGTERM (what ``timeout``, SLURM, ``docker stop`` and systemd send) stops a study as Ctrl-C does: running trials
    are recorded ``interrupted`` (and run again when the study goes on), workers are stopped and the study file is
    closed, and :exc:`KeyboardInterrupt` is raised, instead of the process dying at once with trials left ``running``.

    Only in the main thread, and only while SIGTERM has its default action (a handler of the user's is left alone);
    the default comes back afterwards.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    study_pid = os.getpid()

    def interrupt(signum: int, frame: Any) -> None:
        if os.getpid() != study_pid:  # a child the objective forked: it ends as SIGTERM ends it by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM does not break off the clean-up
        _stops.append(signum)  # an objective that catches it returns: the study raises it again then
        raise Terminated("SIGTERM")

    interrupt.moo_hpo_stops_the_study = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
