"""The self-contained HTML report: plotly figures (plotly.js embedded once), tables, escaped text.

Every user string (parameter names, categorical values, metric names, error text) is escaped with
``html.escape`` before it reaches the page or a figure, so a value like ``<script>alert(1)</script>``
shows as text and cannot close a ``<script>`` block.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from moo_hpo.reports.data import time_text

__all__ = ["render_html", "front_figures", "hypervolume_figure"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#1d2430;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}td,th{border:1px solid #dde3ea;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f6f9}.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#66717f}.ok{color:#17803d}.bad{color:#b42318}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde3ea;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}code{background:#f4f6f9;padding:0 .25rem;border-radius:3px}
"""

COLORS = {"front": "#1f77b4", "feasible": "#9aa5b1", "infeasible": "#d62728"}


def esc(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _config_text(config: dict[str, Any]) -> str:
    return "<br>".join(f"{esc(k)} = {esc(_fmt(v))}" for k, v in config.items())


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] | None = None) -> str:
    numeric = numeric or [False] * len(header)
    head = "".join(f"<th>{esc(h)}</th>" for h in header) if any(header) else ""
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{esc(_fmt(c))}</td>" if n else f"<td>{esc(_fmt(c))}</td>" for c, n in zip(r, numeric, strict=True)) + "</tr>"
        for r in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _groups(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    names = [o["name"] for o in data["objectives"]]
    plottable = [r for r in data["trials"] if r["status"] == "complete" and all(n in r["metrics"] for n in names)]
    return {
        "front": [r for r in plottable if r["on_front"]],
        "feasible": [r for r in plottable if r["feasible"] and not r["on_front"]],
        "infeasible": [r for r in plottable if not r["feasible"]],
    }


_LABELS = {"front": "Pareto front (feasible)", "feasible": "feasible, dominated", "infeasible": "infeasible (breaks a hard constraint)"}


def _axis(o: dict[str, Any]) -> str:
    return esc(f"{o['name']} ({'max' if o['direction'] == 'maximize' else 'min'})")


def front_figures(data: dict[str, Any]) -> list[Any]:
    """Plotly figures of the objective space: a scatter (2 objectives) or a scatter matrix and
    parallel coordinates (3 or more); front, dominated and infeasible trials told apart."""
    import plotly.graph_objects as go

    objs = data["objectives"]
    names = [o["name"] for o in objs]
    groups = _groups(data)
    hover = lambda r: f"trial #{r['number']}<br>" + _config_text(r["config"]) + "<br>" + "<br>".join(  # noqa: E731
        f"{esc(n)} = {_fmt(r['metrics'][n])}" for n in names
    )
    figs = []
    if len(objs) == 1:
        fig = go.Figure()
        for key, rows in groups.items():
            fig.add_trace(go.Scatter(x=[r["number"] for r in rows], y=[r["metrics"][names[0]] for r in rows], mode="markers",
                                     name=_LABELS[key], marker={"color": COLORS[key]}, hovertext=[hover(r) for r in rows], hoverinfo="text"))
        fig.update_layout(title="Objective by trial", xaxis_title="trial", yaxis_title=_axis(objs[0]))
        return [fig]
    if len(objs) == 2:
        fig = go.Figure()
        for key, rows in groups.items():
            fig.add_trace(go.Scatter(
                x=[r["metrics"][names[0]] for r in rows], y=[r["metrics"][names[1]] for r in rows], mode="markers",
                name=_LABELS[key], hovertext=[hover(r) for r in rows], hoverinfo="text",
                marker={"color": COLORS[key], "size": 10 if key == "front" else 7, "symbol": "x" if key == "infeasible" else "circle"},
            ))
        front = sorted(groups["front"], key=lambda r: r["metrics"][names[0]])
        fig.add_trace(go.Scatter(x=[r["metrics"][names[0]] for r in front], y=[r["metrics"][names[1]] for r in front], mode="lines",
                                 line={"color": COLORS["front"], "dash": "dot"}, showlegend=False, hoverinfo="skip"))
        fig.update_layout(title="Objective space", xaxis_title=_axis(objs[0]), yaxis_title=_axis(objs[1]), height=520)
        figs.append(fig)
        return figs
    fig = go.Figure()
    for key, rows in groups.items():
        fig.add_trace(go.Splom(
            dimensions=[{"label": _axis(o), "values": [r["metrics"][o["name"]] for r in rows]} for o in objs],
            name=_LABELS[key], text=[hover(r) for r in rows], hoverinfo="text", diagonal_visible=False,
            marker={"color": COLORS[key], "size": 7, "symbol": "x" if key == "infeasible" else "circle"},
        ))
    fig.update_layout(title="Objective space (scatter matrix)", height=220 * len(objs) + 120)
    figs.append(fig)
    rows = groups["front"] + groups["feasible"]
    if rows:
        par = go.Figure(go.Parcoords(
            line={"color": [1 if r["on_front"] else 0 for r in rows], "colorscale": [[0, COLORS["feasible"]], [1, COLORS["front"]]]},
            dimensions=[{"label": _axis(o), "values": [r["metrics"][o["name"]] for r in rows]} for o in objs],
        ))
        par.update_layout(title="Feasible trials, parallel coordinates (blue: Pareto front)")
        figs.append(par)
    return figs


def hypervolume_figure(data: dict[str, Any]) -> Any | None:
    """Hypervolume over trials, with its reference point in the title."""
    import plotly.graph_objects as go

    hv = data["hypervolume"]
    if not hv.get("history"):
        return None
    ref = ", ".join(f"{esc(k)} = {_fmt(v)}" for k, v in hv["reference_point"].items())
    fig = go.Figure(go.Scatter(x=list(range(len(hv["history"]))), y=hv["history"], mode="lines", line={"shape": "hv"}, name="hypervolume"))
    fig.update_layout(title=f"Hypervolume over trials (reference point: {ref})", xaxis_title="trial", yaxis_title="hypervolume", height=380)
    return fig


def model_check_figure(data: dict[str, Any]) -> Any | None:
    """Measured against predicted (error bars: two predicted standard deviations), one panel per metric."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = data.get("model_check", {}).get("rows", [])
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    if not metrics:
        return None
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[esc(m) for m in metrics])
    for col, name in enumerate(metrics, start=1):
        mine = [r for r in rows if r["metric"] == name]
        fig.add_trace(
            go.Scatter(
                x=[r["mean"] for r in mine], y=[r["measured"] for r in mine], mode="markers", name=esc(name),
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


def model_check_summary_rows(check: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The model check's summary, one formatted row per metric: metric, proposals, share within 2 sd,
    median |z|, mean z (the HTML and Markdown reports' tables)."""
    return [
        (m["metric"], m["proposals"], _pct(m["within_2sd"]), _or_dash(m["median_abs_z"]), _or_dash(m["mean_z"]))
        for m in check.get("summary", [])
    ]


def model_check_text(check: dict[str, Any]) -> str:
    """One sentence on the failure model's record, or an empty string."""
    f = check.get("failures")
    if not f:
        return ""
    return (f"Failure model: {f['scored']} proposals scored; of {f['risky']} given a failure probability of 50% or more, "
            f"{f['risky_failed']} failed; of the other {f['safe']}, {f['safe_failed']} failed.")


def _figure_html(fig: Any, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})


def render_html(data: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    from plotly.offline import get_plotlyjs

    c = data["counts"]
    objs = data["objectives"]
    names = [o["name"] for o in objs]
    parts = [f"<h1>{esc(data['name'])}</h1><p class='muted'>moo_hpo report, generated {esc(data['generated_at'])}</p>"]
    parts.append(
        "<div class='cards'>"
        + "".join(
            f"<div class='card'><b>{esc(v)}</b>{esc(k)}</div>"
            for k, v in [("trials", c["total"]), ("complete", c["complete"]), ("feasible", c["feasible"]), ("on the front", len(data["front"])),
                         ("failed", c["failed"]), ("skipped before training", c["infeasible_skipped"])]
        )
        + "</div>"
    )
    # summary
    parts.append("<h2>Study</h2>")
    rows = [("objectives", "; ".join(f"{o['direction']} {o['name']}" + (f" (ref {o['ref']:g})" if o["ref"] is not None else "") for o in objs)),
            ("constraints", "; ".join(("hard: " if k["hard"] else "soft: ") + k["text"] for k in data["constraints"]) or "none"),
            ("optimizer", f"{data['optimizer']['name']} ({data['optimizer']['reason']})"),
            ("budget", f"{c['total']} trials"), ("seed", data["seed"]),
            ("time", time_text(data["time"])),
            ("versions", ", ".join(f"{k} {v}" for k, v in data["versions"].items()))]
    parts.append(_table(["", ""], rows))
    parts.append("<h3>Search space</h3>" + _table(["parameter", "domain"], [(p["name"], p["domain"]) for p in data["space"]]))
    if data["rules"]:
        parts.append("<p>Validity rules: " + ", ".join(f"<code>{esc(r)}</code>" for r in data["rules"]) + "</p>")
    # figures
    parts.append("<h2>Pareto front</h2>")
    for i, fig in enumerate(front_figures(data)):
        parts.append(_figure_html(fig, f"front-{i}"))
    parts.append("<h2>Hypervolume</h2>")
    hv = data["hypervolume"]
    if hv.get("value") is not None:
        ref = ", ".join(f"{esc(k)} = {esc(_fmt(v))}" for k, v in hv["reference_point"].items())
        state = "frozen" if hv.get("frozen") else "provisional (derived from the feasible trials so far)"
        parts.append(
            f"<p>Hypervolume <b>{hv['normalized']:.3f}</b> normalized (raw {hv['value']:.6g}) with reference point "
            f"{ref} ({esc(state)}).</p><p class='note'>{esc(hv['meaning'])}</p>"
        )
        fig = hypervolume_figure(data)
        if fig is not None:
            parts.append(_figure_html(fig, "hypervolume"))
    else:
        parts.append(f"<p class='bad'>{esc(hv.get('note', 'no hypervolume'))}</p>")
    # constraints
    if data["constraint_summary"]:
        parts.append("<h2>Constraints</h2>")
        parts.append(_table(["constraint", "kind", "measured", "satisfied", "worst violation", "skipped before training"],
                            [(s["text"], "hard" if s["hard"] else "soft", s["measured"], s["satisfied"], s["worst_violation"], s["skipped_before_training"])
                             for s in data["constraint_summary"]], [False, False, True, True, True, True]))
    # recommendations
    parts.append("<h2>Recommended operating points</h2>")
    if data["recommendations"]:
        parts.append(_table(["method", "trial", "configuration", "why"],
                            [(r["method"], f"#{r['number']}", ", ".join(f"{k}={_fmt(v)}" for k, v in r["config"].items()), r["reason"]) for r in data["recommendations"]]))
    else:
        parts.append("<p class='bad'>No feasible trial yet: nothing to recommend.</p>")
    # front table
    parts.append("<h2>Front trials</h2>")
    params = [p["name"] for p in data["space"]]
    front_rows = [[f"#{r['number']}"] + [r["config"].get(p, "-") for p in params] + [r["metrics"].get(n, "") for n in names] for r in data["front"]]
    parts.append(_table(["trial", *params, *names], front_rows, [False] + [False] * len(params) + [True] * len(names)))
    # the optimizer's predictions against the measurements
    check = data.get("model_check") or {}
    if check.get("summary") or check.get("failures"):
        parts.append("<h2>Model check</h2><p>Each proposal of the Bayesian optimizer recorded its model's prediction; "
                     "a calibrated model has about 95% of measurements within 2 standard deviations.</p>")
        if check.get("summary"):
            parts.append(_table(["metric", "proposals", "within 2 sd", "median |z|", "mean z (measured - predicted)"],
                                model_check_summary_rows(check),
                                [False, True, True, True, True]))
            fig = model_check_figure(data)
            if fig is not None:
                parts.append(_figure_html(fig, "model-check"))
        if check.get("failures"):
            parts.append(f"<p>{esc(model_check_text(check))}</p>")
    # failures
    parts.append("<h2>Failures</h2>")
    if data["failures"]:
        parts.append(_table(["reason", "trials"], [(f["reason"], f["count"]) for f in data["failures"]], [False, True]))
    else:
        parts.append("<p class='ok'>No trial failed.</p>")
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(data['name'])} - moo_hpo report</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head>"
        f"<body>{body}</body></html>"
    )
