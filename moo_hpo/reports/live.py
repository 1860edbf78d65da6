"""``moo-hpo serve study.db``: a live view of a study in the browser while another process runs it.

The server opens the study file read-only (:meth:`moo_hpo.Study.load` with ``read_only=True``), so it
never takes the writer's lock, never writes the file and can follow a study that another process is
running. The page shows what the report shows (:mod:`moo_hpo.reports.data`, figures from
:mod:`moo_hpo.reports.html`): the Pareto front, the hypervolume history with its reference point, the
learning curves of trials that report intermediate metrics (with what early stopping saved), recent
failures with their one-line reasons, and the trial table; it checks the study every ``refresh`` seconds
and redraws only when a trial was added, reported or finished. plotly.js comes from the installed plotly package
and is served by this server: the page works without a network.

Endpoints (all ``GET``, all read-only):

* ``/``: the page (:mod:`moo_hpo.reports.live_page`); ``/plotly.min.js``: plotly.js.
* ``/api/summary``: trial counts by status (``pruned`` among them), the number of finished trials, the
  hypervolume with its reference point and whether that point is frozen, the front's rows, the latest
  failed trials with their one-line reasons, how many trials reported intermediate metrics and how many
  reports there are, what early stopping saved (``compute_saved``, as in the report, or None), and
  ``token``, which changes whenever a trial is added, reports or finishes (or the reference point is
  frozen).
* ``/api/view``: the summary plus the trial table (the latest :data:`TRIAL_ROWS` trials, with each one's
  last reported step) and the plotly figures, as the page draws them: ``front``, ``hypervolume`` and
  ``curves`` (the report's learning curves, one figure per reported objective; empty while no trial
  reported).

The page is made of sections (:data:`moo_hpo.reports.live_page.SECTIONS`); the learning curves' section
stays hidden until a trial reports.

The server is Python's own :class:`http.server.ThreadingHTTPServer`, bound to ``127.0.0.1`` by default.
It has no authentication: anyone who can reach its address can read the study, so bind another host only
on a network you trust. On the loopback address it answers only requests addressed to a loopback name,
so a web page elsewhere cannot read it through a DNS name that points at this machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from moo_hpo.exceptions import ConfigError, MooHpoError
from moo_hpo.values import choice_text, is_integer, is_number
from moo_hpo.reports.report import json_text
from moo_hpo.trial import TrialStatus

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["TRIAL_ROWS", "LiveServer", "serve"]

logger = logging.getLogger("moo_hpo")

#: The trial table shows the latest this many trials.
TRIAL_ROWS = 500
#: The summary lists the latest this many failed trials.
RECENT_FAILURES = 20
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: The shortest time between the page's checks of the study.
MIN_REFRESH = 0.1


def _encode(value: Any) -> bytes:
    return json_text(value, indent=None).encode("utf-8")


def _texts(config: dict[str, Any]) -> dict[str, str]:
    """A configuration's values as the page prints them (choices that print alike told apart: 1, 1.0, '1')."""
    return {k: choice_text(v) for k, v in config.items()}


def _first_line(text: str | None) -> str | None:
    """The first line of an error text (at most 200 characters, an ellipsis where it was longer), or None."""
    from moo_hpo.reports.labels import shortened

    lines = (text or "").strip().splitlines()
    return shortened(lines[0]) if lines else None


def _pruned_reason(trial: Any) -> str | None:
    """Why a pruned trial was stopped (its ``extra["pruned"]``, first line), or None."""
    if trial.status is not TrialStatus.PRUNED or not isinstance(trial.extra, dict) or trial.extra.get("pruned") is None:
        return None
    return _first_line(str(trial.extra["pruned"]))


def _open(path: Path) -> Study:
    from moo_hpo.study import Study

    return Study.load(path, read_only=True)


def _token(study: Study) -> str:
    """Changes whenever a trial is added, reports or finishes, the reference point is frozen, or the run writing the
    study stops with trials running."""
    reports = sum(len(t.reports) for t in study.trials)
    key: list[Any] = [study.name, study.seed, [study.count(s) for s in TrialStatus], len(study.trials), reports,
                      len(study.left_running())]  # a killed run: its trials are no longer running
    if study.reference_point_frozen:
        key.append(list(study.reference_point.values()))
    return hashlib.sha1(json.dumps(key).encode("utf-8")).hexdigest()[:16]


class _Feed:
    """Reads the study file read-only and keeps the latest snapshot, rebuilt only when the token moves."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._token: str | None = None
        self._summary: dict[str, Any] = {}
        self._view: bytes = b""
        with _open(path) as study:  # a missing file or one that is no study: the error, before serving
            self.name = study.name

    def summary(self) -> bytes:
        """The summary as JSON, read now."""
        with self._lock:
            self._read()
            return _encode({**self._summary, "read_at": time.time()})

    def view(self) -> bytes:
        """The summary, trial table and figures as JSON, read now."""
        with self._lock:
            self._read()
            return self._view

    def _read(self) -> None:
        with _open(self.path) as study:
            token = _token(study)
            if token == self._token:
                return
            summary, view = _snapshot(study, token)
        self._summary, self._view, self._token = summary, _encode(view), token


def _snapshot(study: Study, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary and the view of a study (see the module's docstring)."""
    from moo_hpo.reports.data import collect
    from moo_hpo.reports.sections import compute_saved_text

    data = collect(study)
    trials = study.trials
    counts = data["counts"]
    hv = {k: data["hypervolume"].get(k) for k in ("value", "normalized", "reference_point", "frozen", "set_by_user", "note")}
    failed = [t for t in trials if t.status is TrialStatus.FAILED]
    failed.sort(key=lambda t: (t.finished_at or 0.0, t.number), reverse=True)
    summary = {
        "token": token,
        "name": study.name,
        "finished": counts["total"] - counts["running"],
        "counts": counts,
        "objectives": [{k: o[k] for k in ("name", "direction", "estimated") if k in o} for o in data["objectives"]],  # estimated: a label
        "hypervolume": hv,
        "front": [{"number": r["number"], "config": r["config"], "config_text": _texts(r["config"]), "metrics": r["metrics"],
                   **({"estimate": {n: e["mean"] for n, e in r["estimate"].items()}} if "estimate" in r else {})}
                  for r in data["front"]],
        "front_basis": data["front_basis"],  # "model" under noise: the front of the model's estimates, as the report's
        "recent_failures": [
            {"number": t.number, "reason": _first_line(t.error) or "unknown", "finished_at": t.finished_at}
            for t in failed[:RECENT_FAILURES]
        ],
        "failure_reasons": data["failures"],
        "reporting": len(data["learning_curves"]["trials"]),
        "reports": sum(len(t.reports) for t in trials),
        "compute_saved": ({**data["compute_saved"], "text": compute_saved_text(data["compute_saved"])}
                          if data["compute_saved"] else None),
    }
    flags = {r["number"]: r for r in data["trials"]}
    rows = []
    for t in reversed(trials[-TRIAL_ROWS:]):
        rows.append({
            "number": t.number, "status": t.status.value, "config": t.config, "config_text": _texts(t.config), "metrics": t.metrics,
            "feasible": flags[t.number]["feasible"], "on_front": flags[t.number]["on_front"], "duration_s": t.duration,
            "step": t.reports[-1]["step"] if t.reports else None,
            "error": _first_line(t.error) or _pruned_reason(t),
        })
    metrics = [o.name for o in study.objectives] + [c.name for c in study.constraints]
    return summary, {
        "summary": summary,
        "params": list(study.space.names),
        "metrics": list(dict.fromkeys(metrics)),
        "trials": rows,
        "figures": _figures(data),
    }


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    """The report's plotly figures as JSON-able dicts (no front before a trial completed, no learning
    curves before a trial reported)."""
    import plotly.io as pio

    from moo_hpo.reports.html import front_figures, hypervolume_figure, learning_curve_figures

    def as_json(fig: Any) -> Any:  # plotly's own encoder turns its numpy arrays into lists
        return json.loads(pio.to_json(fig, validate=False))

    front = [as_json(f) for f in front_figures(data)] if data["counts"]["complete"] else []
    hv = hypervolume_figure(data)
    curves = [as_json(f) for f in learning_curve_figures(data)]
    return {"front": front, "hypervolume": as_json(hv) if hv is not None else None, "curves": curves}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "moo_hpo-live"

    def do_GET(self) -> None:
        if not self._host_allowed():
            text = f"this live view answers to 127.0.0.1 or localhost only; received Host: {self.headers.get('Host')!r}"
            self._send(HTTPStatus.FORBIDDEN, _encode({"error": text}), "application/json")
            return
        route = self.path.split("?", 1)[0]
        live = self.server.live
        try:
            if route in ("/", "/index.html"):
                self._send(HTTPStatus.OK, live.page, "text/html; charset=utf-8")
            elif route == "/plotly.min.js":
                self._send(HTTPStatus.OK, live.plotly_js, "text/javascript; charset=utf-8", cache=True)
            elif route == "/api/summary":
                self._send(HTTPStatus.OK, live.feed.summary(), "application/json")
            elif route == "/api/view":
                self._send(HTTPStatus.OK, live.feed.view(), "application/json")
            elif route == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "text/plain")
            else:
                self._send(HTTPStatus.NOT_FOUND, _encode({"error": f"no page {route!r}; the page is /"}), "application/json")
        except (MooHpoError, OSError, ValueError) as exc:  # the file went away, a busy disk ...: the page retries
            logger.warning("live view: cannot read %s: %s", live.feed.path, exc)
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, _encode({"error": str(exc).splitlines()[0]}), "application/json")

    def _host_allowed(self) -> bool:
        """On a loopback address, only requests addressed to a loopback name (no DNS rebinding)."""
        if self.server.live.host not in _LOOPBACK:
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in _LOOPBACK

    def _send(self, status: HTTPStatus, body: bytes, kind: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("live view: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    live: LiveServer

    def __init__(self, host: str, port: int) -> None:
        # an IPv6 address (``::1``) needs an IPv6 socket; http.server's own command line does the same
        self.address_family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        super().__init__((host, port), _Handler)


class LiveServer:
    """A live view of a study file, served over HTTP; read-only.

    ``serve_forever()`` blocks (the command line's way); ``start()`` serves from a background thread and
    ``stop()`` ends it (tests, notebooks). As a context manager it starts and stops itself.

    Args:
        path: the study file (SQLite), possibly being written by another process.
        host: the address to listen on; ``127.0.0.1`` keeps the page to this machine.
        port: the port; 0 picks a free one (see :attr:`url`).
        refresh: seconds between the page's checks of the study.

    Raises:
        StorageError: when there is no file at ``path`` or it holds no moo_hpo study (before listening).
        ConfigError: for a refresh that is not a positive number, or an address that cannot be listened on.
    """

    def __init__(self, path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8080, refresh: float = 2.0) -> None:
        if not is_number(refresh) or not (math.isfinite(refresh) and refresh >= MIN_REFRESH):
            # each check reads the study afresh (0.16 s at 3,000 trials): a page polling faster only loads the server
            raise ConfigError(f"refresh must be at least {MIN_REFRESH:g} seconds; received {refresh!r}")
        if not is_integer(port) or not 0 <= port <= 65535:
            raise ConfigError(f"port must be an integer from 0 to 65535 (0: a free one); received {port!r}")
        from plotly.offline import get_plotlyjs

        from moo_hpo.reports.live_page import page_html

        self.path = Path(path)
        self.host = host
        self.refresh = float(refresh)
        self.feed = _Feed(self.path)
        self.page = page_html(self.feed.name, str(self.path), self.refresh).encode("utf-8")
        self.plotly_js = get_plotlyjs().encode("utf-8")
        try:
            self._server = _Server(host, port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another port (0 picks a free one) or host"
            ) from None
        self._server.live = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address, with the port actually bound."""
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` (from another thread) or Ctrl-C (KeyboardInterrupt propagates)."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def start(self) -> Self:
        """Serve from a background thread; returns the server itself."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.serve_forever, name="moo_hpo-live", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        else:
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8080, refresh: float = 2.0) -> None:
    """Serve the live view of a study until Ctrl-C; prints its address, and one line when stopped.

    The page shows the Pareto front, the hypervolume history, the learning curves of trials that report
    intermediate metrics (pruned ones told apart) with what early stopping saved, recent failures and the
    trial table, and follows the study as another process writes it (the file is only ever read).

    Args:
        path: the study file (SQLite).
        host: the address to listen on (default: this machine only).
        port: the port; 0 picks a free one.
        refresh: seconds between the page's checks of the study.

    Raises:
        StorageError: when there is no file at ``path`` or it holds no moo_hpo study.
        ConfigError: for a bad ``refresh`` or ``port``, or an address in use.
    """
    server = LiveServer(path, host=host, port=port, refresh=refresh)
    print(f"moo_hpo live view of {str(server.path)!r} at {server.url} (read-only; Ctrl-C stops it)", flush=True)
    if host not in _LOOPBACK:
        print(f"note: anyone who can reach {host} can read this study; the page has no password", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"stopped the live view of {str(server.path)!r}", flush=True)
