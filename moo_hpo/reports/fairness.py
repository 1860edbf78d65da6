"""The fairness audit: accuracy vs. a fairness gap, per-group figures, and a plain-language summary.

It reads what :class:`~moo_hpo.objectives.FairnessGap` stored with each trial (the per-group
``MetricFrame`` in ``extra["fairness"]``), so the audit needs no model and no data again.

Validation and held-out figures. The study selects models on the metrics its probes measure on validation
data, so the selected models' figures are optimistic. When the trials also carry the same metrics measured on
a held-out split (``holdout_accuracy``, ``holdout_eo_diff`` ...: the probes' ``holdout=`` argument, see
:mod:`moo_hpo.objectives.holdout`), the audit reports both side by side, for every audited model and for the
models it recommends, and flags a model that meets the bound on validation but breaks it on held-out data.
Its choices are still made on validation figures, as the study's are. Without held-out metrics it says that it
evaluates on the optimisation data and how to add a held-out split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.fronts import pareto_mask
from moo_hpo.objectives.fairness import gap_parts
from moo_hpo.objectives.holdout import holdout_name
from moo_hpo.reports.fairness_cells import (
    GROUP_COLUMNS,
    config_text,
    dash,
    gap_cell,
    group_tables,
    holdout_meets,
    near,
    no_audited_trials_error,
    no_usable_model_note,
    one_class_notes,
    one_class_only,
    predicts,
    short,
    small_groups_note,
    trial_cell,
    yes_no,
)
from moo_hpo.reports.fairness_figure import left_out
from moo_hpo.reports.fairness_names import (
    GAP_DEFINITIONS,
    GAP_NAMES,
    HOLDOUT_NOTE,
    LOWER_IS_BETTER,
    NO_HOLDOUT_NOTE,
    check_audited_names,
    fairness_extra,
    named_as,
)
from moo_hpo.reports.report import SavesByFormat, _link, json_text
from moo_hpo.trial import Trial, TrialStatus, config_key
from moo_hpo.values import choice_text

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["FairnessAudit", "fairness_audit"]

class FairnessAudit(SavesByFormat):
    """The audit of a study; build it with :func:`fairness_audit`.

    Attributes:
        summary: the plain-language trade-off, one to three sentences.
        note: what the figures are measured on, in plain words (and, without held-out metrics, how to add them).
        holdout: whether the trials carry held-out metrics (then rows and choices have both figures).
        rows: per audited trial: number, config, accuracy, gap, meets_bound, by_group, degenerate and, from a
            held-out split, holdout_accuracy, holdout_gap, holdout_meets_bound, holdout_by_group and
            broken_on_holdout (meets the bound on validation, breaks it on held-out data); absent values are None.
        choices: the models the summary recommends, with the same fields and a ``role``
            (``"most accurate"``, ``"most accurate within the bound"``).
        front: numbers of the trials on the accuracy-vs-gap front (the complete trials within the study's other hard
            constraints, validation figures; a configuration run again with the same figures once).
    """

    def __init__(self, study_name: str, accuracy: str, gap: str, bound: float | None, rows: list[dict[str, Any]],
                 points: list[dict[str, Any]], front: list[int], summary: str, note: str = "", holdout: bool = False,
                 choices: list[dict[str, Any]] | None = None, bound_is_constraint: bool = False) -> None:
        self.study_name, self.accuracy, self.gap, self.bound = study_name, accuracy, gap, bound
        self.rows, self.points, self.front, self.summary = rows, points, front, summary
        self.note, self.holdout, self.choices = note, holdout, choices or []
        self.bound_is_constraint = bound_is_constraint

    def to_json(self) -> str:
        """The audit as JSON: rows, choices and the figure's ``points`` (a repeated configuration's at its means)."""
        return json_text({"study": self.study_name, "accuracy": self.accuracy, "gap": self.gap, "bound": self.bound,
                           "summary": self.summary, "note": self.note, "holdout": self.holdout,
                           "holdout_metrics": [holdout_name(self.accuracy), holdout_name(self.gap)] if self.holdout else [],
                           "choices": self.choices, "front": self.front, "trials": self.rows, "points": self.points})

    def save_figures(self, folder: str | os.PathLike[str]) -> list[Path]:
        """The static PNG figure of accuracy against the gap (``fairness_front.png``), for Markdown and papers."""
        from moo_hpo.reports.fairness_figure import save_fairness_figure

        return [save_fairness_figure(self, folder)]

    @property
    def choices_label(self) -> str:
        """The choices' heading: "Recommended models", unless there is a bound and none of them meets it."""
        if self.bound is not None and self.choices and not any(c["meets_bound"] for c in self.choices):
            return f"Closest models (none meets {self.gap} <= {self.bound:g})"
        return "Recommended models"

    # ------------------------------------------------------------------ tables shared by HTML and Markdown
    def _meets_header(self) -> str:
        return f"meets {self.gap} <= {self.bound:g}" if self.bound is not None else "meets bound"

    def _figure_columns(self) -> list[str]:
        if not self.holdout:
            return [self.accuracy, self.gap, self._meets_header()]
        return [f"{self.accuracy} (validation)", f"{self.accuracy} (held-out)", f"{self.gap} (validation)",
                f"{self.gap} (held-out)", f"{self._meets_header()} (validation)", f"{self._meets_header()} (held-out)"]

    def _figure_cells(self, r: dict[str, Any]) -> list[Any]:
        meets = yes_no(r["meets_bound"])
        if not self.holdout:
            return [dash(r["accuracy"]), gap_cell(r["gap"], self.bound), meets]
        return [dash(r["accuracy"]), dash(r.get("holdout_accuracy")), gap_cell(r["gap"], self.bound),
                gap_cell(r.get("holdout_gap"), self.bound), meets, holdout_meets(r)]

    def _choice_rows(self) -> list[list[Any]]:
        return [[c["role"], trial_cell(c), *self._figure_cells(c)] for c in self.choices]

    def _definition(self) -> str:
        """What the gap is, from the per-group rates, and between which groups; or nothing for a gap without a
        definition here."""
        base = gap_parts(self.gap)[1]
        definition = GAP_DEFINITIONS.get(base)
        if not definition:
            return ""
        text = f"{self.gap} ({GAP_NAMES.get(base, self.gap)}): {definition}."
        groups = next((r["by_group"] for r in self.rows if r.get("by_group")), [])
        columns = [k for k in (groups[0] if groups else {}) if k not in GROUP_COLUMNS and k not in ("accuracy",)]
        if columns:
            named = [c for c in columns if not c.startswith("sensitive_feature_")]
            what = " x ".join(named) if len(named) == len(columns) else "the sensitive feature" + ("s" if len(columns) > 1 else "")
            text += f" Groups: {what} ({len(groups)} groups: {', '.join(str(' / '.join(str(g[c]) for c in columns)) for g in groups[:8])}" \
                    f"{', ...' if len(groups) > 8 else ''})."
        if groups and "weight" in groups[0]:
            held = next((r["holdout_by_group"] for r in self.rows if r.get("holdout_by_group")), [])
            text += (" The rows carry weights (sample_weight): the gap and the rates are weighted, the people and labels "
                     "counted are rows" + ("; the held-out rows carry none (no holdout_sample_weight): their figures count "
                                           "rows, so they compare unlike with the validation ones." if held and "weight" not in held[0] else "."))
        return text

    def _holdout_verdict(self) -> str:
        """With held-out figures and a bound: whether any audited model meets the bound on held-out data."""
        if not self.holdout or self.bound is None:
            return ""
        # a model that predicts one class for everyone is no choice: it meets any bound by construction
        held = [r for r in self.rows if r.get("holdout_meets_bound") is not None and not r.get("degenerate")]
        if not held:
            return ""
        if held and not any(r["holdout_meets_bound"] for r in held):
            advice = ("tune with a tighter bound than the one to meet, for a margin" if self.bound_is_constraint
                      else "tune with the bound as a hard constraint")
            return (f"No audited model meets {self.gap} <= {self.bound:g} on the held-out data: the bound is not met with "
                    f"confidence by any of them; audit more trials (trials=...), or {advice}.")
        both = [f"#{r['number']}" for r in held if r["holdout_meets_bound"] and r["meets_bound"]]
        only = [f"#{r['number']}" for r in held if r["holdout_meets_bound"] and not r["meets_bound"]]
        text = f"On the held-out data, {', '.join(both)} meet{'s' if len(both) == 1 else ''} {self.gap} <= {self.bound:g} too." if both else ""
        if only:  # met by chance on the held-out split: no ground for choosing it
            it = "it" if both else f"{self.gap} <= {self.bound:g}"
            text += (f"{' ' if text else ''}{', '.join(only)} meet{'s' if len(only) == 1 else ''} {it} on the held-out data only, "
                     "not on the validation data that models are chosen on: not a model to choose by its held-out figure.")
        return text

    def _holdout_verdict_kind(self) -> str:
        """The verdict's style: ``bad`` when no model meets the bound on held-out data, ``ok`` when one meets it on
        both splits, else ``note``."""
        verdict = self._holdout_verdict()
        if verdict.startswith("No "):
            return "bad"
        return "ok" if verdict.startswith("On the held-out data") else "note"

    def to_markdown(self, figures: str | os.PathLike[str] | None = None, relative_to: str | os.PathLike[str] | None = None) -> str:
        """The audit as Markdown; with ``figures`` (a folder), its figure as a PNG there, linked (relative to
        ``relative_to``, the Markdown's folder, when given)."""
        from moo_hpo.reports import markdown as md

        out = [f"# Fairness audit: {md.escape(self.study_name)}", "", md.escape(self.summary), ""]
        if figures is not None:  # the figure the HTML audit shows, as a PNG beside the Markdown
            (png,) = self.save_figures(figures)
            out += [f"![{md.escape(self.accuracy)} vs. {md.escape(self.gap)}]({_link(png, relative_to).as_posix()})", ""]
        if self._holdout_verdict():
            out += [f"**{md.escape(self._holdout_verdict())}**", ""]
        if self.note:
            out += [md.escape(self.note), ""]
        if self._definition():
            out += [md.escape(self._definition()), ""]
        if self.choices:
            out += [f"## {md.escape(self.choices_label)}", "", md.table(["choice", "trial", *self._figure_columns()], self._choice_rows()), ""]
        out += ["## Audited trials", ""]
        if self.holdout:
            out.append(md.table(["trial", *self._figure_columns(), "predicts"],
                                [(trial_cell(r), *self._figure_cells(r), predicts(r)) for r in self.rows]))
        else:
            bound = f"<= {self.bound:g}" if self.bound is not None else "(no bound)"
            out.append(md.table(["trial", self.accuracy, self.gap, f"meets {bound}", "predicts"],
                                [(trial_cell(r), dash(r["accuracy"]), dash(r["gap"]), yes_no(r["meets_bound"]), predicts(r))
                                 for r in self.rows]))
        for r in self.rows:
            for title, header, rows in group_tables(r, self.holdout):
                out += ["", f"### {title}", "", md.table(header, rows)]
        return "\n".join(out) + "\n"

    def to_html(self) -> str:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs

        from moo_hpo.reports.html import _CSS, _figure_html, _table, esc, plot_text

        front = set(self.front)
        fig = go.Figure()
        label = "accuracy-vs-gap front" + (" (validation)" if self.holdout else "")
        split = " (validation)" if self.holdout else ""
        groups = (  # drawn in this order, the front on top; listed front first
            ("breaking the study's other hard limits (left out)" + split, lambda p: p["number"] not in front and left_out(p),
             {"color": "#b42318", "size": 7, "symbol": "x"}),
            ("other trials" + split, lambda p: p["number"] not in front and not left_out(p), {"color": "#9aa5b1", "size": 7}),
            (label, lambda p: p["number"] in front, {"color": "#1f77b4", "size": 10}),
        )
        for rank, (name, member, marker) in zip((3, 2, 1), groups, strict=True):
            pts = [p for p in self.points if member(p)]
            if not pts and marker["color"] == "#b42318":
                continue
            fig.add_trace(go.Scatter(x=[p["gap"] for p in pts], y=[p["accuracy"] for p in pts], mode="markers", name=name,
                                     marker=marker, legendrank=rank,
                                     hovertext=[f"trial #{p['number']}: {plot_text(self.accuracy)} {p['accuracy']:.4g}, {plot_text(self.gap)} {p['gap']:.4g}<br>" + "<br>".join(f"{plot_text(k)} = {plot_text(choice_text(v))}" for k, v in p["config"].items()) for p in pts],
                                     hoverinfo="text"))
        held = [r for r in self.rows if r.get("holdout_accuracy") is not None and r.get("holdout_gap") is not None]
        if held:
            xs: list[float | None] = []
            ys: list[float | None] = []
            for r in held:
                xs += [r["gap"], r["holdout_gap"], None]
                ys += [r["accuracy"], r["holdout_accuracy"], None]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#d0a040", "width": 1, "dash": "dot"},
                                     hoverinfo="skip", showlegend=False))
            fig.add_trace(go.Scatter(x=[r["holdout_gap"] for r in held], y=[r["holdout_accuracy"] for r in held], mode="markers",
                                     name="audited trials on held-out data", marker={"color": "#d0a040", "size": 10, "symbol": "circle-open", "line": {"width": 2}},
                                     hovertext=[f"trial #{r['number']} on held-out data: {plot_text(self.accuracy)} {r['holdout_accuracy']:.4g}, {plot_text(self.gap)} {r['holdout_gap']:.4g}" for r in held], hoverinfo="text"))
        if self.bound is not None:
            fig.add_vline(x=self.bound, line_dash="dash", line_color="#b42318", annotation_text=plot_text(f"bound {self.bound:g}"))
        fig.update_layout(title=plot_text(f"{self.accuracy} vs. {self.gap}"), xaxis_title=plot_text(f"{self.gap} (lower is fairer)"), yaxis_title=plot_text(self.accuracy), height=480)
        parts = [f"<h1>Fairness audit: {esc(self.study_name)}</h1>", f"<p><b>{esc(self.summary)}</b></p>"]
        if self._holdout_verdict():
            verdict = self._holdout_verdict()
            parts.append(f"<p class='{self._holdout_verdict_kind()}'><b>{esc(verdict)}</b></p>")
        if self.note:
            parts.append(f"<p class='note'>{esc(self.note)}</p>")
        if self._definition():
            parts.append(f"<p class='note'>{esc(self._definition())}</p>")
        parts.append(_figure_html(fig, "fairness-front"))
        columns = self._figure_columns()
        numeric = [not c.startswith("meets") for c in columns]
        if self.choices:
            parts.append(f"<h2>{esc(self.choices_label)}</h2>" + _table(["choice", "trial", *columns], self._choice_rows(), [False, False, *numeric]))
        parts.append("<h2>Audited trials</h2>" + _table(["trial", "configuration", *columns, "predicts"],
                                                         [(trial_cell(r), config_text(r["config"]), *self._figure_cells(r), predicts(r)) for r in self.rows],
                                                         [False, False, *numeric, False]))
        for r in self.rows:
            for title, header, rows in group_tables(r, self.holdout):
                parts.append(f"<h3>{esc(title)}</h3>" + _table(header, rows, [h in GROUP_COLUMNS.values() or h == "accuracy" for h in header]))
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Fairness audit - {esc(self.study_name)}</title>"
                f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>")


def fairness_audit(
    study: Study,
    accuracy: str = "accuracy",
    gap: str = "eo_diff",
    bound: float | None = None,
    trials: Sequence[Trial | int] | None = None,
) -> FairnessAudit:
    """Audit the accuracy / fairness trade-off of a study.

    The front and the choices are made on the figures the study selected on (validation). When the trials
    also carry ``holdout_<accuracy>`` and ``holdout_<gap>`` (the probes' ``holdout=`` argument), every audited
    and recommended model shows both figures, and one that meets the bound on validation but not on held-out
    data is flagged; without them, the audit says that it evaluates on the optimisation data and how to add a
    held-out split. A configuration run more than once (:meth:`~moo_hpo.Study.reevaluate`, the noise check) is
    judged once, on the means of its runs, as :meth:`~moo_hpo.Study.recommend` judges it (its per-group tables are
    its first run's); a repeated run named in ``trials`` stands for its configuration.

    Args:
        study: a study whose trials carry ``accuracy`` and ``gap`` metrics (and, from
            :class:`~moo_hpo.objectives.FairnessGap`, per-group tables).
        accuracy: the accuracy metric: higher is better, unless the study minimizes it as an objective or it is an
            error or a loss (:data:`LOWER_IS_BETTER`).
        gap: the fairness gap metric (lower is better).
        bound: the largest acceptable gap; default: the study's ``AtMost`` constraint on ``gap``, if any.
        trials: the trials to audit in detail, and to choose among (default: the accuracy-vs-gap front of the
            trials within the study's other hard constraints, choosing among all of those).

    Returns:
        A :class:`FairnessAudit`.

    Raises:
        ConfigError: when no complete trial has both metrics (saying so when no trial completed at all).
    """
    check_audited_names(study, accuracy, gap)
    if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float, np.number))
                              or not 0 <= bound < np.inf):
        raise ConfigError(f"bound must be a finite number >= 0 (the largest acceptable {gap}); received {bound!r}")
    if bound is None:  # the tightest hard bound (what decides feasibility), else the tightest soft one
        hard = [c.bound for c in study.constraints if c.name == gap and c.kind == "at_most" and c.hard]
        soft = [c.bound for c in study.constraints if c.name == gap and c.kind == "at_most" and not c.hard]
        bound = min(hard or soft) if hard or soft else None
    from moo_hpo.robust import judged_configurations, root_number, runs_phrase

    # a configuration run more than once (reevaluate, the noise check) is judged once, on the means of its runs, as
    # recommend and device sizing judge it: its stand-in carries the means, and the per-group tables of its first run
    configurations = judged_configurations(study.problem, study.trials, feasible_only=False)
    runs_of = {figures.number: runs for figures, _, runs, _ in configurations}
    counts_of = {figures.number: counts for figures, _, _, counts in configurations}
    complete = [t for t, _, _, _ in configurations if accuracy in t.metrics and gap in t.metrics]
    if not complete:
        raise no_audited_trials_error(study, accuracy, gap)
    base_gap = gap_parts(gap)[1]  # a probe's prefix ("sex_eo_diff") before a fairlearn gap
    # higher is better, unless the study minimizes it (an error rate, a loss)
    sign = next((-1.0 if o.direction == "minimize" else 1.0 for o in study.objectives if o.name == accuracy),
                -1.0 if named_as(accuracy, LOWER_IS_BETTER) else 1.0)

    def score(t: Trial, key: str = accuracy) -> float:
        return sign * t.metrics[key]

    h_acc, h_gap = holdout_name(accuracy), holdout_name(gap)
    holdout = any(h_acc in t.metrics or h_gap in t.metrics for t in complete)
    # the study's other hard limits (size, latency ...) hold for every model the audit fronts or recommends
    limits = [c for c in study.constraints if c.hard and c.name != gap]

    def within_limits(t: Trial) -> bool:
        return all(c.name in t.metrics and c.is_satisfied(t.metrics[c.name]) for c in limits)

    fronted = [t for t in complete if within_limits(t)] or complete
    Y = np.array([[-score(t), t.metrics[gap]] for t in fronted])
    on_front, seen = [], set()
    for t, keep in zip(fronted, pareto_mask(Y), strict=True):
        key = (config_key(t.config), t.metrics[accuracy], t.metrics[gap])
        if keep and key not in seen:  # a configuration enqueued again with the same figures: listed once
            seen.add(key)
            on_front.append(t)
    in_audit = {id(t) for t in complete}
    by_root = {root_number(original): t for t, original, _, _ in configurations if id(t) in in_audit}  # a configuration's
    if trials is None:
        audited = sorted(on_front, key=lambda t: -score(t))
        pool, scope = complete, "trial"
    else:
        by_number = {t.number: t for t in study.trials}
        trials = list(trials)  # a generator is read once
        if any(isinstance(n, (bool, np.bool_)) for n in trials):
            raise ConfigError(f"trials expects trial numbers or trials; received {list(trials)!r:.200} (a bool is no trial number)")
        numbers = list(dict.fromkeys(t if isinstance(t, (int, np.integer)) else getattr(t, "number", t) for t in trials))  # once
        unknown = [n for n in numbers if n not in by_number]
        if unknown:
            raise ConfigError(f"trials {unknown} are not in the study; expected trial numbers 0..{len(study.trials) - 1} or its trials")
        # a repeated run stands for its configuration, judged on the means of its runs
        audited = list({id(a): a for a in (by_root.get(root_number(by_number[n]), by_number[n]) for n in numbers)}.values())
        pool, scope = [t for t in audited if id(t) in in_audit], "audited trial"
        if not pool:
            raise ConfigError(
                f"none of the trials {numbers} is complete with both {accuracy!r} and {gap!r}; expected some to choose among "
                f"(the complete ones: {[t.number for t in complete]})"
            )
    eligible = [t for t in pool if within_limits(t)]
    breaking = [t.number for t in pool if not within_limits(t)]
    candidates = eligible or pool

    def figures(t: Trial) -> dict[str, Any]:
        fairness = fairness_extra(t, gap)
        measured = t.status is TrialStatus.COMPLETE and gap in t.metrics
        row = {
            "number": t.number,
            "config": t.config,
            "status": t.status.value,
            "accuracy": t.metrics.get(accuracy),
            "gap": t.metrics.get(gap),
            "meets_bound": None if bound is None or not measured else bool(t.metrics[gap] <= bound),
            "runs": runs_of.get(t.number, 1) if measured else 1,
            "by_group": fairness.get("by_group", []),
            "degenerate": one_class_only(t, fairness_extra(t, gap)),
        }
        if holdout:
            held_gap = t.metrics.get(h_gap)
            held_meets = None if bound is None or held_gap is None or not measured else bool(held_gap <= bound)
            row.update({
                "holdout_accuracy": t.metrics.get(h_acc),
                "holdout_gap": held_gap,
                "holdout_meets_bound": held_meets,
                "broken_on_holdout": bool(row["meets_bound"] and held_meets is False),
                "holdout_by_group": fairness.get("holdout_by_group", []),
            })
        return row

    def trial_text(t: Trial) -> str:
        said = runs_phrase(counts_of.get(t.number, {}).get(accuracy, runs_of.get(t.number, 1)), runs_of.get(t.number, 1))
        return f"trial #{t.number}" + (f", {said}" if said else "")

    def held_out(t: Trial) -> str:
        parts = [f"{name} {short(t.metrics[key]) if key == h_acc or bound is None else near(t.metrics[key], bound)}"
                 for name, key in ((accuracy, h_acc), ("gap", h_gap)) if key in t.metrics]
        return f" (held-out: {', '.join(parts)})" if parts else ""

    def holdout_verdict(t: Trial) -> str:
        if h_gap not in t.metrics or bound is None:
            return ""
        if t.metrics[h_gap] <= bound:
            return f" On held-out data trial #{t.number} is within the bound too."
        return f" On held-out data trial #{t.number} is NOT within the bound: its gap there is {near(t.metrics[h_gap], bound)}."

    def choice(role: str, t: Trial) -> dict[str, Any]:
        return {"role": role, **{k: v for k, v in figures(t).items() if k not in ("by_group", "holdout_by_group")}}

    rows = [figures(t) for t in audited]
    usable = [t for t in candidates if not one_class_only(t, fairness_extra(t, gap))]
    note = (HOLDOUT_NOTE if holdout else NO_HOLDOUT_NOTE).format(acc=accuracy, h_acc=h_acc, h_gap=h_gap)
    # left out: breaking the other limits where some trials the choices are made among keep them (none does: the
    # choices are made among them all, and none is left out)
    points = [{"number": t.number, "accuracy": t.metrics[accuracy], "gap": t.metrics[gap], "config": t.config,
               "within_limits": within_limits(t), "left_out": bool(eligible) and not within_limits(t)} for t in complete]
    bound_is_constraint = bound is not None and any(c.hard and c.name == gap and c.kind == "at_most" and c.bound == bound
                                                    for c in study.constraints)
    if not usable:  # nothing to recommend: a model that predicts one class for everyone is no choice
        summary = no_usable_model_note(pool, candidates, limits if eligible and breaking else [], scope, accuracy, gap, score)
        return FairnessAudit(study.name, accuracy, gap, bound, rows, points, [t.number for t in on_front],
                             summary + small_groups_note(rows, gap), note=note, holdout=holdout, choices=[],
                             bound_is_constraint=bound_is_constraint)
    def ranked(t: Trial) -> tuple[float, float, int]:  # of equal accuracy, the fairer one (then the first run)
        return score(t), -t.metrics[gap], -t.number

    best = max(usable, key=ranked)
    choices = [choice("most accurate", best)]
    label = GAP_NAMES.get(base_gap, gap)
    where = " on validation data" if holdout else ""
    summary = (f"The most accurate model{where} ({trial_text(best)}) reaches {accuracy} {short(best.metrics[accuracy])} "
               f"with {'an' if label[:1] in 'aeiou' else 'a'} {label} of "
               f"{short(best.metrics[gap]) if bound is None else near(best.metrics[gap], bound)}{held_out(best)}")
    if bound is not None:
        within = [t for t in usable if t.metrics[gap] <= bound]
        if best.metrics[gap] <= bound:
            summary += f", within the bound of {bound:g}.{holdout_verdict(best)}"
        elif within:
            fair = max(within, key=ranked)
            choices.append(choice("most accurate within the bound", fair))
            cost = score(best) - score(fair)
            summary += (f"; the most accurate one within {bound:g} ({trial_text(fair)}) reaches {short(fair.metrics[accuracy])} "
                        f"with a gap of {near(fair.metrics[gap], bound)}{held_out(fair)}: meeting the bound costs {short(cost)} {accuracy}")
            if h_acc in best.metrics and h_acc in fair.metrics:
                held_cost = score(best, h_acc) - score(fair, h_acc)
                summary += (f" ({short(held_cost)} on held-out data)" if held_cost >= 0 else
                            f" (on held-out data trial #{fair.number} is the more accurate one, by {short(-held_cost)})")
            summary += f".{holdout_verdict(fair)}"
        else:
            one_class = [t for t in candidates if one_class_only(t, fairness_extra(t, gap)) and t.metrics[gap] <= bound]
            summary += (f"; no {scope} that predicts both classes meets the bound of {bound:g} (the smallest gap among "
                        f"them is {near(min(t.metrics[gap] for t in usable), bound)}; only models that predict one "
                        f"class for everyone do)." if one_class else
                        f"; no {scope} meets the bound of {bound:g} (the smallest gap among them is "
                        f"{near(min(t.metrics[gap] for t in candidates), bound)}).")
    else:
        summary += "."
    if limits:
        texts = ", ".join(c.describe() for c in limits)
        if not breaking:
            # of those with figures: a trial skipped before training for breaking them has none
            summary += f" Every {'complete trial' if scope == 'trial' else scope} keeps to the study's other hard limits ({texts})."
        elif eligible:
            summary += (f" The choices keep to the study's other hard limits ({texts}): {len(breaking)} {scope}"
                        f"{'s' if len(breaking) != 1 else ''} breaking them {'are' if len(breaking) != 1 else 'is'} left out"
                        f" ({', '.join(f'#{n}' for n in breaking[:10])}{', ...' if len(breaking) > 10 else ''}).")
        else:
            summary += (f" No {scope} keeps to the study's other hard limits ({texts}): the choices are made among them "
                        "all, and break those limits.")
    broken = [r["number"] for r in rows if r.get("broken_on_holdout")]
    if broken:
        summary += (f" Audited trials that meet the bound of {bound:g} on validation data but break it on held-out data "
                    f"(flagged BROKEN ON HELD-OUT): {', '.join(f'#{n}' for n in broken)}.")
    summary += one_class_notes(candidates, usable, choices, gap) + small_groups_note(rows, gap)
    return FairnessAudit(study.name, accuracy, gap, bound, rows, points, [t.number for t in on_front], summary,
                         note=note, holdout=holdout, choices=choices, bound_is_constraint=bound_is_constraint)

