"""Dask's own log lines on the command line: kept, their tracebacks left for ``--debug``.

Dask's client logs a lost scheduler's reconnection attempts with a traceback of some 35 lines before ``moo-hpo run``
says, in one line, that the connection was lost; the command line promises one line per error without ``--debug``.
Dask's loggers have handlers of their own (they do not reach the root logger), so the filter goes on those, and on
the root logger's, which take asyncio's records.
"""

from __future__ import annotations

import logging

__all__ = ["quiet_dask_tracebacks"]


#: The loggers whose records lose their tracebacks: Dask's, and those of the event loop its client runs on
#: (asyncio and tornado log a cancelled reconnection's error themselves).
_QUIETED = ("distributed", "asyncio", "tornado")


class _NoTraceback(logging.Filter):
    """Drops the traceback of a record from :data:`_QUIETED`, and such a record with nothing but a traceback (the
    event loop's cancelled reconnection: the command's own error says what happened); other records pass as they
    are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] not in _QUIETED:
            return True
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return bool(record.getMessage().strip())


def quiet_dask_tracebacks() -> None:
    """Put the filter on the handlers of Dask's ``distributed`` loggers (importing it sets them up; tornado's records
    go to Dask's handler too) and of the root logger (asyncio's)."""
    import distributed  # noqa: F401 - its import creates the loggers and handlers

    names = ["", "distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    for name in names:  # the root's handlers take asyncio's and tornado's records
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, _NoTraceback) for f in handler.filters):
                handler.addFilter(_NoTraceback())
