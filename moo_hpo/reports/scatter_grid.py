"""The figures of 3 or more objectives: the scatter matrix, with each trial's hover text stored once, and the
parallel coordinates.

A matrix of ``k`` objectives has ``k (k - 1) / 2`` panels, and each trial's hover text (its configuration and
metrics) would be stored in every one: most of a large study's report. The first panel's traces hold the texts; the
others name, in their ``meta``, the trace whose texts they show (``{"hovertext_of": index}``), and
:data:`SHARED_HOVER_SCRIPT` (run after the figure is drawn in the report; the live page does the same before drawing)
copies them over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SHARED_HOVER_SCRIPT", "parallel_coordinates", "scatter_grid"]

#: JavaScript run after a figure is drawn (plotly's ``post_script``; ``{plot_id}`` is the figure's element): gives
#: each trace whose ``meta`` names another trace's hover texts those texts.
SHARED_HOVER_SCRIPT = (
    "(function () { var gd = document.getElementById('{plot_id}'); if (!gd || !gd.data) return;"
    " var idx = [], texts = []; gd.data.forEach(function (t, i) {"
    " if (t.meta && t.meta.hovertext_of !== undefined) { idx.push(i); texts.push(gd.data[t.meta.hovertext_of].hovertext); } });"
    " if (idx.length) Plotly.restyle(gd, {hovertext: texts}, idx); })();"
)


def scatter_grid(objs: list[dict[str, Any]], groups: dict[str, list[dict[str, Any]]], recommended: list[dict[str, Any]],
                 hover: Callable[[dict[str, Any]], str]) -> Any:
    """The scatter matrix of 3 or more objectives: each pair once (the lower triangle), drawn as SVG scatters, so that
    it shows in a browser without WebGL too (plotly's own scatter matrix draws its points with WebGL only); the
    groups drawn in ``groups``' order, the legend in the report's."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from moo_hpo.reports.html import _LABELS, _RANK, COLORS, _axis

    k = len(objs)
    fig = make_subplots(rows=k - 1, cols=k - 1, shared_xaxes="columns", shared_yaxes="rows",
                        horizontal_spacing=0.03, vertical_spacing=0.03)
    star = {"color": "#111111", "size": 14, "symbol": "star-open", "line": {"width": 2}}
    kinds = [(rows, _LABELS[key], key, {"color": COLORS[key], "size": 7, "symbol": "x" if key == "infeasible" else "circle"})
             for key, rows in groups.items()] + ([(recommended, "recommended", "recommended", star)] if recommended else [])
    first: dict[str, int] = {}  # group -> the index of its trace in the first panel, which holds the hover texts
    for row in range(1, k):
        for col in range(1, row + 1):
            x_name, y_name = objs[col - 1]["name"], objs[row]["name"]
            for rows, label, group, marker in kinds:  # a legend entry once, for the group in every pair
                texts: dict[str, Any] = ({"hovertext": [hover(r) for r in rows]} if group not in first
                                         else {"meta": {"hovertext_of": first[group]}})
                first.setdefault(group, len(fig.data))
                fig.add_trace(go.Scatter(x=[r["metrics"][x_name] for r in rows], y=[r["metrics"][y_name] for r in rows],
                                         mode="markers", name=label, legendgroup=group, showlegend=row == col == 1,
                                         legendrank=_RANK[group], hoverinfo="text", marker=marker, **texts),
                              row=row, col=col)
            if row == k - 1:  # titles in lines that fit their panel's width (x) and height (y)
                fig.update_xaxes(title_text=_axis(objs[col - 1], max(16, 110 // (k - 1))), row=row, col=col)
            if col == 1:
                fig.update_yaxes(title_text=_axis(objs[row], 30), row=row, col=col)
    fig.update_layout(title="Objective space (scatter matrix: each pair of objectives)", height=220 * (k - 1) + 160)
    return fig


def parallel_coordinates(objs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Any:
    """The feasible trials' parallel coordinates: the front in blue, up better on every axis, each axis's title in
    lines that fit beside its neighbours, below the axes (a title's lines grow down, clear of the top ticks).

    Args:
        objs: the report's objective entries (``{"name", "direction", ...}``).
        rows: the feasible trials' rows (``{"metrics", "on_front", ...}``).

    Returns:
        A plotly figure.
    """
    import plotly.graph_objects as go

    from moo_hpo.reports.html import COLORS

    par = go.Figure(go.Parcoords(
        line={"color": [1 if r["on_front"] else 0 for r in rows], "colorscale": [[0, COLORS["feasible"]], [1, COLORS["front"]]]},
        dimensions=[_better_up(o, [r["metrics"][o["name"]] for r in rows], max(14, 100 // len(objs))) for o in objs],
        labelside="bottom",
    ))
    lines = max(d["label"].count("<br>") + 1 for d in par.data[0].dimensions)
    par.update_layout(title="Feasible trials, parallel coordinates (blue: Pareto front; on every axis, up is better)",
                      margin={"b": 40 + 14 * lines})
    return par


def _better_up(objective: dict[str, Any], values: list[float], width: int = 0) -> dict[str, Any]:
    """A parallel-coordinates axis on which up is better (a minimized objective's axis is reversed), padded so
    that lines at the extremes do not lie on the frame, with short tick labels and its title in lines of ``width``."""
    lo, hi = min(values), max(values)
    pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 0.05
    ends = [lo - pad, hi + pad] if objective["direction"] == "maximize" else [hi + pad, lo - pad]
    ticks = [lo + (hi - lo) * k / 4 for k in range(5)] if hi > lo else [lo]  # on the values, never in the padding
    digits = next((d for d in range(4, 10) if len({f"{t:.{d}g}" for t in ticks}) == len(ticks)), 10)  # told apart
    from moo_hpo.reports.html import _axis

    return {"label": _axis(objective, width), "values": values, "range": ends, "tickvals": ticks,
            "ticktext": [f"{t:.{digits}g}" for t in ticks]}
