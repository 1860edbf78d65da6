"""The page of ``moo-hpo serve``: an HTML skeleton and the script that polls the server and fills it in.

The page is a row of counts and one section per entry of :data:`SECTIONS`; the script keeps one renderer
for the counts and one per section (``RENDER`` below), each drawing its part from the server's ``/api/view``
answer. The browser tab's title carries the trial count and the front's size, so a tab in the background
shows the study's progress too. The script polls
``/api/summary`` and asks for the view only when the summary's change token moved, so an idle study costs a
small request per refresh and the page never flickers.

Every user string (study name, parameter values, metric names, error text) reaches the page through
``textContent`` or, in figures, already escaped by :mod:`moo_hpo.reports.html`; none is ever parsed as HTML.

The learning curves' section (intermediate metrics per trial, from the report's figure builder, with what
early stopping saved) is hidden until a trial reports: its id is in :data:`HIDDEN_UNTIL_DATA`, and its
renderer shows it once the view carries curves. The counts show the pruned trials as soon as the study has
any, or any trial reported.
"""

from __future__ import annotations

from moo_hpo.reports.data import HV_MEANING
from moo_hpo.reports.html import _CSS, esc

__all__ = ["HIDDEN_UNTIL_DATA", "SECTIONS", "page_html"]

#: The page's sections in order: (element id, heading). The script has one renderer per id.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("front", "Pareto front"),
    ("hypervolume", "Hypervolume"),
    ("curves", "Learning curves"),
    ("failures", "Failures"),
    ("trials", "Trials"),
)
#: Sections that start hidden; their renderers show them once the study has something for them.
HIDDEN_UNTIL_DATA: frozenset[str] = frozenset({"curves"})

_LIVE_CSS = """
#status{margin:.2rem 0 1rem}.banner{background:#fdecea;border:1px solid #f3b8b2;padding:.4rem .8rem;border-radius:4px}
.scroll{max-height:32rem;overflow:auto}
"""

_SCRIPT = """
(() => {
  const REFRESH_MS = __REFRESH_MS__;
  const PLOT_CONFIG = {displaylogo: false, responsive: true};
  const $ = id => document.getElementById(id);
  let shown = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(v) {
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
    if (v === null || v === undefined) return '-';
    return String(v);
  }
  function clock(seconds) { return seconds ? new Date(seconds * 1000).toLocaleTimeString() : '-'; }
  function table(header, rows, numeric) {
    const t = el('table'), head = el('tr'), body = el('tbody'), thead = el('thead');
    header.forEach(h => head.appendChild(el('th', h)));
    thead.appendChild(head);
    rows.forEach(r => {
      const tr = el('tr');
      r.forEach((c, i) => tr.appendChild(el('td', fmt(c), numeric && numeric[i] ? 'num' : '')));
      body.appendChild(tr);
    });
    t.append(thead, body);
    return t;
  }
  function plots(box, figures) {
    if (box.children.length !== figures.length) box.replaceChildren(...figures.map(() => el('div')));
    // a scatter matrix's panels after the first name the trace whose hover texts they show (stored once)
    const shared = data => data.map(t => (t.meta && t.meta.hovertext_of !== undefined)
      ? Object.assign({}, t, {hovertext: data[t.meta.hovertext_of].hovertext}) : t);
    figures.forEach((f, i) => Plotly.react(box.children[i], shared(f.data), f.layout, PLOT_CONFIG));
  }
  function direction(o) { return o.name + (o.estimated ? ' (' + o.estimated + ')' : '') + (o.direction === 'maximize' ? ' (max)' : ' (min)'); }

  const RENDER = {
    counts(v) {
      const c = v.summary.counts;
      const cards = [['total', c.total, 'trials'], ['running', c.running, 'running'], ['complete', c.complete, 'complete'],
                     ['feasible', c.feasible, 'feasible'], ['front', v.summary.front.length, 'on the front'],
                     ['failed', c.failed, 'failed']];
      if (c.pruned > 0 || v.summary.reporting > 0) cards.splice(5, 0, ['pruned', c.pruned, 'pruned']);
      if (c.left_running > 0) cards[1][2] = "running when the study's run stopped (no process runs them now)";
      const LABELS = {infeasible_skipped: 'skipped before training', interrupted: 'interrupted'};
      Object.keys(c).filter(k => !['total', 'running', 'complete', 'feasible', 'failed', 'pruned', 'left_running'].includes(k) && c[k] > 0)
        .forEach(k => cards.push([k, c[k], LABELS[k] || k.replace(/_/g, ' ')]));
      $('counts').replaceChildren(...cards.map(([key, n, label]) => {
        const card = el('div', null, 'card'), b = el('b', n);
        b.id = 'n-' + key;
        card.append(b, label);
        return card;
      }));
    },
    front(v) {
      const s = v.summary, box = $('front-body'), params = v.params, names = s.objectives.map(o => o.name);
      const figs = el('div');
      if (!s.front.length) { box.replaceChildren(el('p', 'No feasible trial yet.', 'muted')); return; }
      if (!box.querySelector('.figures')) { figs.className = 'figures'; box.replaceChildren(figs, el('div')); }
      plots(box.querySelector('.figures'), v.figures.front);
      // under noise the front is the model's (as in the report): each value measured, then the model's estimate
      const cell = (r, n) => r.estimate && n in r.estimate ? fmt(r.metrics[n]) + ' (model ' + fmt(r.estimate[n]) + ')' : r.metrics[n];
      const rows = s.front.map(r => ['#' + r.number, ...params.map(p => (r.config_text || {})[p] ?? r.config[p]), ...names.map(n => cell(r, n))]);
      const note = s.front_basis === 'model' ? el('p', "Under noise this is the model's front (as in the report): the " +
        "trials whose estimated values no other trial beats; each cell gives the value measured, then the model's estimate.", 'muted') : '';
      box.children[1].replaceChildren(...[note, table(['trial', ...params, ...s.objectives.map(direction)], rows,
                                            [false, ...params.map(() => false), ...names.map(() => true)])].filter(x => x));
    },
    hypervolume(v) {
      const hv = v.summary.hypervolume, box = $('hypervolume-body');
      if (hv.value === null || hv.value === undefined) {
        box.replaceChildren(el('p', hv.note || 'No hypervolume yet.', 'muted'));
        return;
      }
      if (!box.querySelector('.figures')) {
        const figs = el('div'); figs.className = 'figures';
        box.replaceChildren(el('p'), figs);
      }
      const ref = Object.entries(hv.reference_point).map(([k, x]) => k + ' = ' + fmt(x)).join(', ');
      const state = hv.set_by_user ? 'set with study.set_reference_point' : hv.frozen ? 'frozen' : 'provisional, derived from the feasible trials so far';
      const p = box.children[0];
      p.replaceChildren('Hypervolume ', el('b', typeof hv.normalized === 'number' ? hv.normalized.toFixed(3) : '-'),
                        ` normalized (raw ${fmt(hv.value)}) with reference point ${ref} (${state}).`);
      p.id = 'hv-text';
      plots(box.querySelector('.figures'), v.figures.hypervolume ? [v.figures.hypervolume] : []);
    },
    curves(v) {
      const s = v.summary, box = $('curves-body'), figures = v.figures.curves || [];
      $('curves').hidden = !s.reporting;
      if (!s.reporting) return;
      if (!box.querySelector('.figures')) {
        const figs = el('div'); figs.className = 'figures';
        const saved = el('p'); saved.id = 'compute-saved';
        box.replaceChildren(el('p'), figs, saved);
      }
      box.children[0].textContent = `${s.reporting} trials reported ${s.reports} intermediate results. Pruned trials are grey ` +
        'and dashed (a cross where each stopped), running ones orange, complete ones blue, those on the Pareto front thicker.';
      plots(box.querySelector('.figures'), figures);
      $('compute-saved').textContent = s.compute_saved ? 'Compute saved: ' + s.compute_saved.text : 'Compute saved: no trial has finished yet.';
    },
    failures(v) {
      const s = v.summary, box = $('failures-body');
      if (!s.recent_failures.length) { box.replaceChildren(el('p', 'No trial failed.', 'ok')); return; }
      const shown = s.recent_failures.length < s.counts.failed ? ` (the latest ${s.recent_failures.length} of ${s.counts.failed})` : '';
      box.replaceChildren(
        el('p', 'Failed trials, newest first' + shown + '.'),
        table(['trial', 'finished', 'reason'], s.recent_failures.map(f => ['#' + f.number, clock(f.finished_at), f.reason])),
        el('p', 'By reason:', 'muted'),
        table(['reason (numbers aside)', 'trials'], s.failure_reasons.map(f => [f.reason, f.count]), [false, true]));
    },
    trials(v) {
      const box = $('trials-body'), params = v.params, metrics = v.metrics;
      if (!v.trials.length) { box.replaceChildren(el('p', 'No trials yet.', 'muted')); return; }
      const total = v.summary.counts.total;
      const note = v.trials.length < total ? `The latest ${v.trials.length} of ${total} trials, newest first.` : 'Newest first.';
      const rows = v.trials.map(t => ['#' + t.number, t.status, t.feasible ? 'yes' : 'no', t.on_front ? 'yes' : '',
        ...params.map(p => (t.config_text || {})[p] ?? t.config[p]), ...metrics.map(m => t.metrics[m]), t.step,
        t.duration_s === null ? '-' : t.duration_s.toFixed(2), t.error || '']);
      const scroll = el('div', null, 'scroll');
      scroll.appendChild(table(['trial', 'status', 'feasible', 'front', ...params, ...metrics, 'last step', 'seconds',
                                'error or why pruned'], rows,
        [false, false, false, false, ...params.map(() => false), ...metrics.map(() => true), true, true, false]));
      box.replaceChildren(el('p', note, 'muted'), scroll);
    },
  };

  function render(v) {
    const s = v.summary;
    $('empty').hidden = s.counts.total > 0;
    document.title = (s.counts.total ? `${s.counts.total} trials, ${s.front.length} on the front` : 'no trials yet') +
      ` - ${s.name} - moo_hpo live view`;
    for (const name of Object.keys(RENDER)) {
      try { RENDER[name](v); } catch (e) { console.error(name, e); }
    }
  }
  function status(s, text) {
    $('status').textContent = text || `${s.finished} finished of ${s.counts.total} trials; read ${clock(s.read_at)}, ` +
      `checked every ${REFRESH_MS / 1000} s`;
  }
  function problem(text) {
    const b = $('problem');
    b.hidden = !text;
    b.textContent = text || '';
  }
  async function getJson(url) {
    const response = await fetch(url, {cache: 'no-store'});
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }
  async function poll() {
    try {
      const s = await getJson('api/summary');
      if (s.token !== shown) {
        const v = await getJson('api/view');
        render(v);
        shown = v.summary.token;
      }
      problem(null);
      status(s);
    } catch (e) {
      problem('Cannot read the study right now (' + e.message + '); trying again every ' + REFRESH_MS / 1000 + ' s.');
    }
    setTimeout(poll, REFRESH_MS);
  }
  poll();
})();
"""


def page_html(name: str, location: str, refresh: float) -> str:
    """The live page of a study: the sections' skeleton and the polling script.

    Args:
        name: the study's name.
        location: the study file, as the page should name it.
        refresh: seconds between two checks of the study.

    Returns:
        The HTML page; it loads plotly.js from the server's ``plotly.min.js``.
    """
    sections = "".join(
        f"<section id='{sid}'{' hidden' if sid in HIDDEN_UNTIL_DATA else ''}><h2>{esc(title)}</h2><div id='{sid}-body'><p class='muted'>Waiting for the study.</p></div>"
        + ("<p class='note muted'>" + esc(HV_MEANING) + "</p>" if sid == "hypervolume" else "")
        + "</section>"
        for sid, title in SECTIONS
    )
    script = _SCRIPT.replace("__REFRESH_MS__", str(round(refresh * 1000)))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(name)} - moo_hpo live view</title><style>{_CSS}{_LIVE_CSS}</style>"
        "<script src='plotly.min.js'></script></head><body>"
        f"<h1>{esc(name)}</h1><p class='muted'>moo_hpo live view of <code>{esc(location)}</code>, read-only</p>"
        "<p id='status' class='muted'>Connecting to the study.</p>"
        "<p id='problem' class='banner' hidden></p>"
        "<p id='empty' class='muted' hidden>No trials yet: this page fills in as trials land.</p>"
        f"<div id='counts' class='cards'></div>{sections}"
        f"<script>{script}</script></body></html>"
    )
