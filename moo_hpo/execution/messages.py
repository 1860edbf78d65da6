"""The wire format between the study and its local worker processes (length-prefixed pickles), and how an
objective's exception travels in it (also to the study from a Dask worker)."""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

__all__ = ["ExceptionCarrier", "rebuilt_exception", "receive", "send"]

_HEADER = struct.Struct("!Q")


def send(stream: BinaryIO, message: Any) -> None:
    """Write one message: its pickle's length, then the pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    """Read one message written by :func:`send`.

    Raises:
        EOFError: when the other side closed the stream.
    """
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other side closed the stream")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the stream mid-message")
    return pickle.loads(data)


def rebuilt_exception(parts: bytes, whole: bool = True) -> BaseException:
    """An exception from what :class:`ExceptionCarrier` sent. In this module, not the worker's ``__main__``, so that
    the study's process finds it.

    Args:
        parts: cloudpickle's bytes (loading them needs cloudpickle importable, as the study's process has it).
        whole: the exception pickled whole (its own ``__reduce__``: built-in exceptions' C-level fields kept); else its
            class, ``args`` and attributes, set without calling its ``__init__`` again (pickle calls ``cls(*args)``,
            which garbles one whose ``__init__`` builds its message).
    """
    if whole:
        return pickle.loads(parts)
    kind, args, state = pickle.loads(parts)
    exc = kind.__new__(kind, *args)
    exc.args = tuple(args)
    exc.__dict__.update(state)
    return exc


class ExceptionCarrier:
    """An objective's exception on its way back to the study, as it was raised: by cloudpickle (a class defined in the
    user's script comes back as that class, which ``catch=`` names), whole when that rebuilds it faithfully (the same
    type and text: ``FileNotFoundError`` keeps its file name), else by its class, ``args`` and attributes.

    Raises:
        ValueError: when neither way rebuilds it with the same type and text (the caller sends less).
    """

    def __init__(self, exc: BaseException) -> None:
        import cloudpickle

        self.whole = True
        self.parts = b""
        for whole in (True, False):
            try:
                parts = cloudpickle.dumps(exc if whole else (type(exc), exc.args, dict(getattr(exc, "__dict__", {}))))
                again = rebuilt_exception(parts, whole)
                if type(again) is type(exc) and str(again) == str(exc):
                    self.whole, self.parts = whole, parts
                    return
            except Exception:  # noqa: BLE001 - the other way, or less
                continue
        raise ValueError(f"{type(exc).__name__} does not come back as it was raised")

    def __reduce__(self) -> tuple[Any, tuple[bytes, bool]]:
        return rebuilt_exception, (self.parts, self.whole)
