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
    """Refuse a ``tcp://`` address where something listens that is no Dask scheduler (its dashboard's port, another
    server): Dask's client waits for such a listener's handshake past its own timeout, with no message. A Dask
    scheduler writes its handshake as soon as a connection opens; one that is not reachable at all is left to the
    client, whose error says so.

    Raises:
        ConfigError: when the listener sends nothing within ``seconds`` (None: :data:`GREETING_SECONDS`).
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
            greeted = bool(sock.recv(1))
        except OSError:  # nothing within the time, or the connection dropped
            greeted = False
    if not greeted:
        raise ConfigError(
            f"nothing at {address!r} answered as a Dask scheduler within {seconds:g} s (a scheduler greets a client at "
            "once): is it another server, such as the scheduler's dashboard (port 8787 by default; the scheduler "
            "listens on 8786)?"
        )
