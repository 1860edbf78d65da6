from __future__ import annotations

import logging
import os
import threading
import time

import pytest
from botorch.acquisition.multi_objective import logei

from moo_hpo.optimizers.bayesian import fused_kernel_lock
from moo_hpo.optimizers.bayesian._private_api import fused_kernel_load_attempted
from moo_hpo.optimizers.bayesian.fused_kernel_lock import clear_stale_build_lock


@pytest.fixture
def lock(tmp_path, monkeypatch):
    """The kernel's lock file path in a private extensions folder, with BoTorch's kernel not yet loaded."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(logei, "_load_attempted", False)
    path = fused_kernel_lock.lock_path()
    assert path == os.path.join(str(tmp_path), "logei_fused_ext", "lock")
    return path


def _touch(path: str, age: float) -> None:
    with open(path, "w"):
        pass
    then = time.time() - age
    os.utime(path, (then, then))


def test_removes_a_lock_older_than_the_limit_and_says_so(lock, caplog):
    _touch(lock, age=400.0)
    with caplog.at_level(logging.WARNING, logger="moo_hpo"):
        clear_stale_build_lock(stale_after=300.0)
    assert not os.path.exists(lock)
    assert "interrupted build" in caplog.text and lock in caplog.text
    assert fused_kernel_load_attempted() is False  # BoTorch still loads (and builds) its kernel


def test_waits_for_a_young_lock_to_go_and_leaves_nothing_behind(lock, caplog):
    _touch(lock, age=0.0)
    threading.Timer(0.2, os.remove, args=(lock,)).start()
    start = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="moo_hpo"):
        clear_stale_build_lock(stale_after=30.0, poll_seconds=0.05)
    waited = time.perf_counter() - start
    assert 0.15 <= waited < 5.0
    assert "waiting for another process" in caplog.text
    assert "removed" not in caplog.text


def test_a_young_lock_that_turns_stale_while_waiting_is_removed(lock):
    _touch(lock, age=0.0)
    clear_stale_build_lock(stale_after=0.3, poll_seconds=0.05)
    assert not os.path.exists(lock)


def test_does_nothing_once_botorch_tried_to_load_the_kernel(lock, monkeypatch):
    monkeypatch.setattr(logei, "_load_attempted", True)
    _touch(lock, age=1000.0)
    clear_stale_build_lock(stale_after=1.0)
    assert os.path.exists(lock)


def test_no_lock_returns_at_once(lock):
    start = time.perf_counter()
    clear_stale_build_lock()
    assert time.perf_counter() - start < 1.0
    assert not os.path.exists(lock)


def test_a_lock_that_cannot_be_removed_falls_back_to_the_python_computation(lock, monkeypatch, caplog):
    _touch(lock, age=1000.0)

    def refuse(path):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(fused_kernel_lock.os, "remove", refuse)
    with caplog.at_level(logging.WARNING, logger="moo_hpo"):
        clear_stale_build_lock(stale_after=1.0)
    assert fused_kernel_load_attempted() is True
    assert "could not be removed" in caplog.text and "Permission denied" in caplog.text


@pytest.mark.parametrize("stale_after, poll", [(0.0, 1.0), (1.0, -1.0)])
def test_rejects_non_positive_times(stale_after, poll):
    with pytest.raises(ValueError, match="must be positive; received"):
        clear_stale_build_lock(stale_after=stale_after, poll_seconds=poll)
