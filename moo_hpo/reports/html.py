"""The self-contained HTML report: plotly figures (plotly.js embedded once), tables, escaped text.

Every user string (parameter names, categorical values, metric names, error text) is escaped with
``html.escape`` before it reaches the page or a figure, so a value like ``<script>alert(1)</script>``
shows as text and cannot close a ``<script>`` block.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from moo_hpo.reports.data import (
    FRONT_BY_MODEL,
    RECOMMENDATIONS_GUIDE,
    front_table,
    time_text,
    trials_text,
)
from moo_hpo.reports.estimates import estimate_rows, labelled, shown_name
from moo_hpo.reports.labels import wrap_entries, wrap_label
from moo_hpo.reports.sections import (  # re-exported: the rows and texts both reports show
    COMPUTE_SAVED_HEADER,
    DEVICE_SIZING_HEADER,
    REPEATED_RUNS_TITLE,
    WORKERS_HEADER,
    _fmt,
    compute_saved_rows,
    compute_saved_text,
    constraint_table,
    count_cards,
    device_sizing_rows,
    model_check_summary_rows,
    model_check_text,
    optimizer_text,
    repeated_runs_header,
    repeated_runs_rows,
    repeated_runs_text,
    stopped_at_text,
    workers_rows,
)
from moo_hpo.values import choice_text

__all__ = [
    "REPEATED_RUNS_TITLE",
    "compute_saved_rows",
    "compute_saved_text",
    "front_figures",
    "hypervolume_figure",
    "learning_curve_figures",
    "render_html",
    "repeated_runs_header",
    "repeated_runs_rows",
    "repeated_runs_text",
]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#1d2430;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}td,th{border:1px solid #dde3ea;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f6f9}.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#66717f}.ok{color:#17803d}.bad{color:#b42318}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde3ea;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}code{background:#f4f6f9;padding:0 .25rem;border-radius:3px}
.wide{overflow-x:auto;max-width:100%}
@media print{body{max-width:none;margin:0}.js-plotly-plot,.plotly-graph-div,table,.cards{break-inside:avoid}h2,h3{break-after:avoid}}
"""

COLORS = {"front": "#1f77b4", "feasible": "#9aa5b1", "infeasible": "#d62728"}


def esc(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


def plot_text(value: Any) -> str:
    """Text for a plotly title, label or hover: its markup characters escaped (``<`` would open a tag), quotes kept
    (plotly shows ``&quot;`` as it is written)."""
    return html.escape(str(value), quote=False)


def _config_text(config: dict[str, Any]) -> str:
    return "<br>".join(f"{plot_text(k)} = {plot_text(choice_text(v))}" for k, v in config.items())


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] | None = None) -> str:
    numeric = numeric or [False] * len(header)
    head = "".join(f"<th>{esc(h)}</th>" for h in header) if any(header) else ""
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{esc(_fmt(c))}</td>" if n else f"<td>{esc(_fmt(c))}</td>" for c, n in zip(r, numeric, strict=True)) + "</tr>"
        for r in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<div class='wide'><table>{thead}<tbody>{body}</tbody></table></div>"  # a wide table scrolls, not the page


def _groups(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    names = [o["name"] for o in data["objectives"]]
    plottable = [r for r in data["trials"] if r["status"] == "complete" and all(n in r["metrics"] for n in names)]
    return {  # in drawing order: the front last, on top of the dominated trials (listed first by _RANK)
        "infeasible": [r for r in plottable if not r["feasible"]],
        "feasible": [r for r in plottable if r["feasible"] and not r["on_front"]],
        "front": [r for r in plottable if r["on_front"]],
    }


_LABELS = {"front": "Pareto front (feasible)", "feasible": "feasible, dominated", "infeasible": "infeasible (breaks a hard constraint)"}
_RANK = {"front": 1, "feasible": 2, "infeasible": 3, "recommended": 4}  # the legend's order


def _axis(o: dict[str, Any], width: int = 0) -> str:
    """An objective's axis title (an estimate with its label), in lines of at most ``width`` characters if given."""
    text = wrap_label(f"{shown_name(o)} ({'max' if o['direction'] == 'maximize' else 'min'})", width or 10**6)
    return "<br>".join(plot_text(line) for line in text.split("\n"))


def front_figures(data: dict[str, Any]) -> list[Any]:
    """Plotly figures of the objective space: a scatter (2 objectives) or a scatter matrix and
    parallel coordinates (3 or more); front, dominated and infeasible trials told apart."""
    import plotly.graph_objects as go

    objs = data["objectives"]
    names = [o["name"] for o in objs]
    groups = _groups(data)
    hover = lambda r: f"trial #{r['number']}" + (f" (the mean of {r['mean_of']} runs)" if r.get("mean_of") else "") + "<br>" + _config_text(r["config"]) + "<br>" + "<br>".join(  # noqa: E731
        f"{plot_text(n)} = {_fmt(r['metrics'][n])}" for n in names
    )
    figs = []
    if len(objs) == 1:
        fig = go.Figure()
        for key, rows in groups.items():
            fig.add_trace(go.Scatter(x=[r["number"] for r in rows], y=[r["metrics"][names[0]] for r in rows], mode="markers",
                                     name=_LABELS[key], marker={"color": COLORS[key]}, hovertext=[hover(r) for r in rows], hoverinfo="text",
                                     legendrank=_RANK[key]))
        recommended = _recommended_rows(data)
        if recommended:  # starred, as the recommendations' text says
            fig.add_trace(_stars([r["number"] for r in recommended], [r["metrics"][names[0]] for r in recommended],
                                 recommended, hover))
        fig.update_layout(title="Objective by trial", xaxis_title="trial", yaxis_title=_axis(objs[0], 60))
        return [fig]
    if len(objs) == 2:
        fig = go.Figure()
        for key, rows in groups.items():
            fig.add_trace(go.Scatter(
                x=[r["metrics"][names[0]] for r in rows], y=[r["metrics"][names[1]] for r in rows], mode="markers",
                name=_LABELS[key], hovertext=[hover(r) for r in rows], hoverinfo="text", legendrank=_RANK[key],
                marker={"color": COLORS[key], "size": 10 if key == "front" else 7, "symbol": "x" if key == "infeasible" else "circle"},
            ))
        # the front's line: through the model's estimates when the front is the model's (the markers: as measured)
        points = sorted(([r["estimate"][n]["mean"] for n in names[:2]] if "estimate" in r else [r["metrics"][n] for n in names[:2]]) for r in groups["front"])
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines", line={"color": COLORS["front"], "dash": "dot"},
                                 name="the model's estimates", showlegend=data.get("front_basis") == "model", hoverinfo="skip"))
        recommended = _recommended_rows(data)
        if recommended:
            fig.add_trace(_stars([r["metrics"][names[0]] for r in recommended], [r["metrics"][names[1]] for r in recommended],
                                 recommended, hover))
        fig.update_layout(title="Objective space", xaxis_title=_axis(objs[0], 90), yaxis_title=_axis(objs[1], 60), height=520)
        figs.append(fig)
        return figs
    from moo_hpo.reports.scatter_grid import parallel_coordinates, scatter_grid

    figs.append(scatter_grid(objs, groups, _recommended_rows(data), hover))
    rows = groups["front"] + groups["feasible"]
    if rows:
        figs.append(parallel_coordinates(objs, rows))
    return figs


def _stars(x: list[Any], y: list[Any], rows: list[dict[str, Any]], hover: Any) -> Any:
    """The recommended trials' trace: open stars labelled with their numbers."""
    import plotly.graph_objects as go

    return go.Scatter(x=x, y=y, mode="markers+text", text=[f"#{r['number']}" for r in rows], textposition="top right",
                      name="recommended", hovertext=[hover(r) for r in rows], hoverinfo="text",
                      marker={"color": "#111111", "size": 16, "symbol": "star-open", "line": {"width": 2}})


def _recommended_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The trials the report recommends, as trial rows (for marking them in the figures). A configuration run more
    than once is recommended on the mean of its runs: its row carries that mean (and ``mean_of``, how many runs), so
    its star sits where the recommendation's figures are, not at one run's."""
    chosen = {r["number"]: r for r in data.get("recommendations") or []}
    rows = []
    for row in data["trials"]:
        rec = chosen.get(row["number"])
        if rec is None:
            continue
        if (rec.get("runs") or 1) > 1 and rec.get("metrics"):
            row = {**row, "metrics": {**row["metrics"], **rec["metrics"]}, "mean_of": rec["runs"]}
        rows.append(row)
    return rows


def _dash(value: Any) -> Any:
    """A table cell: a dash for a value nobody measured."""
    return "—" if value is None else value


def hypervolume_figure(data: dict[str, Any]) -> Any | None:
    """Hypervolume over trials, with its reference point in the title."""
    import plotly.graph_objects as go

    hv = data["hypervolume"]
    history = hv.get("history_normalized") or hv.get("history")
    if not history:
        return None
    entries = [f"{plot_text(k)} = {_fmt(v)}" for k, v in hv["reference_point"].items()]
    ref = wrap_entries(entries, 110, "<br>")  # lines of at most 110 characters: no title cut off
    fig = go.Figure(go.Scatter(x=list(range(len(history))), y=history, mode="lines+markers" if len(history) < 30 else "lines",
                               line={"shape": "hv"}, name="hypervolume"))
    lines = 1 + ref.count("<br>") + 1
    fig.update_layout(title=f"Hypervolume over trials<br><sup>reference point: {ref}</sup>", xaxis_title="trial",
                      yaxis_title="hypervolume (normalized, as above)", yaxis_tickformat=".3~f", height=360 + 20 * lines,
                      margin={"t": 40 + 22 * lines})
    if len(history) == 1:
        fig.update_xaxes(range=[-0.5, 0.5], tickvals=[0])
    return fig


#: How the learning curves draw each kind of trial: (legend label, line colour, width, dash, opacity),
#: in drawing order (the front last, on top).
CURVE_STYLES: dict[str, tuple[str, str, float, str, float]] = {
    "pruned": ("pruned", "#9aa5b1", 1.0, "dash", 0.7),
    "stopped": ("failed or interrupted", "#d62728", 1.0, "dot", 0.7),
    "running": ("running", "#ff7f0e", 1.5, "solid", 0.9),
    "complete": ("complete", "#6baed6", 1.0, "solid", 0.8),
    "front": ("complete, on the Pareto front", COLORS["front"], 2.5, "solid", 1.0),
}


def _curve_group(row: dict[str, Any]) -> str:
    status = row["status"]
    if status == "complete":
        return "front" if row["on_front"] else "complete"
    return status if status in ("pruned", "running") else "stopped"


def learning_curve_figures(data: dict[str, Any]) -> list[Any]:
    """Plotly figures of the intermediate reports: per reported objective, the metric against the step,
    one line per trial (pruned trials grey and dashed, with a cross where they stopped; complete trials in
    colour, the front's thicker); hovering shows the trial's number, status and configuration (and why a pruned
    one stopped). Dotted vertical lines mark the pruner's rungs, a dashed horizontal one a hard bound on the metric.

    Each kind of trial is one trace (its trials' lines separated by gaps), so a study of a few hundred
    trials stays light to draw and its legend short. An empty list when no trial reported.
    """
    import plotly.graph_objects as go

    curves = data.get("learning_curves") or {}
    figs = []
    rows = curves.get("trials", [])
    for metric in curves.get("metrics", []):
        name = metric["name"]
        fig = go.Figure()
        for group, (label, color, width, dash, opacity) in CURVE_STYLES.items():
            mine = [r for r in rows if _curve_group(r) == group and any(v is not None for v in r["values"][name])]
            if not mine:
                continue
            xs: list[Any] = []
            ys: list[Any] = []
            texts: list[str] = []
            for r in mine:
                head = f"trial #{r['number']} ({plot_text(r['status'])})<br>" + _config_text(r["config"])
                for step, value in zip(r["steps"], r["values"][name], strict=True):
                    xs.append(step)
                    ys.append(value)
                    texts.append(f"{head}<br>step {_fmt(step)}: {plot_text(name)} = {_fmt(value)}")
                xs.append(None)
                ys.append(None)
                texts.append("")
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label, hovertext=texts, hoverinfo="text", opacity=opacity,
                                     line={"color": color, "width": width, "dash": dash}, connectgaps=False))
            if group == "pruned":
                ends = [(r, max(i for i, v in enumerate(r["values"][name]) if v is not None)) for r in mine]
                fig.add_trace(go.Scatter(
                    x=[r["steps"][i] for r, i in ends], y=[r["values"][name][i] for r, i in ends], mode="markers",
                    name="where a pruned trial stopped", marker={"color": color, "symbol": "x", "size": 6}, opacity=opacity,
                    hovertext=[f"trial #{r['number']} {plot_text(r.get('pruned') or 'pruned after step ' + _fmt(r['steps'][i]))}<br>"
                               + _config_text(r["config"]) for r, i in ends],
                    hoverinfo="text",
                ))
        for step in curves.get("rungs", []):  # where the pruner judges (Hyperband: its brackets' rungs)
            fig.add_vline(x=step, line={"color": "#999", "width": 1, "dash": "dot"},
                          annotation_text="rung", annotation_position="top", annotation_font_size=10)
        for bound in metric.get("bounds", []):  # a report beyond it stops the trial at once
            fig.add_hline(y=bound["value"], line={"color": "#c0392b", "width": 1, "dash": "dash"},
                          annotation_text=plot_text(bound["text"]), annotation_position="bottom right", annotation_font_size=10)
        fig.update_layout(title=f"Learning curves: {_axis(metric)} by step", xaxis_title="step", yaxis_title=_axis(metric),
                          height=420, hovermode="closest")
        figs.append(fig)
    return figs


def model_check_figure(data: dict[str, Any]) -> Any | None:
    """Measured against predicted (error bars: two predicted standard deviations), one panel per metric."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = data.get("model_check", {}).get("rows", [])
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    if not metrics:
        return None
    width = max(12, 110 // len(metrics))  # a panel's title in lines that fit it (an estimate's label is long)
    titles = [wrap_label(labelled(m, data.get("estimated_metrics")), width) for m in metrics]
    fig = make_subplots(rows=1, cols=len(metrics),
                        subplot_titles=["<br>".join(plot_text(line) for line in t.split("\n")) for t in titles])
    for col, name in enumerate(metrics, start=1):
        mine = [r for r in rows if r["metric"] == name]
        fig.add_trace(
            go.Scatter(
                x=[r["mean"] for r in mine], y=[r["measured"] for r in mine], mode="markers", name=plot_text(name),
                error_x={"type": "data", "array": [2 * r["std"] for r in mine], "thickness": 1},
                text=[f"trial #{r['number']}" for r in mine], showlegend=False,
            ),
            row=1, col=col,
        )
        lo = min(min(r["mean"] - 2 * r["std"] for r in mine), min(r["measured"] for r in mine))
        hi = max(max(r["mean"] + 2 * r["std"] for r in mine), max(r["measured"] for r in mine))
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": "grey"}, showlegend=False, hoverinfo="skip"),
                      row=1, col=col)
        fig.update_xaxes(title_text="predicted", row=1, col=col)
        fig.update_yaxes(title_text="measured", row=1, col=col)
    fig.update_layout(title="The optimizer's predictions against the measurements (bars: 2 standard deviations)", height=380)
    return fig


def _repeated_runs_html(data: dict[str, Any]) -> list[str]:
    """The Repeated runs section, or nothing when no trial is a repetition."""
    section = data.get("repeated_runs")
    if not section:
        return []
    header = repeated_runs_header(section)
    numeric = [False, False, True] + [True] * len(section["objectives"]) + [True, False]
    return [f"<h2 id='repeated-runs'>{esc(REPEATED_RUNS_TITLE)}</h2>",
            f"<p>{esc(repeated_runs_text(section))}</p>",
            _table(header, repeated_runs_rows(section), numeric),
            f"<p class='muted'>How it is estimated: {esc(section['method'])}</p>"]


def _figure_html(fig: Any, div_id: str) -> str:
    import plotly.io as pio

    from moo_hpo.reports.scatter_grid import SHARED_HOVER_SCRIPT

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False},
                       post_script=SHARED_HOVER_SCRIPT)


def _early_stopping_html(data: dict[str, Any]) -> list[str]:
    """The Learning curves and Compute saved sections, or nothing when no trial reported."""
    curves = data.get("learning_curves") or {}
    if not curves.get("trials"):
        return []
    intro = (f"<p>The intermediate metrics that {len(curves['trials'])} trials reported, by step: pruned trials grey and dashed "
             "(a cross where each stopped), complete ones in colour, the Pareto front's thicker. Hover a line for the trial "
             "and its configuration; click a legend entry to hide that kind of trial.</p>")
    parts = ["<h2 id='learning-curves'>Learning curves</h2>", intro]
    figs = learning_curve_figures(data)
    if not figs:
        parts.append("<p class='muted'>The reports carry none of the objectives.</p>")
    for i, fig in enumerate(figs):
        parts.append(_figure_html(fig, f"curves-{i}"))
    saved = data.get("compute_saved")
    parts.append("<h2 id='compute-saved'>Compute saved</h2>")
    if not saved:
        parts.append("<p class='muted'>No complete or pruned trial reported yet.</p>")
        return parts
    parts.append(f"<p>{esc(compute_saved_text(saved))}</p>")
    parts.append(_table(COMPUTE_SAVED_HEADER, compute_saved_rows(saved), [False] + [True] * 7))
    if saved["stopped_at"]:
        parts.append(f"<p>{esc(stopped_at_text(saved))}</p>")
    parts.append(f"<p class='muted'>How it is estimated: {esc(saved['rule'])}</p>")
    return parts


def render_html(data: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    from plotly.offline import get_plotlyjs

    c = data["counts"]
    objs = data["objectives"]
    parts = [f"<h1>{esc(data['name'])}</h1><p class='muted'>moo_hpo report, generated {esc(data['generated_at'])}</p>"]
    parts.append(
        "<div class='cards'>"
        + "".join(
            f"<div class='card'><b>{esc(v)}</b>{esc(k)}</div>"
            for k, v in count_cards(data)
        )
        + "</div>"
    )
    # summary
    parts.append("<h2>Study</h2>")
    hv = data["hypervolume"]
    hv_ref = {k: v for k, v in (hv.get("reference_point") or {}).items() if k in hv.get("set_names", [])}  # set by hand
    rows = [("objectives", "; ".join(f"{o['direction']} {shown_name(o)}" + (f" (reference {hv_ref[o['name']]:g}, set" + (f"; ref {o['ref']:g} for the recommendations)" if o["ref"] is not None else ")") if o["name"] in hv_ref else f" (ref {o['ref']:g})" if o["ref"] is not None else "") for o in objs)),
            ("constraints", "; ".join(("hard: " if k["hard"] else "soft: ") + k["text"] for k in data["constraints"]) or "none"),
            ("optimizer", optimizer_text(data["optimizer"])),
            *([("pruner", data["pruner"])] if data.get("pruner") else []),
            ("trials stored", c["total"]), ("seed", data["seed"]),
            ("time", time_text(data["time"])), *estimate_rows(data),
            ("versions", ", ".join(f"{k} {v}" for k, v in data["versions"].items()))]
    parts.append(_table(["", ""], rows))
    parts.append("<h3>Search space</h3>" + _table(["parameter", "domain"], [(p["name"], p["domain"]) for p in data["space"]]))
    if data["rules"]:
        parts.append("<p>Validity rules: " + ", ".join(f"<code>{esc(r)}</code>" for r in data["rules"]) + "</p>")
    # figures
    parts.append("<h2>Pareto front</h2>")
    if data.get("front_basis") == "model":
        parts.append(f"<p class='note'>{esc(FRONT_BY_MODEL)}</p>")
    if not data["trials"]:
        parts.append("<p class='muted'>No trial yet: the objective space fills as trials finish.</p>")
    elif not any(_groups(data).values()):  # every trial pruned, failed, skipped or unfinished: nothing to place
        parts.append("<p class='muted'>No complete trial to show: the objective space holds complete trials only "
                     "(the counts above say what became of the others).</p>")
    else:
        if len(objs) >= 3:
            parts.append(f"<p class='note'>A front trial is non-dominated in all {len(objs)} objectives together; in a panel "
                         "of two it can look dominated by a trial that is worse in another objective. Stars mark the "
                         "recommended trials.</p>")
        for i, fig in enumerate(front_figures(data)):
            parts.append(_figure_html(fig, f"front-{i}"))
    parts.append("<h2>Hypervolume</h2>")
    hv = data["hypervolume"]
    if hv.get("value") is not None:
        ref = ", ".join(f"{esc(k)} = {esc(_fmt(v))}" for k, v in hv["reference_point"].items())
        state = "frozen: it no longer changes" if hv.get("frozen") else "provisional, derived from the feasible trials so far"
        parts.append(
            f"<p>Hypervolume <b>{hv['normalized']:.3f}</b> normalized (raw {hv['value']:.6g}) with reference point "
            f"{ref} ({esc(state)}).</p><p class='note'>{esc(hv['meaning'])}</p>"
        )
        fig = hypervolume_figure(data)
        if fig is not None:
            parts.append(_figure_html(fig, "hypervolume"))
    else:
        parts.append(f"<p class='bad'>{esc(hv.get('note', 'no hypervolume'))}</p>")
    parts += _early_stopping_html(data)
    # constraints
    if data["constraint_summary"]:
        parts.append("<h2>Constraints</h2>")
        header, rows = constraint_table(data["constraint_summary"])
        parts.append(_table([header[0], "kind", *header[1:]],
                            [(r[0], "hard" if s["hard"] else "soft", *(_dash(v) for v in r[1:]))
                             for r, s in zip(rows, data["constraint_summary"], strict=True)],
                            [False, False, *[True] * (len(header) - 1)]))
    # recommendations
    parts.append("<h2>Recommended operating points</h2>")
    if data["recommendations"]:
        parts.append(f"<p class='note'>{esc(data.get('recommendations_guide', RECOMMENDATIONS_GUIDE))}</p>")
        parts.append(_table(["method", "trial", "configuration", "why"],
                            [(r["method"], f"#{r['number']}", ", ".join(f"{k}={choice_text(v)}" for k, v in r["config"].items()), r["reason"]) for r in data["recommendations"]]))
    else:
        parts.append(f"<p class='bad'>{esc(data.get('no_recommendation') or 'No feasible trial yet: nothing to recommend.')}</p>")
    if data.get("device_sizing"):
        parts.append("<h2>Device sizing</h2>" + _table(list(DEVICE_SIZING_HEADER), device_sizing_rows(data["device_sizing"])))
    # front table
    parts.append("<h2>Front trials</h2>")
    parts.append(_table(*front_table(data)))
    parts += _repeated_runs_html(data)
    if data.get("workers"):
        parts.append("<h2>Workers</h2><p class='note'>Where the trials ran on the Dask cluster; a worker with many failures "
                     "may lack a package or memory.</p>" + _table(list(WORKERS_HEADER), workers_rows(data["workers"]),
                                                                   [False, False, True, True, True, True, True]))
    # the optimizer's predictions against the measurements
    check = data.get("model_check") or {}
    if check.get("summary") or check.get("failures"):
        parts.append("<h2>Model check</h2><p>Each proposal of the Bayesian optimizer recorded its model's prediction; "
                     "a calibrated model has about 95% of measurements within 2 standard deviations.</p>")
        if check.get("summary"):
            parts.append(_table(["metric", "proposals measured", "within 2 sd", "median |z|", "mean z (measured - predicted)"],
                                model_check_summary_rows(check, data.get("estimated_metrics")),
                                [False, True, True, True, True]))
            fig = model_check_figure(data)
            if fig is not None:
                parts.append(_figure_html(fig, "model-check"))
        if check.get("failures"):
            parts.append(f"<p>{esc(model_check_text(check))}</p>")
    # failures
    parts.append("<h2>Failures</h2>")
    if data["failures"]:
        parts.append(_table(["reason (numbers aside)", "trials", "which"], [(f["reason"], f["count"], trials_text(f["trials"])) for f in data["failures"]], [False, True, False]))
    else:
        parts.append("<p class='ok'>No trial failed.</p>")
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(data['name'])} - moo_hpo report</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head>"
        f"<body>{body}</body></html>"
    )
