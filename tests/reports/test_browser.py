"""Render reports in headless Chromium: plots exist after the scripts ran, no script error, escaped text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import moo_hpo as mh
from tests.reports.conftest import XSS

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
window.alert = m => window.__errors.push('alert: ' + m);
window.addEventListener('load', () => setTimeout(() => {
  document.documentElement.setAttribute('data-errors', JSON.stringify(window.__errors));
  document.documentElement.setAttribute('data-plots', String(document.querySelectorAll('.js-plotly-plot .main-svg').length));
  const first = document.querySelector('.js-plotly-plot');
  document.documentElement.setAttribute('data-first-points', String(first ? first.querySelectorAll('.scatterlayer path.point').length : -1));
}, 500));
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if path is None:
        pytest.fail("Chromium is needed for the browser tests: `make test` installs Debian's chromium; "
                    "or run apt-get install chromium")
    return path


def render(tmp_path, html: str, *extra: str) -> str:
    page = tmp_path / "page.html"
    page.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", *extra, page.as_uri()]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=180)
    return out.stdout


def attributes(dom: str) -> tuple[list[str], int]:
    errors = re.search(r'data-errors="([^"]*)"', dom)
    plots = re.search(r'data-plots="(\d+)"', dom)
    assert errors and plots, "the page's load handler did not run"
    return json.loads(errors.group(1).replace("&quot;", '"')), int(plots.group(1))


@pytest.mark.slow
def test_report_renders_in_chromium(finished_study, tmp_path):
    dom = render(tmp_path, mh.report(finished_study).to_html(), "--dump-dom")
    errors, plots = attributes(dom)
    assert errors == []
    assert plots >= 3  # scatter matrix, parallel coordinates, hypervolume drawn as SVG
    # the scatter matrix's points are SVG (drawn with the GPU off, as here): each complete trial in each of the
    # 3 pairs of objectives, and the recommended ones starred again
    points = int(re.search(r'data-first-points="(-?\d+)"', dom).group(1))
    complete = sum(t.status is mh.TrialStatus.COMPLETE for t in finished_study.trials)
    assert points >= 3 * complete
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text
    assert XSS not in dom  # never a script element


@pytest.mark.slow
def test_two_objective_report_and_audit_render(two_objective_study, tmp_path):
    dom = render(tmp_path, mh.report(two_objective_study).to_html(), "--dump-dom")
    errors, plots = attributes(dom)
    assert errors == [] and plots >= 2
    dom = render(tmp_path, mh.fairness_audit(two_objective_study).to_html(), "--dump-dom")
    errors, plots = attributes(dom)
    assert errors == [] and plots >= 1 and XSS not in dom


def plot_panels(png) -> list[tuple[int, int, int]]:
    """Plot panels in a screenshot: bands of rows where one non-white colour (a plot's background)
    fills at least 30% of the width, 100 rows or taller (gridlines of up to 3 rows do not split a band);
    for each, ``(top, bottom, saturated)`` with the number of strongly coloured pixels inside (markers,
    lines: neither text, gridlines nor backgrounds are)."""
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(png).convert("RGB")).astype(int)
    h, w, _ = a.shape
    filled = []
    for y in range(h):
        row = a[y][(a[y] < 245).any(axis=1)]
        filled.append(len(row) > 0 and np.unique(row, axis=0, return_counts=True)[1].max() >= 0.3 * w)
    saturated = a.max(axis=2) - a.min(axis=2) > 80
    bands, start, gap = [], None, 0
    for y, f in enumerate(filled + [False] * 4):
        if f:
            start, gap = (y if start is None else start), 0
        elif start is not None:
            gap += 1
            if gap > 3:
                bottom = y - gap + 1
                if bottom - start >= 100:
                    bands.append((start, bottom, int(saturated[start:bottom].sum())))
                start, gap = None, 0
    return bands


@pytest.mark.slow
def test_screenshot_shows_the_plots_with_their_data(two_objective_study, tmp_path):
    shot = tmp_path / "report.png"
    render(tmp_path, mh.report(two_objective_study).to_html(), f"--screenshot={shot}", "--window-size=1280,2000")
    panels = plot_panels(shot)
    # the Pareto front scatter and the hypervolume history, in that order, each with its data drawn
    # (24 trials: 15 front markers, 9 infeasible ones; a step line) and not just an empty frame
    assert len(panels) >= 2, panels
    assert all(bottom - top >= 150 and saturated > 500 for top, bottom, saturated in panels[:2]), panels
    blank = tmp_path / "blank.png"
    render(tmp_path, "<html><head></head><body></body></html>", f"--screenshot={blank}", "--window-size=1280,2000")
    assert plot_panels(blank) == []  # the measure finds nothing on an empty page


HOVER_PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const grid = document.querySelector('.js-plotly-plot');
  const markers = grid.data.filter(t => t.mode === 'markers' && t.x.length);
  const shown = markers.filter(t => Array.isArray(t.hovertext) && t.hovertext.length === t.x.length).length;
  document.documentElement.setAttribute('data-hover', JSON.stringify({markers: markers.length, shown: shown}));
}, 500));
</script>"""


@pytest.mark.slow
def test_every_panel_of_the_scatter_matrix_shows_its_hover_texts_stored_once(finished_study, tmp_path):
    page = mh.report(finished_study).to_html()
    front = [t for t in finished_study.trials if t.status is mh.TrialStatus.COMPLETE][0]
    hover_text = f"trial #{front.number}\\u003cbr\\u003e"  # as plotly's JSON in the page escapes it
    assert 1 <= page.count(hover_text) <= 2  # once in the matrix (not in each of its 3 panels), once if starred
    dom = render(tmp_path, page.replace("</body>", HOVER_PROBE + "</body>", 1), "--dump-dom")
    errors, _ = attributes(dom)
    hover = json.loads(re.search(r'data-hover="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert errors == [] and hover["markers"] >= 3 * 2 and hover["shown"] == hover["markers"]  # each panel's points
