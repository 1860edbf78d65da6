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


def rebuilt_exception(parts: bytes) -> BaseException:
    """An exception from what :class:`ExceptionCarrier` sent: its class, ``args`` and attributes, set without calling
    its ``__init__`` again (pickle calls ``cls(*args)``, which garbles one whose ``__init__`` builds its message).
    In this module, not the worker's ``__main__``, so that the study's process finds it."""
    kind, args, state = pickle.loads(parts)  # cloudpickle's: needs cloudpickle importable, as the study's process has
    exc = kind.__new__(kind, *args)
    exc.args = tuple(args)
    exc.__dict__.update(state)
    return exc


class ExceptionCarrier:
    """An objective's exception on its way back to the study, as it was raised: its class by cloudpickle (a class
    defined in the user's script comes back as that class, which ``catch=`` names), its ``args`` and attributes."""

    def __init__(self, exc: BaseException) -> None:
        import cloudpickle

        self.parts = cloudpickle.dumps((type(exc), exc.args, dict(getattr(exc, "__dict__", {}))))

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return rebuilt_exception, (self.parts,)
