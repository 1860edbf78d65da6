"""Dask's own log lines on the command line: kept, their tracebacks left for ``--debug``.

Dask's client logs a lost scheduler's reconnection attempts with a traceback of some 35 lines before ``moo-hpo run``
says, in one line, that the connection was lost; the command line promises one line per error without ``--debug``.
Dask's loggers have handlers of their own (they do not reach the root logger), so the change goes on those, and on
the root logger's, which take asyncio's records. Only handlers that write to the terminal change, and only in how
they emit (a copy of the record without its traceback): a record is shared by every handler that takes it, so a log
file of the user's own, on Dask's loggers or the root, keeps every traceback.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["quiet_dask_tracebacks"]


#: The loggers whose records lose their tracebacks: Dask's, and those of the event loop its client runs on
#: (asyncio and tornado log a cancelled reconnection's error themselves).
_QUIETED = ("distributed", "asyncio", "tornado")


def _quieted(record: logging.LogRecord) -> bool:
    return record.name.split(".")[0] in _QUIETED


def _without_traceback(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` without its traceback (the record itself, which other handlers take too, is left as it
    is)."""
    quiet = logging.makeLogRecord(record.__dict__)
    quiet.exc_info, quiet.exc_text, quiet.stack_info = None, None, None
    return quiet


def _quiet_emit(handler: logging.Handler) -> None:
    """Make ``handler`` emit :data:`_QUIETED` records without their tracebacks (its own formatting otherwise: a
    ``RichHandler`` draws tracebacks itself, so its ``emit`` is what is wrapped, not its formatter)."""
    emit = handler.emit

    def quiet_emit(record: logging.LogRecord) -> None:
        emit(_without_traceback(record) if _quieted(record) else record)

    quiet_emit.moo_hpo_quiet = True  # type: ignore[attr-defined]
    handler.emit = quiet_emit  # type: ignore[method-assign]


class _NoBareTraceback(logging.Filter):
    """Drops, for the handler it is on, a record from :data:`_QUIETED` with nothing but a traceback (the event loop's
    cancelled reconnection: the command's own error says what happened)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _quieted(record) or bool(record.getMessage().strip())


def _on_the_terminal(handler: logging.Handler) -> bool:
    """A handler that writes to standard error or output (Dask's own, the command line's, a rich ``RichHandler``),
    not to a file or elsewhere."""
    from rich.logging import RichHandler

    terminal = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    if isinstance(handler, RichHandler):  # its console's file: a terminal, or a log of the user's own
        return handler.console.file in terminal
    stream = getattr(handler, "stream", None)
    return not isinstance(handler, logging.FileHandler) and stream is not None and stream in terminal


def quiet_dask_tracebacks() -> None:
    """Emit Dask's records without their tracebacks on the terminal handlers of Dask's ``distributed`` loggers
    (importing it sets them up; tornado's records go to Dask's handler too) and of the root logger (asyncio's)."""
    import distributed  # noqa: F401 - its import creates the loggers and handlers

    names = ["", "distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    for name in names:  # the root's handlers take asyncio's and tornado's records
        for handler in logging.getLogger(name).handlers:
            if _on_the_terminal(handler) and not getattr(handler.emit, "moo_hpo_quiet", False):
                _quiet_emit(handler)
                handler.addFilter(_NoBareTraceback())
