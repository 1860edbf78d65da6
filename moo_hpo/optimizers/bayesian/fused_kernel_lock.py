"""Recover from a stale build lock of BoTorch's fused qLogEHVI kernel instead of hanging.

Why our own code: BoTorch (0.18) compiles a small C++ kernel for qLogEHVI and qLogNEHVI the first time one
is built in a process that finds no compiled copy, with torch's JIT extension builder, into
``~/.cache/torch_extensions`` (or ``$TORCH_EXTENSIONS_DIR``). While it compiles, the builder holds a lock
file there; other processes wait until the file is gone. A process killed during that first compilation
(Ctrl-C in the first study on a machine, a job that ran out of time) leaves the file behind, and every later
process then waits for it forever: an ``"ehvi"`` study would hang at its first model-based ask without a
word. Neither torch nor BoTorch times that wait out.

:func:`clear_stale_build_lock` runs before moo_hpo builds its first qLogEHVI or qLogNEHVI in a process. A
lock file older than ``stale_after`` seconds (default 300; the compilation takes seconds to about a minute)
is taken for a leftover and removed, with a warning that names it. A younger one belongs to a compilation in
progress: the function waits until it is gone or has turned stale. Where the file cannot be removed, BoTorch
is told not to load the kernel in this process, and it computes the same values in pure Python (slower).

:func:`load_fused_kernel` does that and then has BoTorch load (or build) the kernel, timing it: the seconds
(:func:`one_off_seconds`) are the machine's one-off cost, which the Bayesian optimizers' time share leaves out.
"""

from __future__ import annotations

import logging
import os
import time

from moo_hpo.optimizers.bayesian._private_api import (
    PrivateApiChanged,
    fused_kernel_load_attempted,
    torch_extension_build_directory,
)

__all__ = ["clear_stale_build_lock", "load_fused_kernel", "lock_path", "one_off_seconds"]

logger = logging.getLogger("moo_hpo")

_EXTENSION_NAME = "logei_fused_ext"  # the name BoTorch compiles its kernel under
STALE_AFTER_SECONDS = 300.0


def lock_path() -> str | None:
    """Where torch's builder keeps the kernel's lock file; None where that cannot be told."""
    try:
        return os.path.join(torch_extension_build_directory(_EXTENSION_NAME), "lock")
    except OSError:  # an unwritable cache: the builder would fail too, and BoTorch falls back to Python
        return None
    except PrivateApiChanged:  # a safeguard only: a study goes on without it (test_private_api fails loudly)
        return None


#: Seconds this process spent loading BoTorch's kernel: building it where no compiled copy exists (the first study
#: on a machine: up to about a minute), or waiting for another process's build.
_ONE_OFF_SECONDS = [0.0]


def one_off_seconds() -> float:
    """The seconds :func:`load_fused_kernel` has taken in this process so far: a one-off cost of the machine, which a
    Bayesian optimizer's time share does not count as proposing (a study's first model step would otherwise spend a
    minute of allowance on it and make mutations only after)."""
    return _ONE_OFF_SECONDS[0]


def load_fused_kernel() -> None:
    """Load BoTorch's fused qLogEHVI kernel now (building it where no compiled copy exists), once per process,
    after :func:`clear_stale_build_lock`; the time it took counts in :func:`one_off_seconds`."""
    if fused_kernel_load_attempted():
        return
    from botorch.acquisition.multi_objective import logei

    started = time.perf_counter()
    try:
        clear_stale_build_lock()
        load = getattr(logei, "_try_load_fused_kernel", None)
        if load is not None:  # else BoTorch loads it as it builds the acquisition, as before
            load()
    finally:
        _ONE_OFF_SECONDS[0] += time.perf_counter() - started


def clear_stale_build_lock(stale_after: float = STALE_AFTER_SECONDS, poll_seconds: float = 1.0) -> None:
    """Make sure BoTorch's first load of its fused kernel in this process cannot wait forever.

    Does nothing once BoTorch has tried to load the kernel in this process, or where there is no lock file.

    Args:
        stale_after: age in seconds from which a lock file counts as left behind by a killed build.
        poll_seconds: how often to look again while a younger lock file exists.

    Raises:
        ValueError: for a ``stale_after`` or ``poll_seconds`` that is not positive.
    """
    if not stale_after > 0 or not poll_seconds > 0:
        raise ValueError(
            f"stale_after and poll_seconds must be positive; received {stale_after!r} and {poll_seconds!r}"
        )
    if fused_kernel_load_attempted():  # loaded (or given up) already, or a BoTorch without the kernel
        return
    path = lock_path()
    if path is None:
        return
    announced = False
    while True:
        try:
            age = time.time() - os.path.getmtime(path)
        except OSError:  # no lock file (any more): the builder will not wait
            return
        if age >= stale_after:
            break
        if not announced:
            logger.info("waiting for another process's build of BoTorch's qLogEHVI kernel (lock file %s)", path)
            announced = True
        time.sleep(min(poll_seconds, stale_after - age))
    try:
        os.remove(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        fused_kernel_load_attempted(mark=True)  # BoTorch then uses its pure-Python computation in this process
        logger.warning(
            "BoTorch's qLogEHVI kernel has a build lock file %s, %.0f s old, left by an interrupted build, and it "
            "could not be removed (%s); using BoTorch's slower pure-Python computation. Delete the file to "
            "restore the kernel.",
            path, age, exc,
        )
        return
    logger.warning(
        "removed %s, a build lock file %.0f s old left by an interrupted build of BoTorch's qLogEHVI kernel "
        "(it would have made this process wait forever)",
        path, age,
    )
