"""Dask's log lines on the command line: one line each, no traceback (a lost scheduler printed some 35 lines)."""

import io
import logging


def test_dask_s_records_lose_their_tracebacks_and_others_keep_them():
    from moo_hpo.execution.dask_logging import quiet_dask_tracebacks

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # as Dask's own handler on its logger
    logger = logging.getLogger("distributed.client")
    logger.addHandler(handler)
    mine = logging.getLogger("moo_hpo.test_dask_logging")
    mine.addHandler(handler)
    try:
        quiet_dask_tracebacks()
        try:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        except ConnectionRefusedError:
            logger.error("Failed to reconnect to scheduler", exc_info=True)
            logger.error("", exc_info=True)  # a record with nothing but its traceback: dropped
            mine.error("moo_hpo's own", exc_info=True)
    finally:
        logger.removeHandler(handler)
        mine.removeHandler(handler)
        for name in ["", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed"))]:
            for h in logging.getLogger(name).handlers:  # Dask's handlers as they were, for the other tests
                h.filters = [f for f in h.filters if type(f).__name__ != "_NoTraceback"]
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["Failed to reconnect to scheduler", "moo_hpo's own"]
    assert "Traceback" in lines[2] and "Errno 111" in stream.getvalue().split("moo_hpo's own")[1]  # others keep theirs
