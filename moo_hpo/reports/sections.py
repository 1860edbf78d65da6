"""The rows and sentences the HTML and Markdown reports share: the compute-saved table, the model check's summary,
the repeated-runs table, the count cards, the workers table, and the number formats they use (each report escapes or
lays them out its own way)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from moo_hpo.reports.estimates import shown_name
from moo_hpo.values import choice_text

if TYPE_CHECKING:
    from moo_hpo.trial import Trial

__all__ = [
    "workers",
    "COMPUTE_SAVED_HEADER",
    "DEVICE_SIZING_HEADER",
    "MODEL_CHECK_MIN_PROPOSALS",
    "REPEATED_RUNS_TITLE",
    "WORKERS_HEADER",
    "compute_saved_rows",
    "compute_saved_text",
    "constraint_table",
    "count_cards",
    "device_sizing_rows",
    "model_check_summary_rows",
    "model_check_text",
    "optimizer_text",
    "repeated_runs_header",
    "repeated_runs_rows",
    "repeated_runs_text",
    "stopped_at_text",
    "workers_rows",
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def compute_saved_rows(saved: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The compute-saved table, one formatted row per status and one for all: status, trials, steps trained,
    steps of full training, steps saved, time spent, estimated time of full training, time saved."""

    def row(label: str, trials: int, steps: dict[str, Any], seconds: dict[str, Any]) -> tuple[Any, ...]:
        return (label, trials, _fmt(steps["trained"]), _fmt(steps["full"]), f"{_fmt(steps['saved'])} ({_pct(steps['saved_share'])})",
                f"{seconds['spent']:.1f} s", f"{seconds['full']:.1f} s", f"{seconds['saved']:.1f} s ({_pct(seconds['saved_share'])})")

    rows = [row(r["status"], r["trials"], r["steps"], r["seconds"]) for r in saved["by_status"]]
    rows.append(row("all", saved["trials"], saved["steps"], saved["seconds"]))
    return rows


#: The header of :func:`compute_saved_rows`' table.
COMPUTE_SAVED_HEADER = ("status", "trials", "steps trained", "steps, full training", "steps saved", "time spent",
                        "time, full training (estimate)", "time saved (estimate)")


def compute_saved_text(saved: dict[str, Any] | None) -> str:
    """One sentence on what early stopping saved, or an empty string when no trial reported."""
    if not saved:
        return ""
    steps, seconds = saved["steps"], saved["seconds"]
    return (f"{saved['trials']} trials trained {_fmt(steps['trained'])} steps of the {_fmt(steps['full'])} that full training "
            + (f"(the pruned ones to step {_fmt(saved['full_step'])}) " if saved["stopped_at"] else "")
            + f"would have taken: {_pct(steps['saved_share'])} of the steps saved; "
            f"{seconds['spent']:.1f} s spent in them against an estimated {seconds['full']:.1f} s "
            f"({_pct(seconds['saved_share'])} saved).")


def stopped_at_text(saved: dict[str, Any] | None) -> str:
    """Where the pruned trials stopped, in words (``3 at step 1, 2 at step 3``), or an empty string."""
    if not saved or not saved["stopped_at"]:
        return ""
    return "Pruned trials stopped after their report at " + ", ".join(
        f"step {_fmt(s['step'])} ({s['trials']} trial{'s' if s['trials'] != 1 else ''})" for s in saved["stopped_at"]) + "."


def model_check_summary_rows(check: dict[str, Any], estimates: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    """The model check's summary, one formatted row per metric: metric (with its estimate's label, ``estimates``: a
    report's ``data["estimated_metrics"]``), proposals, share within 2 sd, median |z|, mean z (the HTML and Markdown
    reports' tables)."""
    from moo_hpo.reports.estimates import labelled

    return [
        (labelled(m["metric"], estimates), m["proposals"], _pct(m["within_2sd"]), _or_dash(m["median_abs_z"]), _or_dash(m["mean_z"]))
        if m["proposals"] >= MODEL_CHECK_MIN_PROPOSALS
        else (labelled(m["metric"], estimates), m["proposals"], f"too few proposals to judge (fewer than {MODEL_CHECK_MIN_PROPOSALS})", "—", "—")
        for m in check.get("summary", [])
    ]


#: Below this many model proposals the model check's shares and z-scores say nothing.
MODEL_CHECK_MIN_PROPOSALS = 5


def model_check_text(check: dict[str, Any]) -> str:
    """One sentence on the failure model's record, or an empty string."""
    f = check.get("failures")
    if not f:
        return ""
    return (f"Failure model: {f['scored']} proposals scored; of {f['risky']} given a failure probability of 50% or more, "
            f"{f['risky_failed']} failed; of the other {f['safe']}, {f['safe_failed']} failed.")


#: The heading of the repeated-runs section (HTML and Markdown).
REPEATED_RUNS_TITLE = "Repeated runs"


def _mean_sd(mean: float, sd: float | None) -> str:
    return f"{mean:.4g} (one run)" if sd is None else f"{mean:.4g} ± {sd:.2g}"


def repeated_runs_header(section: dict[str, Any]) -> list[str]:
    """The repeated-runs table's header: trial, configuration, runs, one mean ± sd column per objective,
    P(dominated) and the model's prediction."""
    objectives = [f"{shown_name(o)} ({'max' if o['direction'] == 'maximize' else 'min'}), mean ± sd" for o in section["objectives"]]
    return ["trial", "configuration", "runs", *objectives, "P(dominated)", "model's prediction (before the run)"]


def repeated_runs_rows(section: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The repeated-runs table, one formatted row per configuration (see :func:`repeated_runs_header`)."""
    names = [o["name"] for o in section["objectives"]]
    rows = []
    for m in section["members"]:
        std = m["std"] or {}
        runs = f"{m['runs']}" + (f" ({m['feasible_runs']} feasible)" if m["feasible_runs"] < m["runs"] else "")
        predicted = m.get("predicted") or {}
        prediction = "; ".join(f"{n} {_mean_sd(predicted[n]['mean'], predicted[n]['std'])}" for n in names if n in predicted) or "-"
        trial = f"#{m['number']}" + ("" if m["on_front"] else " (off the single-run front)")
        rows.append((trial, ", ".join(f"{k}={choice_text(v)}" for k, v in m["config"].items()), runs,
                     *[_mean_sd(m["mean"][n], std.get(n)) for n in names], _pct(m["p_dominated"]), prediction))
    return rows


def repeated_runs_text(section: dict[str, Any]) -> str:
    """The sentences above the repeated-runs table: what it means, the noise check's verdict per metric (when a
    Bayesian optimizer made one), and why P(dominated) is missing, if it is."""
    note = section["meaning"]
    verdict = section.get("noise_verdict")
    if verdict:
        note += " The noise check's verdict: " + ", ".join(f"{name} {v}" for name, v in verdict.items()) + "."
        if all(str(v).startswith("exact") for v in verdict.values()):  # the advice above is for noisy metrics
            note += " Every metric came out exact: one run tells a configuration's value, and nothing needs running again."
    if all(m["p_dominated"] is None for m in section["members"]):
        note += " No configuration has two complete runs yet, so there is no noise estimate and no P(dominated)."
    return note


def constraint_table(summary: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The constraints table: header and one row per constraint (None where nothing was measured); the column
    of trials a pruner stopped for breaking a hard bound appears when there are any."""
    stopped = any(s.get("stopped_early") for s in summary)
    header = ["constraint", "measured", "satisfied", "worst violation", "skipped before training"]
    header += ["stopped early for it"] if stopped else []
    rows = [(s["text"], s["measured"], s["satisfied"], s["worst_violation"], s["skipped_before_training"],
             *([s.get("stopped_early", 0)] if stopped else [])) for s in summary]
    return header, rows


#: The header of :func:`workers_rows`' table.
WORKERS_HEADER = ("worker", "host", "trials", "complete", "failed", "pruned", "seconds in trials")


def workers(trials: Sequence[Trial]) -> list[dict[str, Any]]:
    """Per Dask worker that ran trials (``extra["worker"]``): ``worker`` (its name, which a restarted worker keeps,
    else its address), ``host``, ``trials``, ``complete``, ``failed``, ``pruned`` and ``seconds`` (the trials' time on
    their workers, ``extra["worker"]["run_seconds"]``, without time queued; None where no trial of the row says:
    a lost worker's trial does not, and its duration would count the time it waited for workers to restart); trials
    whose workers were lost count under ``"(lost)"``. Empty when no trial ran on a cluster."""
    rows: dict[str, dict[str, Any]] = {}
    for t in trials:
        extra = t.extra if isinstance(t.extra, dict) else {}
        where = extra.get("worker") if isinstance(extra.get("worker"), dict) else {}
        key = where.get("name") or where.get("worker") or ("(lost)" if "worker_lost" in extra else None)
        if key is None:
            continue
        row = rows.setdefault(key, {"worker": key, "host": where.get("host"), "trials": 0, "complete": 0, "failed": 0,
                                    "pruned": 0, "seconds": None})
        row["trials"] += 1
        if t.status.value in row:
            row[t.status.value] += 1
        ran = where.get("run_seconds")  # its time on the worker, without the time it waited for one
        if isinstance(ran, (int, float)):
            row["seconds"] = (row["seconds"] or 0.0) + float(ran)
    return list(rows.values())


def workers_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The workers table (trials on a Dask cluster), one formatted row per worker."""
    return [(r["worker"], r["host"] or "—", r["trials"], r["complete"], r["failed"], r["pruned"],
             "—" if r["seconds"] is None else f"{r['seconds']:.1f}") for r in rows]  # a lost worker's: not known


#: The header of :func:`device_sizing_rows`' table.
DEVICE_SIZING_HEADER = ("device", "budgets", "chosen trial", "models that fit", "why")


def device_sizing_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The device-sizing table, one formatted row per device (from ``SizingTable.summary_rows``)."""
    def chosen(r: dict[str, Any]) -> str:
        if r["best_trial"] is None:
            return "none fits"
        return f"#{r['best_trial']}" + (f" ({r['figures']})" if r.get("figures") else "")

    return [(r["device"], r["budgets"], chosen(r), r["n_fitting"], r["reason"]) for r in rows]


def count_cards(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The HTML report's count cards: (label, value); pruned once the study stopped or reported any trial; running and
    interrupted when there are any."""
    c = data["counts"]
    cards = [("trial" if c["total"] == 1 else "trials", c["total"]), ("complete", c["complete"]), ("feasible", c["feasible"]),
             ("on the front", len(data["front"]))]
    if c.get("pruned") or (data.get("learning_curves") or {}).get("trials"):
        cards.append(("pruned", c.get("pruned", 0)))
    unfinished = [(s, c[s]) for s in ("running", "interrupted") if c.get(s)]  # stopped or still going: said, not hidden
    if c.get("left_running"):  # no process runs them: the study's run was killed
        unfinished = [("running when the study's run stopped" if s == "running" else s, v) for s, v in unfinished]
    return cards + [("failed", c["failed"]), ("skipped before training", c["infeasible_skipped"])] + unfinished


#: The Bayesian optimizers' steps under a time share, and what each is, as the report names them.
_STEPS = {"full": "by full model steps", "economy": "by economy steps (the last fit's model)",
          "mutation": "by mutation of front configurations (no model)"}


def optimizer_text(optimizer: Mapping[str, Any]) -> str:
    """The optimizer and why it was chosen, or that none was chosen yet (a study that never proposed); with how many
    proposals each of its steps made where some were not full model steps (its time share spent)."""
    if not optimizer.get("name"):
        return "none chosen yet (no trial proposed)"
    text = f"{optimizer['name']} ({optimizer.get('reason') or 'no reason recorded'})"
    by = optimizer.get("trials_by") or {}
    if set(by) - {optimizer["name"]}:  # trials from another optimizer (an earlier run), queued or run again
        text += "; trials proposed by " + ", ".join(f"{name}: {n}" for name, n in by.items())
    steps = optimizer.get("steps") or {}
    if set(steps) - {"full"}:  # its time share spent: the model made fewer proposals than its name says
        text += ("; its proposals after the initial design: " + ", ".join(f"{n} {_STEPS.get(s, s)}" for s, n in steps.items())
                 + " (the optimizer's time share decides the step)")
    return text
