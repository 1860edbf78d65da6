"""The optimizer's proposal in a thread of its own while the study answers the running trials' reports.

A trial that reports waits for the pruner's answer, which the study gives from its own thread. A model step of a
Bayesian optimizer takes from under a second to a minute; answered only between proposals, every reporting trial
stood still that long (a pass measured trials of 43 s of work taking 96 s with ``ehvi`` and two workers). Here
``optimizer.ask`` runs in a background thread, which touches only the optimizer (its told trials, its models),
while the study's thread goes on answering reports through the executor (``answer_reports``) and stays the only
one to write the study's file. A Ctrl-C stops the study at once; an ask it abandons finishes in its thread, and the
next ask of that optimizer waits for it first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ask_answering_reports"]

#: seconds between two rounds of answering reports while the optimizer proposes
POLL = 0.02
#: an optimizer's ask still running in its thread (abandoned by a Ctrl-C), by the optimizer's id
_ASKING: dict[int, threading.Thread] = {}


def ask_answering_reports(optimizer: Any, ask: Callable[[], Any], answer_reports: Callable[[float], None]) -> Any:
    """``ask()`` run in a background thread while this one answers the reports that came, every ``POLL`` seconds,
    until it returns.

    Args:
        optimizer: the optimizer ``ask`` belongs to (an abandoned earlier ask of it is waited for first).
        ask: the proposal, ``lambda: optimizer.ask(n, pending)``.
        answer_reports: answers the reports that arrive within the given seconds (called with 0: those at hand).

    Returns:
        What ``ask`` returned.

    Raises:
        BaseException: whatever ``ask`` raised, or what interrupted this thread (Ctrl-C).
    """
    earlier = _ASKING.pop(id(optimizer), None)
    if earlier is not None:
        earlier.join()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = ask()
        except BaseException as exc:  # noqa: BLE001 - handed to the study's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="moo_hpo-ask", daemon=True)
    _ASKING[id(optimizer)] = thread
    thread.start()
    while True:
        thread.join(POLL)  # a quick ask (an evolutionary optimizer's) returns at once
        if not thread.is_alive():
            break
        answer_reports(0.0)
    _ASKING.pop(id(optimizer), None)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
