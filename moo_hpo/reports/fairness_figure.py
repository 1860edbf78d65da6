"""The fairness audit's static figure (matplotlib, for Markdown and papers): accuracy against the gap, the front and
the recommended models marked, the bound drawn; as the HTML audit's interactive one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import ConfigError

if TYPE_CHECKING:
    from moo_hpo.reports.fairness import FairnessAudit

__all__ = ["fairness_figure", "save_fairness_figure"]


def save_fairness_figure(audit: FairnessAudit, folder: str | os.PathLike[str]) -> Path:
    """Write ``fairness_front.png`` into ``folder``: every complete trial's accuracy against its gap (validation
    figures), the accuracy-vs-gap front, the trials breaking the study's other hard limits, the audited trials'
    held-out figures (open circles joined to their validation points), the recommended models and the bound.

    Returns:
        The written path.

    Raises:
        ConfigError: when ``folder`` is a file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"figures are written to a folder; {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fairness_front.png"
    fairness_figure(audit).savefig(path, dpi=120)
    return path


def left_out(point: dict[str, Any]) -> bool:
    """Whether the audit left a trial out for breaking the study's other hard limits (an audit saved before it said
    so: whether it broke them)."""
    return bool(point.get("left_out", not point.get("within_limits", True)))


def fairness_figure(audit: FairnessAudit) -> Any:
    """The matplotlib figure :func:`save_fairness_figure` writes (a ``matplotlib.figure.Figure``, made without
    pyplot: a notebook's plotting backend is left as it was)."""
    from matplotlib.figure import Figure

    front = set(audit.front)
    split = " (validation)" if audit.holdout else ""
    groups = (
        ("accuracy-vs-gap front" + split, lambda p: p["number"] in front, {"c": "#1f77b4", "s": 36, "marker": "o", "zorder": 3}),  # on top
        ("other trials" + split, lambda p: p["number"] not in front and not left_out(p),
         {"c": "#9aa5b1", "s": 16, "marker": "o"}),
        ("breaking the study's other hard limits (left out)", lambda p: p["number"] not in front and left_out(p),
         {"c": "#b42318", "s": 16, "marker": "x"}),
    )
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for label, member, style in groups:
        points = [p for p in audit.points if member(p)]
        if points:
            ax.scatter([p["gap"] for p in points], [p["accuracy"] for p in points], label=label, **style)
    held = [r for r in audit.rows if r.get("holdout_accuracy") is not None and r.get("holdout_gap") is not None]
    for r in held:  # each audited trial's held-out point, joined to its validation one
        ax.plot([r["gap"], r["holdout_gap"]], [r["accuracy"], r["holdout_accuracy"]], color="#d0a040", linewidth=0.8,
                linestyle=":", zorder=2)
    if held:
        ax.scatter([r["holdout_gap"] for r in held], [r["holdout_accuracy"] for r in held], s=40, facecolors="none",
                   edgecolors="#d0a040", linewidths=1.5, label="audited trials on held-out data", zorder=4)
    if audit.choices:
        ax.scatter([c["gap"] for c in audit.choices], [c["accuracy"] for c in audit.choices], s=170, facecolors="none",
                   edgecolors="#111111", marker="*", linewidths=1.2, label=audit.choices_label.lower(), zorder=5)
        for c in audit.choices:
            ax.annotate(f"#{c['number']}", (c["gap"], c["accuracy"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    if audit.bound is not None:
        ax.axvline(audit.bound, color="#b42318", linestyle="--", linewidth=1, label=f"bound {audit.bound:g}")
    ax.set_xlabel(f"{audit.gap} (lower is fairer)")
    ax.set_ylabel(audit.accuracy)
    ax.set_title(f"{audit.study_name}: {audit.accuracy} vs. {audit.gap}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
