"""Dask's log lines on the command line: one line each, no traceback (a lost scheduler printed some 35 lines)."""

import logging
import sys


def _restore(handlers: list[logging.Handler]) -> None:
    for name in ["", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed"))]:
        for h in [*logging.getLogger(name).handlers, *handlers]:  # Dask's handlers as they were, for the other tests
            if getattr(h.emit, "moo_hpo_quiet", False):
                del h.emit  # the class's own again
            h.filters = [f for f in h.filters if type(f).__name__ != "_NoBareTraceback"]


def test_dask_s_records_lose_their_tracebacks_on_the_terminal_and_others_keep_them(capsys, tmp_path):
    # a user's own log file on Dask's logger lost the tracebacks too: the records themselves were changed
    from moo_hpo.execution.dask_logging import quiet_dask_tracebacks

    handler = logging.StreamHandler(sys.stderr)  # as Dask's own handler on its logger (the test's captured stderr)
    handler.setFormatter(logging.Formatter("dask: %(message)s"))
    log_file = logging.FileHandler(tmp_path / "mine.log")  # the user's own
    logger = logging.getLogger("distributed.client")
    mine = logging.getLogger("moo_hpo.test_dask_logging")
    for added in (handler, log_file):
        logger.addHandler(added)
    mine.addHandler(handler)
    try:
        quiet_dask_tracebacks()
        quiet_dask_tracebacks()  # twice: wrapped once
        try:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        except ConnectionRefusedError:
            logger.error("Failed to reconnect to scheduler", exc_info=True)
            logger.error("", exc_info=True)  # a record with nothing but its traceback: dropped on the terminal
            mine.error("moo_hpo's own", exc_info=True)
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(log_file)
        mine.removeHandler(handler)
        log_file.close()
        _restore([handler, log_file])
    terminal = capsys.readouterr().err
    lines = terminal.splitlines()
    assert lines[:2] == ["dask: Failed to reconnect to scheduler", "dask: moo_hpo's own"]  # the handler's own format
    assert "Traceback" in lines[2] and "Errno 111" in terminal.split("moo_hpo's own")[1]  # others keep theirs
    written = (tmp_path / "mine.log").read_text()
    assert written.startswith("Failed to reconnect to scheduler\nTraceback") and written.count("ConnectionRefusedError: [Errno 111]") == 2


def test_a_rich_handler_on_the_root_logger_loses_dask_s_tracebacks_too(tmp_path):
    # it draws tracebacks itself, from the record: wrapping formatters left them in
    import io

    from rich.console import Console
    from rich.logging import RichHandler

    from moo_hpo.execution.dask_logging import quiet_dask_tracebacks

    out, own_log = io.StringIO(), io.StringIO()

    class OnTheTerminal(RichHandler):  # a subclass too; rich writes to a console whose file is standard error
        pass

    handler = OnTheTerminal(console=Console(file=out, width=200), show_time=False, show_path=False)
    handler.console.file = sys.stderr  # what quiet_dask_tracebacks sees: the terminal
    logged = RichHandler(console=Console(file=own_log, width=200), show_time=False, show_path=False)  # a log of one's own
    logging.root.addHandler(handler)
    logging.root.addHandler(logged)
    try:
        quiet_dask_tracebacks()
        handler.console.file = out  # read back from here
        try:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        except ConnectionRefusedError:
            logging.getLogger("tornado.application").error("Failed to reconnect", exc_info=True)
            logging.getLogger("moo_hpo.test_dask_logging").error("moo_hpo's own", exc_info=True)
    finally:
        logging.root.removeHandler(handler)
        logging.root.removeHandler(logged)
        _restore([handler, logged])
    assert own_log.getvalue().count("Errno 111") >= 2  # the user's own log keeps both tracebacks
    text = out.getvalue()
    assert "Failed to reconnect" in text and text.count("Errno 111") >= 1
    dask_part, own_part = text.split("moo_hpo's own")
    assert "Traceback" not in dask_part and "Errno 111" not in dask_part and "Errno 111" in own_part
