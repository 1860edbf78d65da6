"""The optimizer's proposal in a thread of its own while the study answers the running trials' reports.

A trial that reports waits for the pruner's answer, which the study gives from its own thread. A model step of a
Bayesian optimizer takes from under a second to a minute; answered only between proposals, every reporting trial
stood still that long (a pass measured trials of 43 s of work taking 96 s with ``ehvi`` and two workers). For an
optimizer that allows it (:attr:`~moo_hpo.optimizers.Optimizer.ask_in_thread`: its ask touches only its own
state), ``optimizer.ask`` runs in a background thread while the study's thread goes on answering reports through
the executor (``answer_reports``) and stays the only one to write the study's file.

An ask cannot be stopped midway (it is inside torch): a Ctrl-C during it stops the study once it ends, with further
presses held back meanwhile, so that nothing else touches the optimizer while it runs and no thread is left inside
native code when the process exits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["POLL", "ask_answering_reports"]

logger = logging.getLogger("moo_hpo")

#: seconds between two rounds of answering reports while the optimizer proposes
POLL = 0.02


def ask_answering_reports(ask: Callable[[], Any], answer_reports: Callable[[float], None]) -> Any:
    """``ask()`` run in a background thread while this one answers the reports that came, every ``POLL`` seconds,
    until it returns.

    Args:
        ask: the proposal, ``lambda: optimizer.ask(n, pending)``.
        answer_reports: answers the reports that arrive within the given seconds (called with 0: those at hand).

    Returns:
        What ``ask`` returned.

    Raises:
        BaseException: whatever ``ask`` raised, or what interrupted this thread (Ctrl-C, a lost connection), once
            ``ask`` has ended.
    """
    outcome: dict[str, Any] = {}
    ended = threading.Event()  # not Thread.is_alive: a join interrupted by Ctrl-C can leave it saying False

    def run() -> None:
        try:
            outcome["value"] = ask()
        except BaseException as exc:  # noqa: BLE001 - handed to the study's thread
            outcome["error"] = exc
        finally:
            ended.set()

    thread = threading.Thread(target=run, name="moo_hpo-ask")  # not a daemon: never cut off inside torch at exit
    thread.start()
    try:
        while not ended.wait(POLL):  # a quick ask returns at once
            answer_reports(0.0)
    except BaseException:
        if not ended.is_set():
            from moo_hpo.execution.interrupts import further_interrupts_held

            logger.warning("stopping once the optimizer's proposal in progress ends (it cannot be stopped midway)")
            with further_interrupts_held():
                ended.wait()
        raise
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
