"""Dask's own log lines on the command line: kept, their tracebacks left for ``--debug``.

Dask's client logs a lost scheduler's reconnection attempts with a traceback of some 35 lines before ``moo-hpo run``
says, in one line, that the connection was lost; the command line promises one line per error without ``--debug``.
Dask's loggers have handlers of their own (they do not reach the root logger), so the change goes on those, and on
the root logger's, which take asyncio's records. Only handlers that write to the terminal change, and only in how
they format: a record is shared by every handler that takes it, so a log file of the user's own, on Dask's loggers
or the root, keeps every traceback.
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


class _NoTracebackFormatter(logging.Formatter):
    """Formats a record from :data:`_QUIETED` as the handler's own formatter does, without its traceback (on a copy:
    the record itself, which other handlers format too, is left as it is); other records as they are."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if not _quieted(record):
            return self.inner.format(record)
        quiet = logging.makeLogRecord(record.__dict__)
        quiet.exc_info, quiet.exc_text, quiet.stack_info = None, None, None
        return self.inner.format(quiet)


class _NoBareTraceback(logging.Filter):
    """Drops, for the handler it is on, a record from :data:`_QUIETED` with nothing but a traceback (the event loop's
    cancelled reconnection: the command's own error says what happened)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _quieted(record) or bool(record.getMessage().strip())


def _on_the_terminal(handler: logging.Handler) -> bool:
    """A handler that writes to standard error or output (Dask's own, the command line's), not to a file."""
    stream = getattr(handler, "stream", None)
    return not isinstance(handler, logging.FileHandler) and stream is not None and stream in (
        sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)


def quiet_dask_tracebacks() -> None:
    """Format Dask's records without their tracebacks on the terminal handlers of Dask's ``distributed`` loggers
    (importing it sets them up; tornado's records go to Dask's handler too) and of the root logger (asyncio's)."""
    import distributed  # noqa: F401 - its import creates the loggers and handlers

    names = ["", "distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    for name in names:  # the root's handlers take asyncio's and tornado's records
        for handler in logging.getLogger(name).handlers:
            if _on_the_terminal(handler) and not isinstance(handler.formatter, _NoTracebackFormatter):
                handler.setFormatter(_NoTracebackFormatter(handler.formatter))
                handler.addFilter(_NoBareTraceback())
