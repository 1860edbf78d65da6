"""``mh.report(study)``: the stakeholder report as HTML, Markdown, JSON and static PNG figures."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.reports import markdown as md
from moo_hpo.reports.data import (
    FRONT_BY_MODEL,
    RECOMMENDATIONS_GUIDE,
    collect,
    front_table,
    plural,
    time_text,
    trials_text,
)
from moo_hpo.reports.estimates import estimates_note, shown_name
from moo_hpo.reports.labels import wrap_label
from moo_hpo.reports.sections import DEVICE_SIZING_HEADER, device_sizing_rows, optimizer_text

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["Report", "report"]


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, in nested dicts and lists (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(value: Any, indent: int | None = 1) -> str:
    """Standard JSON of ``value`` (NaN and infinities as null, other objects as text)."""
    return json.dumps(finite(value), indent=indent, default=str, allow_nan=False)


class SavesByFormat:
    """``save(path)`` writes HTML, Markdown or JSON by the file's suffix (shared by the reports)."""

    def to_html(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_markdown(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_json(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _repr_markdown_(self) -> str:
        """A notebook shows the Markdown form (the HTML page carries plotly.js, megabytes, for every display)."""
        return self.to_markdown()

    def save(self, path: str | os.PathLike[str], figures: str | os.PathLike[str] | None = None) -> Path:
        """Write HTML (``.html`` or ``.htm``), Markdown (``.md``) or JSON (``.json``), chosen by the suffix.

        Args:
            path: the file to write.
            figures: for Markdown only, a folder to write the static PNG figures to (:meth:`save_figures`); the
                Markdown links them relative to its own folder, so the two can be moved together.

        Raises:
            ConfigError: for any other suffix (a ``.png`` or ``.pdf`` would otherwise hold HTML), or ``figures``
                with a report that is not Markdown.
        """
        path = Path(path)
        writers = {".html": self.to_html, ".htm": self.to_html, ".md": self.to_markdown, ".json": self.to_json}
        writer = writers.get(path.suffix.lower())
        if writer is None:
            raise ConfigError(
                f"cannot write a report as {path.suffix or 'a file without a suffix'!r} ({str(path)!r}); "
                "expected .html, .md or .json (static PNG figures: save_figures(folder))"
            )
        if figures is not None and path.suffix.lower() != ".md":
            raise ConfigError(f"figures=... goes with a Markdown report (.md); received {str(path)!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = writer() if figures is None else self.to_markdown(figures=figures, relative_to=path.parent)  # type: ignore[call-arg]
        path.write_text(text, encoding="utf-8")
        return path


class Report(SavesByFormat):
    """A report of a study. Build it with :func:`report`.

    Attributes:
        data: everything the report shows, as JSON-able data.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_html(self) -> str:
        """The self-contained HTML page (plotly.js embedded, opens offline)."""
        from moo_hpo.reports.html import render_html

        return render_html(self.data)

    def to_json(self) -> str:
        """The report's data as standard JSON (a NaN or infinite figure as null)."""
        return json_text(self.data)

    def to_markdown(self, figures: str | os.PathLike[str] | None = None, relative_to: str | os.PathLike[str] | None = None) -> str:
        """The report as Markdown.

        Args:
            figures: a folder: static PNG figures are written there and linked.
            relative_to: the folder the Markdown will be saved in, so the links are relative to it (None: the
                links are the figures' paths as written, relative to the working directory).
        """
        d = self.data
        c = d["counts"]
        out = [f"# {md.escape(d['name'])}", ""]
        curves = d.get("learning_curves") or {}
        pruned = f"{c.get('pruned', 0)} pruned, " if c.get("pruned") or curves.get("trials") else ""
        said = {"running": "running when the study's run stopped" if c.get("left_running") else "running"}
        unfinished = "".join(f", {c[s]} {said.get(s, s)}" for s in ("running", "interrupted") if c.get(s))
        out.append(
            f"{plural(c['total'], 'trial')}: {c['complete']} complete ({c['feasible']} feasible), {pruned}{c['failed']} failed, "
            f"{c['infeasible_skipped']} skipped before training{unfinished}. Optimizer: "
            f"{md.escape(optimizer_text(d['optimizer']))}; seed {d['seed']}"
            + (f"; pruner {md.escape(d['pruner'])}" if d.get("pruner") else "") + f". Time: {time_text(d['time'])}."
        )
        derived = d["hypervolume"].get("reference_point") or {}
        state = "frozen" if d["hypervolume"].get("frozen") else "provisional"

        def reference(o: dict[str, Any]) -> Any:
            if o["name"] in d["hypervolume"].get("set_names", []) and o["name"] in derived:  # its ref= still filters
                kept = f"; its ref= {o['ref']:g} still counts in the recommendations" if o["ref"] is not None else ""
                return f"{derived[o['name']]:.6g} (set: study.set_reference_point{kept})"
            if o["ref"] is not None:
                return o["ref"]
            return f"derived: {derived[o['name']]:.6g} ({state})" if o["name"] in derived else "derived (no feasible trial yet)"

        note = estimates_note(d.get("estimated_metrics"))
        out += ["", md.escape(note)] if note else []
        out += ["", "## Study", "", md.table(["objective", "direction", "reference"], [(shown_name(o), o["direction"], reference(o)) for o in d["objectives"]])]
        if d["constraints"]:
            out += ["", md.table(["constraint", "kind"], [(k["text"], "hard" if k["hard"] else "soft") for k in d["constraints"]])]
        out += ["", md.table(["parameter", "domain"], [(p["name"], p["domain"]) for p in d["space"]])]
        images: dict[str, str] = {}  # figure name -> its Markdown image line
        if figures is not None:
            images = {p.stem: f"![{p.stem}]({_link(p, relative_to).as_posix()})" for p in self.save_figures(figures)}
        if "front" in images:
            out += ["", "## Pareto front" if len(d["objectives"]) > 1 else "## Objective by trial", "", images["front"]]
        hv = d["hypervolume"]
        out += ["", "## Hypervolume", ""]
        if hv.get("value") is not None:
            ref = ", ".join(f"{k} = {v:.6g}" for k, v in hv["reference_point"].items())
            out.append(f"Hypervolume {hv['normalized']:.3f} normalized (raw {hv['value']:.6g}) with reference point {md.escape(ref)}.")
            out += ["", md.escape(hv["meaning"])]
        else:
            out.append(md.escape(hv.get("note", "no hypervolume")))
        if "hypervolume" in images:
            out += ["", images["hypervolume"]]
        out += self._early_stopping_markdown(images.get("learning_curves"))
        guide = d.get("recommendations_guide", RECOMMENDATIONS_GUIDE)
        if "front" not in images:  # no figure here to star them in
            guide = guide.replace(", starred in the figures above", "")
        out += ["", "## Recommended operating points", ""] + ([md.escape(guide), ""] if d["recommendations"] else [])
        out.append(md.table(["method", "trial", "why"], [(r["method"], f"#{r['number']}", r["reason"]) for r in d["recommendations"]]) if d["recommendations"] else md.escape(d.get("no_recommendation") or "No feasible trial."))
        if d.get("device_sizing"):
            out += ["", "## Device sizing", "", md.table(DEVICE_SIZING_HEADER, device_sizing_rows(d["device_sizing"]))]
        header, rows, _ = front_table(d)
        out += ["", "## Front trials", ""] + (["", md.escape(FRONT_BY_MODEL), ""] if d.get("front_basis") == "model" else [])
        out.append(md.table(header, rows))
        out += self._repeated_runs_markdown()
        if d.get("workers"):
            from moo_hpo.reports.sections import WORKERS_HEADER, workers_rows

            out += ["", "## Workers", "", md.table(WORKERS_HEADER, workers_rows(d["workers"]))]
        if d["constraint_summary"]:
            from moo_hpo.reports.sections import constraint_table

            header, rows = constraint_table(d["constraint_summary"])
            out += ["", "## Constraints", "", md.table(header, [tuple("—" if v is None else v for v in r) for r in rows])]
        check = d.get("model_check") or {}
        if check.get("summary") or check.get("failures"):
            from moo_hpo.reports.sections import model_check_summary_rows, model_check_text

            out += ["", "## Model check", ""]
            if check.get("summary"):
                out.append(md.table(["metric", "proposals measured", "within 2 sd", "median abs z", "mean z (measured - predicted)"],
                                     model_check_summary_rows(check, d.get("estimated_metrics"))))
            if check.get("failures"):
                out += ["", md.escape(model_check_text(check))]
        out += ["", "## Failures", ""]
        out.append(md.table(["reason (numbers aside)", "trials", "which"], [(f["reason"], f["count"], trials_text(f["trials"])) for f in d["failures"]]) if d["failures"] else "No trial failed.")
        return "\n".join(out) + "\n"

    def _repeated_runs_markdown(self) -> list[str]:
        """The Markdown lines of the repeated-runs section, or none when no trial is a repetition."""
        from moo_hpo.reports.sections import REPEATED_RUNS_TITLE, repeated_runs_header, repeated_runs_rows, repeated_runs_text

        section = self.data.get("repeated_runs")
        if not section:
            return []
        return ["", f"## {REPEATED_RUNS_TITLE}", "", md.escape(repeated_runs_text(section)), "",
                md.table(repeated_runs_header(section), repeated_runs_rows(section)), "",
                md.escape(f"How it is estimated: {section['method']}")]

    def _early_stopping_markdown(self, curves_image: str | None = None) -> list[str]:
        """The Markdown lines on early stopping: which trials reported (with the learning curves' figure when
        written), and the compute-saved table."""
        from moo_hpo.reports.sections import COMPUTE_SAVED_HEADER, compute_saved_rows, compute_saved_text, stopped_at_text

        d = self.data
        curves = d.get("learning_curves") or {}
        if not curves.get("trials"):
            return []
        by_status = Counter(r["status"] for r in curves["trials"])
        reported = ", ".join(m["name"] + (" (a hard constraint)" if m.get("constraint") else "") for m in curves["metrics"]) \
            or "none of the study's metrics"
        out = ["", "## Early stopping", "",
               md.escape(f"{len(curves['trials'])} trials reported intermediate metrics ("
                         + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) + f"); metrics reported: {reported}. "
                         + ("The JSON report holds every report; their learning curves:" if curves_image
                            else "The HTML report draws their learning curves; the JSON report holds every report."))]
        if curves_image:
            out += ["", curves_image]
        saved = d.get("compute_saved")
        if not saved:
            return out + ["", "No complete or pruned trial reported yet."]
        out += ["", "### Compute saved", "", md.escape(compute_saved_text(saved)), "",
                md.table(COMPUTE_SAVED_HEADER, compute_saved_rows(saved))]
        if saved["stopped_at"]:
            out += ["", md.escape(stopped_at_text(saved))]
        return out + ["", md.escape(f"How it is estimated: {saved['rule']}")]

    def save_figures(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Static PNG figures for papers and Markdown (matplotlib): the objective space, the
        hypervolume history and, when trials reported intermediate metrics, their learning curves.
        Returns the written paths."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from moo_hpo.reports.html import _groups, _recommended_rows

        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"figures are written to a folder; {str(folder)!r} is a file")
        folder.mkdir(parents=True, exist_ok=True)
        d = self.data
        objs = d["objectives"]
        written = []
        groups = _groups(d)
        if len(objs) >= 2:
            shown = objs[:MAX_FRONT_OBJECTIVES]
            pairs = [(i, j) for i in range(len(shown)) for j in range(i + 1, len(shown))]  # every pair: none left out
            columns = min(3, len(pairs))
            rows_of_panels = -(-len(pairs) // columns)
            fig, axes = plt.subplots(rows_of_panels, columns, figsize=(6 if columns == 1 else 4.6 * columns, 4.2 * rows_of_panels),
                                     squeeze=False)
            recommended = _recommended_rows(d)
            for k, (i, j) in enumerate(pairs):
                _front_panel(axes[k // columns][k % columns], groups, recommended, shown[i], shown[j], bool(d["trials"]),
                             legend=k == 0, width=36 if columns > 1 else 56)
            for k in range(len(pairs), rows_of_panels * columns):
                axes[k // columns][k % columns].set_visible(False)
            if len(objs) > 2:  # the front is non-dominated in every objective, not in each pair alone
                some = "" if len(objs) == len(shown) else f" (pairs of the first {len(shown)})"
                fig.suptitle(wrap_label(f"{d['name']}: {len(objs)} objectives, two at a time{some}; the front is "
                                        f"non-dominated in all {len(objs)}", 150), fontsize=9)
            else:
                axes[0][0].set_title(wrap_label(d["name"], 60))
            fig.tight_layout()
            written.append(folder / "front.png")
            fig.savefig(written[-1], dpi=120)
            plt.close(fig)
        elif len(objs) == 1:  # as the HTML report draws it: the objective by trial, the recommended starred
            written.append(_one_objective_png(d, groups, _recommended_rows(d), folder / "front.png"))
        history = d["hypervolume"].get("history_normalized") or d["hypervolume"].get("history") or []
        if history:
            fig, ax = plt.subplots(figsize=(6, 3.2))
            ax.step(range(len(history)), history, where="post", marker="o" if len(history) < 30 else None, markersize=3)
            ax.set_xlabel("trial")
            ax.set_ylabel("hypervolume (normalized)")
            fig.tight_layout()
            written.append(folder / "hypervolume.png")
            fig.savefig(written[-1], dpi=120)
            plt.close(fig)
        curves = d.get("learning_curves") or {}
        if curves.get("trials") and curves.get("metrics"):
            written.append(_learning_curves_png(curves, folder / "learning_curves.png"))
        return written


#: objectives the static front figure draws, two at a time (4: six panels)
MAX_FRONT_OBJECTIVES = 4


def _one_objective_png(d: dict[str, Any], groups: dict[str, list[dict[str, Any]]], recommended: list[dict[str, Any]],
                       path: Path) -> Path:
    """The static figure of a study with one objective: its value by trial number, styled as in the HTML report."""
    import matplotlib.pyplot as plt

    from moo_hpo.reports.html import COLORS

    objective = d["objectives"][0]
    name = objective["name"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, rows in groups.items():
        if rows:
            ax.scatter([r["number"] for r in rows], [r["metrics"][name] for r in rows], c=COLORS[key], s=30 if key == "front" else 14,
                       marker="x" if key == "infeasible" else "o", label="best" if key == "front" else key)
    for r in recommended:
        ax.scatter([r["number"]], [r["metrics"][name]], s=160, facecolors="none", edgecolors="#111111", marker="*", linewidths=1.2,
                   label="recommended" if r is recommended[0] else None)
        ax.annotate(f"#{r['number']}", (r["number"], r["metrics"][name]), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("trial")
    ax.set_ylabel(wrap_label(f"{shown_name(objective)} ({objective['direction'][:3]})", 40))
    ax.set_title(wrap_label(d["name"], 60))
    if any(groups.values()):
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no complete trial yet" if d["trials"] else "no trial yet", transform=ax.transAxes, ha="center", color="0.4")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _front_panel(ax: Any, groups: dict[str, list[dict[str, Any]]], recommended: list[dict[str, Any]],
                 x: dict[str, Any], y: dict[str, Any], any_trials: bool, legend: bool, width: int = 56) -> None:
    """One panel of the static front figure: the trials in two objectives, styled as in the HTML report, the axis
    titles in lines of at most ``width`` characters."""
    from moo_hpo.reports.html import COLORS

    a, b = x["name"], y["name"]
    for key, rows in groups.items():
        if rows:  # a legend entry only for what is drawn
            ax.scatter([r["metrics"][a] for r in rows], [r["metrics"][b] for r in rows], c=COLORS[key],
                       s=30 if key == "front" else 14, marker="x" if key == "infeasible" else "o", label=key)
    if recommended:
        ax.scatter([r["metrics"][a] for r in recommended], [r["metrics"][b] for r in recommended], s=160,
                   facecolors="none", edgecolors="#111111", marker="*", linewidths=1.2, label="recommended")
        for r in recommended:
            ax.annotate(f"#{r['number']}", (r["metrics"][a], r["metrics"][b]), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
    ax.set_xlabel(wrap_label(f"{shown_name(x)} ({x['direction'][:3]})", width))  # an estimated figure with its label
    ax.set_ylabel(wrap_label(f"{shown_name(y)} ({y['direction'][:3]})", width))
    if not any(groups.values()):  # nothing drawn: say why instead of empty axes
        text = "no complete trial yet (pruned and failed trials have no final figures)" if any_trials else "no trial yet"
        ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", color="0.4", fontsize=8, wrap=True)
    elif legend:  # the front first, as in the HTML report (drawn last, on top)
        from moo_hpo.reports.html import _RANK

        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: _RANK.get(labels[i], 0))
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)


def _learning_curves_png(curves: dict[str, Any], path: Path) -> Path:
    """One panel per reported objective: metric against step, one line per trial, styled as in the HTML report."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from moo_hpo.reports.html import CURVE_STYLES, _curve_group

    metrics = curves["metrics"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        name = metric["name"]
        for group, (label, color, width, dash, opacity) in CURVE_STYLES.items():
            lines = [[(x, y) for x, y in zip(r["steps"], r["values"][name], strict=True) if y is not None]
                     for r in curves["trials"] if _curve_group(r) == group]
            lines = [line for line in lines if line]
            if not lines:
                continue
            style = {"solid": "solid", "dash": "dashed", "dot": "dotted"}[dash]
            ax.add_collection(LineCollection(lines, colors=color, linewidths=width * 0.8, linestyles=style, alpha=opacity, label=label))
            if group == "pruned":
                ax.scatter([line[-1][0] for line in lines], [line[-1][1] for line in lines], marker="x", s=12, c=color, alpha=opacity)
        ax.autoscale()
        ax.set_xlabel("step")
        ax.set_ylabel(wrap_label(f"{name} ({metric['direction'][:3]})", 40))
    handles, labels = axes[0][0].get_legend_handles_labels()  # one legend below the panels: they share their styles
    fig.legend(handles, labels, loc="lower center", ncol=max(len(labels), 1), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _link(path: Path, relative_to: str | os.PathLike[str] | None) -> Path:
    """``path`` relative to the folder the Markdown is saved in (as it is when there is none, or when the two
    are on different drives)."""
    if relative_to is None:
        return path
    try:
        return Path(os.path.relpath(path, relative_to))
    except ValueError:
        return path.resolve()


def report(study: Study | str | os.PathLike[str], weights: Mapping[str, float] | Sequence[float] | None = None,
           devices: Any = None) -> Report:
    """Build the report of a study.

    Args:
        study: the study, or the path of its study file (opened read-only).
        weights: objective weights for the ASF recommendation (objective name -> weight).
        devices: :class:`~moo_hpo.DeviceProfile` s (or the table :func:`~moo_hpo.size_for_devices` returned) for a
            "Device sizing" section: per device, its budgets, the trial chosen for it and why.

    Returns:
        A :class:`Report`: ``.save("report.html")``, ``.to_markdown()``, ``.to_json()``.

    Raises:
        ConfigError: for something that is neither a study nor a path.
        StorageError: for a path that holds no study.
    """
    from moo_hpo.study import Study

    if isinstance(study, (str, os.PathLike)):
        with Study.load(study, read_only=True) as stored:
            return Report(collect(stored, weights, devices))
    if not isinstance(study, Study):
        raise ConfigError(f"report expects a study (mh.Study) or the path of its file; received {study!r}")
    return Report(collect(study, weights, devices))
