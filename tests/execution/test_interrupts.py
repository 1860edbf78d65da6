"""Ctrl-C during a study's clean-up: further presses wait for it, one more than the held ones stops at once."""

from __future__ import annotations

import time

import pytest


def test_ctrl_c_presses_during_the_clean_up_wait_for_it_and_one_more_stops_at_once(caplog):
    import signal

    from moo_hpo.execution.interrupts import HELD_INTERRUPTS, further_interrupts_held

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # the handler a script runs with
    try:
        _presses_wait_then_one_more_stops(caplog, HELD_INTERRUPTS, further_interrupts_held)
    finally:
        signal.signal(signal.SIGINT, previous)


def _presses_wait_then_one_more_stops(caplog, HELD_INTERRUPTS, further_interrupts_held):
    import os
    import signal

    with caplog.at_level("WARNING", logger="moo_hpo"), further_interrupts_held():
        for _ in range(HELD_INTERRUPTS):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs in the main thread between bytecodes
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert "the running trials are being recorded as interrupted" in caplog.text
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back
