"""The fairness audit: accuracy vs. a fairness gap, per-group figures, and a plain-language summary.

It reads what :class:`~moo_hpo.objectives.FairnessGap` stored with each trial (the per-group
``MetricFrame`` in ``extra["fairness"]``), so the audit needs no model and no data again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.fronts import pareto_mask
from moo_hpo.reports.report import SavesByFormat
from moo_hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["FairnessAudit", "fairness_audit"]

GAP_NAMES = {
    "eo_diff": "equalized-odds gap",
    "eo_ratio": "equalized-odds ratio",
    "dp_diff": "demographic-parity gap",
    "dp_ratio": "demographic-parity ratio",
    "eop_diff": "equal-opportunity gap",
    "tpr_diff": "true-positive-rate gap",
    "fpr_diff": "false-positive-rate gap",
}


class FairnessAudit(SavesByFormat):
    """The audit of a study; build it with :func:`fairness_audit`.

    Attributes:
        summary: the plain-language trade-off, one or two sentences.
        rows: per audited trial: number, config, accuracy, gap, meets_bound, by_group table.
        front: numbers of the trials on the accuracy-vs-gap front (all complete trials).
    """

    def __init__(self, study_name: str, accuracy: str, gap: str, bound: float | None, rows: list[dict[str, Any]],
                 points: list[dict[str, Any]], front: list[int], summary: str) -> None:
        self.study_name, self.accuracy, self.gap, self.bound = study_name, accuracy, gap, bound
        self.rows, self.points, self.front, self.summary = rows, points, front, summary

    def to_json(self) -> str:
        return json.dumps({"study": self.study_name, "accuracy": self.accuracy, "gap": self.gap, "bound": self.bound,
                           "summary": self.summary, "front": self.front, "trials": self.rows}, indent=1, default=str)

    def to_markdown(self) -> str:
        from moo_hpo.reports import markdown as md

        out = [f"# Fairness audit: {md.escape(self.study_name)}", "", md.escape(self.summary), ""]
        bound = f"<= {self.bound:g}" if self.bound is not None else "(no bound)"
        out.append(md.table(["trial", self.accuracy, self.gap, f"meets {bound}", "predicts"],
                             [(f"#{r['number']}", r["accuracy"], r["gap"], "yes" if r["meets_bound"] else "no", _predicts(r)) for r in self.rows]))
        for r in self.rows:
            if r["by_group"]:
                keys = list(r["by_group"][0])
                out += ["", f"### Trial #{r['number']} by group", "", md.table(keys, [[g[k] for k in keys] for g in r["by_group"]])]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs

        from moo_hpo.reports.html import _CSS, _figure_html, _table, esc

        front = set(self.front)
        fig = go.Figure()
        for label, sel, color in (("accuracy-vs-gap front", True, "#1f77b4"), ("other trials", False, "#9aa5b1")):
            pts = [p for p in self.points if (p["number"] in front) == sel]
            fig.add_trace(go.Scatter(x=[p["gap"] for p in pts], y=[p["accuracy"] for p in pts], mode="markers", name=label,
                                     marker={"color": color, "size": 10 if sel else 7},
                                     hovertext=[f"trial #{p['number']}<br>" + "<br>".join(f"{esc(k)} = {esc(v)}" for k, v in p["config"].items()) for p in pts],
                                     hoverinfo="text"))
        if self.bound is not None:
            fig.add_vline(x=self.bound, line_dash="dash", line_color="#b42318", annotation_text=esc(f"bound {self.bound:g}"))
        fig.update_layout(title=esc(f"{self.accuracy} vs. {self.gap}"), xaxis_title=esc(f"{self.gap} (lower is fairer)"), yaxis_title=esc(self.accuracy), height=480)
        parts = [f"<h1>Fairness audit: {esc(self.study_name)}</h1>", f"<p><b>{esc(self.summary)}</b></p>", _figure_html(fig, "fairness-front")]
        bound = f"meets {self.gap} <= {self.bound:g}" if self.bound is not None else "meets bound"
        parts.append("<h2>Audited trials</h2>" + _table(["trial", "configuration", self.accuracy, self.gap, bound, "predicts"],
                                                         [(f"#{r['number']}", ", ".join(f"{k}={v}" for k, v in r["config"].items()), r["accuracy"], r["gap"], "yes" if r["meets_bound"] else "no", _predicts(r)) for r in self.rows],
                                                         [False, False, True, True, False, False]))
        for r in self.rows:
            if r["by_group"]:
                keys = list(r["by_group"][0])
                parts.append(f"<h3>Trial #{r['number']} by group</h3>" + _table(keys, [[g[k] for k in keys] for g in r["by_group"]], [False] + [True] * (len(keys) - 1)))
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Fairness audit - {esc(self.study_name)}</title>"
                f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>")



def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.4g}"


def one_class_only(trial: Trial) -> bool:
    """True when a trial's classifier predicted a single class for everyone (every group's selection rate
    is 0, or every one is 1): a degenerate model whose zero gap says nothing about fairness."""
    groups = trial.extra.get("fairness", {}).get("by_group", []) if isinstance(trial.extra, dict) else []
    rates = [g.get("selection_rate") for g in groups if isinstance(g, dict) and g.get("selection_rate") is not None]
    return bool(rates) and (all(r == 0 for r in rates) or all(r == 1 for r in rates))


def _predicts(row: dict[str, Any]) -> str:
    return "ONE CLASS ONLY" if row.get("degenerate") else "both classes" if row.get("by_group") else "-"


def fairness_audit(
    study: Study,
    accuracy: str = "accuracy",
    gap: str = "eo_diff",
    bound: float | None = None,
    trials: Sequence[Trial | int] | None = None,
) -> FairnessAudit:
    """Audit the accuracy / fairness trade-off of a study.

    Args:
        study: a study whose trials carry ``accuracy`` and ``gap`` metrics (and, from
            :class:`~moo_hpo.objectives.FairnessGap`, per-group tables).
        accuracy: the accuracy metric (higher is better).
        gap: the fairness gap metric (lower is better).
        bound: the largest acceptable gap; default: the study's ``AtMost`` constraint on ``gap``, if any.
        trials: the trials to audit in detail (default: the accuracy-vs-gap front).

    Returns:
        A :class:`FairnessAudit`.

    Raises:
        ConfigError: when no complete trial has both metrics.
    """
    if bound is None:
        bound = next((c.bound for c in study.constraints if c.name == gap and c.kind == "at_most"), None)
    complete = [t for t in study.trials if t.status is TrialStatus.COMPLETE and accuracy in t.metrics and gap in t.metrics]
    if not complete:
        raise ConfigError(f"no complete trial has both {accuracy!r} and {gap!r}; expected a study that measures them")
    Y = np.array([[-t.metrics[accuracy], t.metrics[gap]] for t in complete])
    on_front = [t for t, k in zip(complete, pareto_mask(Y), strict=True) if k]
    if trials is None:
        audited = sorted(on_front, key=lambda t: -t.metrics[accuracy])
    else:
        by_number = {t.number: t for t in study.trials}
        audited = [by_number[t if isinstance(t, int) else t.number] for t in trials]
    rows = [{
        "number": t.number,
        "config": t.config,
        "accuracy": t.metrics.get(accuracy),
        "gap": t.metrics.get(gap),
        "meets_bound": bound is None or t.metrics.get(gap, np.inf) <= bound,
        "by_group": t.extra.get("fairness", {}).get("by_group", []),
        "degenerate": one_class_only(t),
    } for t in audited]
    usable = [t for t in complete if not one_class_only(t)] or complete
    best = max(usable, key=lambda t: t.metrics[accuracy])
    label = GAP_NAMES.get(gap, gap)
    summary = f"The most accurate model (trial #{best.number}) reaches {accuracy} {_fmt(best.metrics[accuracy])} with an {label} of {_fmt(best.metrics[gap])}"
    if bound is not None:
        within = [t for t in usable if t.metrics[gap] <= bound]
        if best.metrics[gap] <= bound:
            summary += f", within the bound of {bound:g}."
        elif within:
            fair = max(within, key=lambda t: t.metrics[accuracy])
            cost = best.metrics[accuracy] - fair.metrics[accuracy]
            summary += (f"; the most accurate one within {bound:g} (trial #{fair.number}) reaches {_fmt(fair.metrics[accuracy])} "
                        f"with a gap of {_fmt(fair.metrics[gap])}: meeting the bound costs {_fmt(cost)} {accuracy}.")
        else:
            summary += f"; no trial meets the bound of {bound:g} (the smallest gap seen is {_fmt(min(t.metrics[gap] for t in complete))})."
    else:
        summary += "."
    degenerate = [t.number for t in complete if one_class_only(t)]
    if degenerate:
        summary += (
            f" Trials {', '.join(f'#{n}' for n in degenerate)} predict one class only (their accuracy is the base rate and "
            "their gap is 0 by construction): flagged, and left out of the choices above."
        )
    points = [{"number": t.number, "accuracy": t.metrics[accuracy], "gap": t.metrics[gap], "config": t.config} for t in complete]
    return FairnessAudit(study.name, accuracy, gap, bound, rows, points, [t.number for t in on_front], summary)
