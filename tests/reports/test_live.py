"""``moo-hpo serve``: the live view follows a study that another process writes, and never writes it.

The writer is a real second process (a small script running a cheap two-objective study into an SQLite
file, with a short pause per trial); the page runs in headless Chromium. Gate files let the test hold the
writer at chosen moments, so every check waits for a state instead of for a guessed time.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import moo_hpo as mh
from moo_hpo.cli import app
from moo_hpo.reports.live import LiveServer
from tests.reports.conftest import XSS, early_stopping_study
from tests.reports.test_browser import chromium

ROOT = Path(__file__).resolve().parents[2]

# argv: study file, folder for gate files, pause per trial (s), then the trials of each stage; before stage i
# the writer waits for the file go<i> in the gate folder and, after it, prints "stage <i> done"
WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import moo_hpo as mh

    path, gates, pause, stages = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), [int(a) for a in sys.argv[4:]]
    space = mh.Space({"x": mh.Float(0.0, 1.0), "act": mh.Categorical(["relu", XSS])})

    def evaluate(config, trial):
        time.sleep(pause)
        if trial.number % 5 == 4:
            raise RuntimeError("diverged at <b>epoch 3</b>")
        x = config["x"] + (0.05 if config["act"] == "relu" else 0.0)
        return {"f1": x, "f2": (1.0 - x) ** 2}

    objectives = [mh.Minimize("f1"), mh.Minimize("f2")]
    with mh.Study(space, objectives, optimizer="random", storage=path, seed=0, name="live <test>") as study:
        print("ready", flush=True)
        start = time.perf_counter()
        for i, n in enumerate(stages):
            while not (gates / f"go{i}").exists():
                time.sleep(0.01)
            study.optimize(evaluate, n_trials=n, show_progress=False)
            print(f"stage {i} done", flush=True)
        counts = {s.value: study.count(s) for s in mh.TrialStatus}
        print(json.dumps({"counts": counts, "errors": sorted({t.error.splitlines()[0] for t in study.trials if t.error})}))
    """
).replace("XSS", repr(XSS))


class Writer:
    """The writing process and its gates."""

    def __init__(self, tmp_path: Path, stages: list[int], pause: float) -> None:
        self.path = tmp_path / "study.db"
        self.gates = tmp_path / "gates"
        self.gates.mkdir()
        script = tmp_path / "writer.py"
        script.write_text(WRITER)
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.path), str(self.gates), str(pause), *map(str, stages)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        self.expect("ready")

    def expect(self, line: str) -> None:
        got = self.proc.stdout.readline().strip()  # the test's timeout bounds a writer that hangs
        assert got == line, f"the writer printed {got!r}, expected {line!r}; stderr:\n{self.proc.stderr.read()}"

    def go(self, stage: int) -> None:
        (self.gates / f"go{stage}").touch()

    def finish(self) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def writer_factory(tmp_path: Path) -> Iterator[Callable[[list[int], float], Writer]]:
    made: list[Writer] = []

    def make(stages: list[int], pause: float) -> Writer:
        made.append(Writer(tmp_path, stages, pause))
        return made[-1]

    yield make
    for w in made:
        w.kill()


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        return json.loads(response.read())


def wait_for(predicate: Callable[[], Any], what: str, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"waited {seconds} s for {what}")


def chromium_cmd(tmp_path: Path, name: str, *flags: str) -> list[str]:
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / name}", *flags]


def dump_dom(tmp_path: Path, url: str, name: str) -> str:
    """The page's DOM once it has read the study (a fresh load)."""
    cmd = chromium_cmd(tmp_path, name, "--virtual-time-budget=3000", "--dump-dom", url)
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120).stdout


def shown_count(dom: str, key: str) -> int:
    match = re.search(rf'id="n-{key}">(\d+)<', dom)
    assert match, f"the page shows no {key} count"
    return int(match.group(1))


class LiveTab:
    """The page open in one headless Chromium; its tab title read over the DevTools HTTP endpoint."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.url = url
        profile = tmp_path / "live-profile"
        self.proc = subprocess.Popen(chromium_cmd(tmp_path, "live-profile", "--remote-debugging-port=0", url),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.exists() and port_file.read_text().strip(), "Chromium's DevTools port")
        self.devtools = f"http://127.0.0.1:{port_file.read_text().split()[0]}/json/list"

    def title(self) -> str | None:
        try:
            with urllib.request.urlopen(self.devtools, timeout=5) as response:
                targets = json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            return None
        return next((t["title"] for t in targets if t.get("type") == "page" and t.get("url") == self.url), None)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def title_counts(title: str | None) -> tuple[int, int] | None:
    """(trials, on the front) from the tab's title; (0, 0) for an empty study; None before the first render."""
    if title is None:
        return None
    if title.startswith("no trials yet - "):
        return 0, 0
    match = re.match(r"(\d+) trials, (\d+) on the front - ", title)
    return (int(match.group(1)), int(match.group(2))) if match else None


@pytest.mark.slow
def test_the_page_follows_a_study_that_another_process_writes(writer_factory, tmp_path):
    writer = writer_factory([12], 0.2)
    with LiveServer(writer.path, port=0, refresh=0.1) as server:
        # before any trial: the page says so
        dom = dump_dom(tmp_path, server.url, "empty-profile")
        assert shown_count(dom, "total") == 0
        assert re.search(r'<p id="empty" class="muted">No trials yet', dom), "the page does not say that no trial ran yet"
        assert "main-svg" not in dom
        # one page, open while the trials land: its counts grow and the front appears, without a reload
        tab = LiveTab(tmp_path, server.url)
        try:
            assert wait_for(lambda: title_counts(tab.title()), "the page's first render") == (0, 0)
            writer.go(0)
            seen, final = [(0, 0)], None
            deadline = time.monotonic() + 30
            while seen[-1] != final and time.monotonic() < deadline:
                counts = title_counts(tab.title())
                if counts and counts != seen[-1]:
                    seen.append(counts)
                if final is None and writer.proc.poll() is not None:  # done: the page has 5 s to catch up
                    last = get_json(server.url + "api/summary")
                    final = (last["counts"]["total"], len(last["front"]))
                    deadline = time.monotonic() + 5
                time.sleep(0.05)
        finally:
            tab.close()
        result = writer.finish()
        assert seen[-1] == final, (seen, final)
        shown = [n for n, _ in seen]
        assert shown == sorted(shown) and shown[-1] == 12, seen  # the trial count only grows
        assert len(set(shown)) >= 4, f"the page showed too few intermediate states: {seen}"
        assert seen[-1][1] > 0  # the front appeared
        # the finished study as the page shows it
        dom = dump_dom(tmp_path, server.url, "done-profile")
    counts = result["counts"]
    assert counts["complete"] + counts["failed"] == 12 and counts["failed"] == 2
    assert shown_count(dom, "total") == 12 and shown_count(dom, "failed") == 2
    assert shown_count(dom, "front") == seen[-1][1]
    assert '<p id="empty" class="muted" hidden="">' in dom
    assert '<p id="problem" class="banner" hidden="">' in dom  # every read succeeded
    front = re.search(r'<section id="front">.*?</section>', dom, re.DOTALL).group(0)
    assert front.count("main-svg") >= 2 and front.count("<tr>") == shown_count(dom, "front") + 1  # plot and table
    hv = re.search(r'<section id="hypervolume">.*?</section>', dom, re.DOTALL).group(0)
    assert "main-svg" in hv and "reference point f1 = " in hv and "(frozen)" in hv
    failures = re.search(r'<section id="failures">.*?</section>', dom, re.DOTALL).group(0)
    assert "#9" in failures and "#4" in failures and "RuntimeError: diverged at &lt;b&gt;epoch 3&lt;/b&gt;" in failures
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and XSS not in dom  # user text shown as text
    assert '<section id="curves" hidden="">' in dom  # hidden until trials report intermediate metrics
    assert 'id="n-pruned"' not in dom  # no pruned count either


def test_the_summary_grows_while_the_writer_runs_and_never_blocks_it(writer_factory):
    writer = writer_factory([10], 0.15)
    with LiveServer(writer.path, port=0, refresh=1) as server:
        first = get_json(server.url + "api/summary")
        assert first["counts"]["total"] == 0 and first["finished"] == 0 and first["front"] == []
        assert first["hypervolume"]["value"] is None
        writer.go(0)
        finished, tokens = [0], {first["token"]}
        while writer.proc.poll() is None:  # read as fast as we can while it writes
            summary = get_json(server.url + "api/summary")
            assert summary["finished"] >= finished[-1]
            if summary["finished"] != finished[-1]:
                finished.append(summary["finished"])
                tokens.add(summary["token"])
            view = get_json(server.url + "api/view")
            assert len(view["trials"]) == view["summary"]["counts"]["total"]
        result = writer.finish()
        last = get_json(server.url + "api/summary")
    # the writer was never held up: every trial ran and none failed but those it fails on purpose
    assert result["counts"]["complete"] == 8 and result["counts"]["failed"] == 2
    assert result["errors"] == ["RuntimeError: diverged at <b>epoch 3</b>"]
    assert len(finished) >= 4, f"too few intermediate counts seen: {finished}"
    assert len(tokens) == len(finished)  # the token moved with every change
    assert last["finished"] == 10 and last["counts"]["complete"] == 8 and last["counts"]["failed"] == 2
    assert [f["number"] for f in last["recent_failures"]] == [9, 4]  # newest first, one line each
    assert {f["reason"] for f in last["recent_failures"]} == {"RuntimeError: diverged at <b>epoch 3</b>"}
    with mh.Study.load(writer.path, read_only=True) as study:
        assert sorted(r["number"] for r in last["front"]) == [t.number for t in study.pareto_front()]
        assert last["hypervolume"]["value"] == pytest.approx(study.hypervolume())
        assert last["hypervolume"]["reference_point"] == pytest.approx(study.reference_point)


def test_serving_a_finished_study_never_writes_its_file(tmp_path):
    path = tmp_path / "done.db"
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    with mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer="random", storage=path, seed=1) as study:
        study.optimize(lambda c: {"f1": c["x"], "f2": 1 - c["x"] ** 0.5}, n_trials=15, show_progress=False)
        study.ask()  # left running, as by a writer that was killed: opening it for writing would mark it interrupted
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with LiveServer(path, port=0) as server:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            page = response.read().decode()
        # plotly.js comes from this server (the installed plotly package): the page needs no network
        assert re.findall(r"<script src='([^']*)'", page) == ["plotly.min.js"] and "https://" not in page
        for route in ("", "plotly.min.js", "api/summary", "api/view", "api/summary"):
            with urllib.request.urlopen(server.url + route, timeout=10) as response:
                assert response.status == 200 and response.read()
        summary = get_json(server.url + "api/summary")
        assert summary["finished"] == 15 and summary["counts"]["running"] == 1 and summary["hypervolume"]["frozen"] is True
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server.url + "api/nothing", timeout=10)
        assert err.value.code == 404
        elsewhere = urllib.request.Request(server.url + "api/summary", headers={"Host": "attacker.example:80"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(elsewhere, timeout=10)
        assert err.value.code == 403  # a page of another site cannot read it through a DNS name
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert hashlib.sha256(before[0]).hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_serve_refuses_what_is_not_a_study(tmp_path):
    runner = CliRunner()
    assert "no study file at" in one_line_error(runner.invoke(app, ["serve", str(tmp_path / "nope.db")]))
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 100)
    assert "not a readable moo_hpo study file" in one_line_error(runner.invoke(app, ["serve", str(text)]))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    before = other.read_bytes()
    line = one_line_error(runner.invoke(app, ["serve", str(other)]))
    assert "not a moo_hpo study" in line and "customers" in line
    assert other.read_bytes() == before
    path = tmp_path / "s.db"
    mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f1")], storage=path, seed=0).close()
    assert "refresh must be at least 0.1 seconds; received 0.0" in one_line_error(runner.invoke(app, ["serve", str(path), "--refresh", "0"]))
    assert "refresh must be at least 0.1 seconds" in one_line_error(runner.invoke(app, ["serve", str(path), "--refresh", "0.0001"]))
    assert "port must be an integer from 0 to 65535" in one_line_error(runner.invoke(app, ["serve", str(path), "--port", "70000"]))


def test_serve_prints_its_address_and_stops_on_ctrl_c(tmp_path):
    path = tmp_path / "s.db"
    mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f1"), mh.Minimize("f2")], storage=path, seed=0).close()
    proc = subprocess.Popen([sys.executable, "-c", "from moo_hpo.cli import main; main()", "serve", str(path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + proc.stderr.read()
        summary = get_json(url.group(0) + "api/summary")
        assert summary["counts"]["total"] == 0 and summary["name"] == "study"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err  # stopped by Ctrl-C, as every command
    assert out.strip().splitlines() == [f"stopped the live view of {str(path)!r}"] and err == ""


def test_a_taken_port_is_one_clear_error(tmp_path):
    path = tmp_path / "s.db"
    mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f1")], storage=path, seed=0).close()
    with LiveServer(path, port=0) as first:
        port = int(first.url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(mh.ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            LiveServer(path, port=port)


def test_the_live_view_carries_the_learning_curves_and_moves_with_each_report(tmp_path):
    path = tmp_path / "live.db"
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    writer = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("gap")], optimizer="random", storage=path, seed=0)
    try:
        first = writer.ask()
        with LiveServer(path, port=0) as server:
            before = get_json(server.url + "api/summary")
            assert before["reporting"] == 0 and before["compute_saved"] is None
            assert get_json(server.url + "api/view")["figures"]["curves"] == []
            writer.report(first, 1, {"acc": 0.5, "gap": 0.2})  # a report, no trial added or finished
            after = get_json(server.url + "api/summary")
            assert after["token"] != before["token"] and after["reporting"] == 1 and after["reports"] == 1
            view = get_json(server.url + "api/view")
            assert len(view["figures"]["curves"]) == 2 and view["trials"][0]["step"] == 1
            running = [t for t in view["figures"]["curves"][0]["data"] if t["name"] == "running"]
            assert running and running[0]["x"][:1] == [1]
            writer.tell(first, {"acc": 0.4, "gap": 0.2}, status="pruned", extra={"pruned": "pruned at rung 0 (step 1)"})
            done = get_json(server.url + "api/view")
            assert done["summary"]["counts"]["pruned"] == 1 and done["trials"][0]["error"] == "pruned at rung 0 (step 1)"
            assert done["summary"]["compute_saved"]["steps"]["trained"] == 1
    finally:
        writer.close()


@pytest.mark.slow
def test_the_live_page_shows_the_learning_curves_and_the_pruned_count(tmp_path):
    stored = early_stopping_study(tmp_path / "study.db")  # see tests/reports/test_learning_curves.py
    with LiveServer(stored, port=0) as server:
        summary = get_json(server.url + "api/summary")
        assert summary["counts"]["pruned"] == 2 and summary["compute_saved"]["steps"]["saved"] == 14
        dom = dump_dom(tmp_path, server.url, "curves-profile")
    assert shown_count(dom, "pruned") == 2 and shown_count(dom, "total") == 7
    section = re.search(r'<section id="curves">.*?</section>', dom, re.DOTALL)
    assert section, "the learning curves' section is hidden or missing"
    assert section.group(0).count("main-svg") >= 2 * 2 and "6 trials reported 19 intermediate results" in section.group(0)
    assert "4 trials trained 22 steps of the 36" in section.group(0)


def test_the_live_view_tells_apart_choices_that_print_alike(tmp_path):
    """1, 1.0 and '1' are three choices: the page prints the server's text of each, as the reports do."""
    path = tmp_path / "choices.db"
    with mh.Study({"c": mh.Categorical([1, 1.0, "1"])}, [mh.Maximize("a"), mh.Minimize("b")], optimizer="random",
                  storage=path, seed=0) as study:
        for k, choice in enumerate([1, 1.0, "1"]):
            study.enqueue({"c": choice})
            study.tell(study.ask(), {"a": float(k), "b": float(k)})
    with LiveServer(path, port=0) as server:
        view = get_json(server.url + "api/view")
        summary = view["summary"]
        dom = dump_dom(tmp_path, server.url, "choices-profile")
    assert [r["config_text"]["c"] for r in summary["front"]] == ["1", "1.0", "'1'"]
    assert [r["config"]["c"] for r in summary["front"]] == [1, 1.0, "1"]  # the values themselves, for scripts
    assert sorted(r["config_text"]["c"] for r in view["trials"]) == ["'1'", "1", "1.0"]
    front = re.search(r'<section id="front">.*?</section>', dom, re.DOTALL)
    assert front, "the front's section is missing"
    cells = re.findall(r"<tr><td[^>]*>#(\d+)</td><td[^>]*>([^<]*)</td>", front.group(0))
    assert [html.unescape(text) for _, text in cells] == ["1", "1.0", "'1'"]  # before: 1, 1, 1


def test_the_live_view_says_when_its_front_is_the_models_and_names_skipped_trials_as_the_report_does(tmp_path):
    # under noise the page listed the model's front as if measured (one member dominated by another as shown); a
    # skipped trial's card read "infeasible skipped"
    import numpy as np

    def fn(config, trial):
        rng = np.random.default_rng(trial.seed)
        x, y = config["x"], config["y"]
        return {"accuracy": 0.6 + 0.3 * x - 0.05 * y + rng.normal(0, 0.02), "latency_ms": 2 + 10 * x ** 2 + 3 * y + abs(rng.normal(0, 0.3))}

    path = tmp_path / "noisy.db"
    with mh.Study(mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("latency_ms")],
                  [mh.AtMost("latency_ms", 11.0)], storage=path, seed=1, optimizer="random") as study:
        study.optimize(fn, n_trials=20, show_progress=False)
        study.reevaluate(fn, repeats=2, show_progress=False)
        study.tell(study.ask(), {"latency_ms": 20.0}, status="infeasible_skipped")
        assert study.front_basis() == "model"
    with LiveServer(path, port=0) as server:
        summary = get_json(server.url + "api/summary")
        dom = dump_dom(tmp_path, server.url, "noisy-profile")
    assert summary["front_basis"] == "model" and all("estimate" in r for r in summary["front"])
    front = re.search(r'<section id="front">.*?</section>', dom, re.DOTALL)
    assert front and "Under noise this is the model&#39;s front" in front.group(0).replace("'", "&#39;")
    assert "(model " in front.group(0)
    assert "skipped before training" in dom and "infeasible skipped" not in dom
