"""A Dask scheduler's address, checked before a client connects to it: a malformed one, and a listener that is no
scheduler (the dashboard's port), each of which would make Dask's client wait with no message."""

from __future__ import annotations

from moo_hpo.exceptions import ConfigError

__all__ = ["GREETING_SECONDS", "check_address", "check_greets"]

#: seconds a listener at a ``tcp://`` scheduler address has to greet: a Dask scheduler sends its handshake at once
GREETING_SECONDS = 10.0


def check_address(address: str) -> None:
    """Refuse a scheduler address that is no Dask address (a known scheme, a host and a port).

    Raises:
        ConfigError: naming what was expected.
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)  # Dask's own, and those that packages register (ucxx ...)
        if scheme != "inproc":
            parse_host_port(location)
    except ValueError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address!r} (expected an address such as "
                          f"'tcp://host:8786'): {exc}") from None


def check_greets(address: str, seconds: float | None = None) -> None:
    """Refuse a ``tcp://`` address where a web server listens (the scheduler's dashboard, 8787, for the scheduler's
    port, 8786): Dask's client waits for such a listener's handshake past its own timeout, with no message. A Dask
    scheduler writes its handshake as soon as a connection opens; a listener silent for ``seconds`` is asked for a web
    page, and refused when it answers as a web server (a scheduler busy with its event loop answers nothing, and is
    left to the client, as is one that cannot be reached).

    Raises:
        ConfigError: when the listener answers as a web server.
    """
    import socket

    seconds = GREETING_SECONDS if seconds is None else seconds

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return
    host, port = parse_host_port(location)
    try:
        sock = socket.create_connection((host, port), timeout=seconds)
    except OSError:
        return  # not reachable: the client says so
    with sock:
        try:
            if sock.recv(1):  # a greeting: a scheduler (or something the client will judge)
                return
            return  # closed at once (a tunnel whose far end is down): the client says what it finds
        except OSError:  # nothing within the time: a busy scheduler, or a web server waiting for a request
            pass
        try:  # a web server answers a request; a scheduler busy with its event loop does not
            sock.settimeout(2.0)
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            web = sock.recv(5) == b"HTTP/"
        except OSError:
            web = False
    if web:
        raise ConfigError(
            f"{address!r} is a web server, not a Dask scheduler (a scheduler greets a client at once): is it the "
            "scheduler's dashboard (port 8787 by default; the scheduler listens on 8786)?"
        )
