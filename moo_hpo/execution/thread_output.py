"""Each thread's prints to its own buffer: how a Dask worker running several trials at once keeps each trial's
output apart (``sys.stdout`` is one per process, so swapping it, as ``contextlib.redirect_stdout`` does, mixes the
trials' prints and can leave the worker's own stream replaced)."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from typing import Any

__all__ = ["ThreadOutput"]


class ThreadOutput:
    """``sys.stdout`` / ``sys.stderr`` of a Dask worker while trials run: what a thread running a trial writes
    goes to that trial's buffer, everything else to the stream it stands for (a worker runs one trial per thread,
    and swapping ``sys.stdout`` itself would mix simultaneous trials' output and could leave the worker's own
    replaced). Installed by the first trial that starts, removed when the last running one ends; every other
    attribute (``encoding``, ``fileno``, ``buffer`` ...) is the stream's."""

    _lock = threading.Lock()
    _active = 0

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.buffers: dict[int, io.StringIO] = {}

    def write(self, text: str) -> int:
        target = self.buffers.get(threading.get_ident()) or self.stream
        return len(text) if target is None else target.write(text)  # a worker without a stream prints nothing

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    @classmethod
    @contextlib.contextmanager
    def capture(cls, buffer: io.StringIO) -> Any:
        """Send this thread's prints (stdout and stderr) to ``buffer`` while the block runs."""
        with cls._lock:
            routers = []
            for name in ("stdout", "stderr"):
                current = getattr(sys, name)
                router = current if isinstance(current, cls) else cls(current)
                setattr(sys, name, router)
                routers.append((name, router))
            cls._active += 1
        me = threading.get_ident()
        before = [router.buffers.get(me) for _, router in routers]
        for _, router in routers:
            router.buffers[me] = buffer
        try:
            yield
        finally:
            for (_, router), previous in zip(routers, before, strict=True):
                if previous is None:
                    router.buffers.pop(me, None)
                else:  # a capture within a capture: the outer one's buffer again
                    router.buffers[me] = previous
            with cls._lock:
                cls._active -= 1
                if cls._active == 0:  # no trial runs: the worker's own streams again
                    for name, router in routers:
                        if getattr(sys, name) is router:
                            setattr(sys, name, router.stream)
