"""What a report says, gathered once from a study: plain, JSON-able data for every renderer."""

from __future__ import annotations

import platform
import re
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo import robust
from moo_hpo.exceptions import MooHpoError, NoFeasibleTrialError
from moo_hpo.reports.estimates import estimates_note, shown_name
from moo_hpo.reports.model_check import model_check
from moo_hpo.reports.savings import COMPUTE_RULE, compute_saved
from moo_hpo.reports.sections import workers  # re-exported: the report data's workers section
from moo_hpo.timing import time_figures, time_text
from moo_hpo.trial import Trial, TrialStatus, config_key
from moo_hpo.values import choice_text

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = [
    "COMPUTE_RULE", "FRONT_BY_MODEL", "HV_MEANING", "NOISE_CHECK_MEANING", "RECOMMENDATIONS_GUIDE",
    "RECOMMENDATIONS_GUIDE_MODEL", "REPEATS_MEANING",
    "collect", "compute_saved", "front_table", "learning_curves", "noise_verdict", "repeated_runs", "time_text",
]

#: What the normalized hypervolume says, for readers who do not know the measure.
HV_MEANING = (
    "The normalized hypervolume is the share (0 to 1) of the box between the best value reached in each "
    "objective and the reference point that the feasible trials dominate, counting the trials better than the "
    "reference point in every objective (the others add nothing, and their values set no corner of the box): "
    "higher means a front that is both better and more complete. 1 would mean one of those trials was best in "
    "every objective at once; the raw value is "
    "the same area (or volume) in the metrics' own units. The normalized value is relative to this study's own "
    "best values, so it does not compare between studies (a front of one point scores 1); to compare studies, "
    "compare their raw values against one reference point."
)

def _without_figures(reason: str) -> str:
    """A recommendation's reason without the trial's figures in parentheses (``best size_kb (accuracy=0.8, ...)``
    -> ``best size_kb``), for a row that said them with its first method."""
    return re.sub(r" \((?:[^()=]+=[^()]*)\)", "", reason, count=1)


#: How to read the recommended operating points (shown above their table).
RECOMMENDATIONS_GUIDE = (
    "Which to pick: the knee is the balanced choice, where giving up a little of one objective stops buying much of "
    "another; each 'best' row is the extreme of one objective (within the objectives' ref=, where given); with weights, the ASF row follows your priorities. "
    "All are trials on the front, starred in the figures above."
)

#: The guide instead, when the front is judged by the model and a recommendation lies off it.
RECOMMENDATIONS_GUIDE_MODEL = (
    "Which to pick: the knee is the balanced choice, where giving up a little of one objective stops buying much of "
    "another; each 'best' row is the extreme of one objective (within the objectives' ref=, where given); with weights, the ASF row follows your priorities. "
    "They are chosen on the measurements, while the front below is judged by the model's estimates: a row marked "
    "'off the model's front' measured well once, but the model expects another trial to do at least as well in "
    "every objective; prefer a row on the front, or run it again (study.reevaluate) before choosing it."
)

#: Added to :data:`HV_MEANING` when the front is one trial.
SINGLE_POINT_NOTE = (
    " With a single trial on the front the normalized value is 1 by construction: that trial is the best value "
    "reached in every objective."
)
#: :data:`SINGLE_POINT_NOTE` where the report's front is the model's (several trials) and the hypervolume's, of the
#: trials as measured, holds one: ``{number}`` that trial
SINGLE_MEASURED_NOTE = (
    " The hypervolume is of the trials as measured, each run on its own, whose front is one trial, #{number}: the "
    "normalized value is 1 by construction (its measurements are the best value reached in every objective), "
    "whatever the model's front below holds.{mean}"
)


#: What the report says when the front is judged by the model's estimates (the metrics showed noise).
FRONT_BY_MODEL = (
    "The metrics are noisy (a configuration measured twice gave different values), so the front is judged by a "
    "model's estimates, not by single runs, which would favour lucky draws: a Gaussian process per objective over "
    "every complete trial, and the feasible trials whose estimates no other trial's dominate (study.model_front()). "
    "Each front trial shows what it measured and the model's estimate with its standard deviation; the "
    "hypervolume judges the measurements, each run on its own, and the recommendations the measurements too (a "
    "configuration run more than once, on the mean of its runs)."
)

#: What the repeated-runs section says, for readers who do not know why configurations run again.
REPEATS_MEANING = (
    "Under noise one run of a configuration can come out better than the configuration does on average, and the "
    "Pareto front of single runs favours such runs. The front's configurations were therefore run again "
    "(study.reevaluate); per configuration, this table gives the mean and standard deviation of each objective over "
    "its complete runs, and P(dominated): how likely another configuration of the table is better on average. A "
    "front member with a high probability of being dominated may be a lucky draw: prefer configurations with a low "
    "one, or run the doubtful ones again. The model's prediction, when a Bayesian optimizer proposed the "
    "configuration, is what it expected before the first run."
)

#: The repeated-runs section's first sentences when the only repetitions are the Bayesian optimizer's noise check.
NOISE_CHECK_MEANING = (
    "The Bayesian optimizer ran one configuration a second time to tell whether the metrics are noisy (its noise "
    "check; the audit trail of each later trial says which metrics it treats as exact). Under noise one run of a "
    "configuration can come out better than the configuration does on average, and the Pareto front of single runs "
    "favours such runs. Per configuration, this table gives the mean and standard deviation of each objective over "
    "its complete runs, and P(dominated): how likely another configuration of the table is better on average (with "
    "one configuration run twice, a rough estimate). To judge the front's configurations on several runs each, run "
    "them again with study.reevaluate."
)

_VERSIONED = ("moo_hpo", "numpy", "pymoo", "moocore", "botorch", "torch", "fairlearn", "scikit-learn", "plotly")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _param_text(p: Mapping[str, Any]) -> str:
    kind = p["type"]
    if kind == "categorical":
        text = "one of " + ", ".join(repr(c) for c in p["choices"])
    else:
        text = f"{kind} in [{p['low']:g}, {p['high']:g}]" + (" (log)" if p.get("log") else "")
        if kind == "int" and p.get("step", 1) != 1:
            text += f" step {p['step']}"
    if p.get("active_if"):
        text += " when " + " and ".join(f"{k} in {v!r}" for k, v in p["active_if"].items())
    return text


def collect(study: Study, weights: Mapping[str, float] | Sequence[float] | None = None, devices: Any = None) -> dict[str, Any]:
    """Everything a report shows, as JSON-able data (user strings unescaped: renderers escape them).

    ``devices``: device profiles (or a sizing table of them) for the device-sizing section, or None.

    Metrics the trials estimated rather than measured (energy from ``watts=...`` without a counter) are listed in
    ``estimated_metrics`` (name -> label, :func:`moo_hpo.objectives.energy.estimated_metrics`), and carry their label
    where they appear: an objective entry's ``estimated``, a constraint's ``text``, the recommendations' guide, the
    device sizing's figures.
    """
    problem = study.problem
    trials = study.trials
    complete = [t for t in trials if t.status is TrialStatus.COMPLETE]
    basis = study.front_basis()
    front = study.pareto_front(by=basis)
    front_numbers = {t.number for t in front}
    feasible_numbers = {t.number for t in study.feasible_trials()}
    finished = [t for t in trials if t.status is not TrialStatus.RUNNING]  # an interrupted one may have no end time
    optimizer = study.optimizer_info  # stored metadata: a report never sets up the optimizer
    from moo_hpo.objectives.energy import estimated_metrics

    estimated = estimated_metrics(trials)  # energy from watts=... without a counter: labelled wherever shown

    def marked(text: str, metric: str) -> str:  # a constraint's text, with its metric's estimate label
        return f"{text} ({estimated[metric]})" if metric in estimated else text

    data: dict[str, Any] = {
        "name": study.name,
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "space": [{"name": n, "domain": _param_text(p)} for n, p in study.space.to_dict()["params"].items()],
        "rules": [r.name for r in study.space.rules],
        "objectives": [{"name": o.name, "direction": o.direction, "ref": o.ref,
                        **({"estimated": estimated[o.name]} if o.name in estimated else {})} for o in study.objectives],
        "constraints": [{"name": c.name, "text": marked(c.describe(), c.name), "hard": c.hard} for c in study.constraints],
        "estimated_metrics": estimated,
        "optimizer": {"name": optimizer.get("name"), "reason": optimizer.get("reason"),
                      "trials_by": dict(Counter(_source(t) for t in trials if t.optimizer).most_common()),
                      "steps": _steps([t for t in trials if t.optimizer == optimizer.get("name")])},
        "seed": study.seed,
        "versions": _versions(),
        "counts": {s.value: study.count(s) for s in TrialStatus} | {"total": len(trials), "feasible": study.n_feasible,
                                                                    "left_running": len(study.left_running())},
        "time": time_figures(finished),
    }
    rows = []
    for t in trials:
        rows.append(
            {
                "number": t.number,
                "status": t.status.value,
                "config": t.config,
                "metrics": t.metrics,
                "feasible": t.number in feasible_numbers,
                "on_front": t.number in front_numbers,
            }
        )
    data["trials"] = rows
    data["front"] = [r for r in rows if r["on_front"]]
    data["front_basis"] = basis if front else "measured"
    if data["front_basis"] == "model":
        estimates = {m.trial.number: m for m in study.model_front()}
        for r in data["front"]:
            m = estimates[r["number"]]
            r["estimate"] = {n: {"mean": m.estimate[n], "std": m.std[n]} for n in m.estimate}
    # reference point and hypervolume
    try:
        ref = study.reference_point
        with warnings.catch_warnings():  # a hypervolume of 0 is explained in the report itself (below)
            warnings.filterwarnings("ignore", message="no feasible trial is better than the reference point")
            value = study.hypervolume() if feasible_numbers else 0.0
            normalized = study.hypervolume(normalized=True) if feasible_numbers else 0.0
        data["hypervolume"] = {
            "reference_point": ref,
            "frozen": study.reference_point_frozen,
            "set_by_user": bool(study._reference.set_by_hand),  # study.set_reference_point's, in force
            "set_names": study._reference.set_by_hand,  # the objectives whose values it set
            "value": value,
            "normalized": normalized,
            "meaning": HV_MEANING,
            "history": [float(v) for v in study.hypervolume_history()],
        }
        hv = data["hypervolume"]
        measured_front = study.pareto_front(by="measured")
        if hv["normalized"] == 1.0 and len(measured_front) == 1:
            if data["front_basis"] == "model" and len(data["front"]) > 1:
                lone = measured_front[0]
                root = lone.extra.get("repeat_of", lone.number)  # the configuration's first trial (the lone one a repeat)
                runs = [t for t in trials if t.status is TrialStatus.COMPLETE
                        and (t.number == root or t.extra.get("repeat_of") == root)]
                mean = (f" Its configuration ran {len(runs)} times to completion; the recommendations judge it on the mean of "
                        "its runs."
                        if len(runs) > 1 else "")
                hv["meaning"] += SINGLE_MEASURED_NOTE.format(number=lone.number, mean=mean)
            else:
                hv["meaning"] += SINGLE_POINT_NOTE
        if feasible_numbers and hv["value"] == 0.0:  # said here, not only in a warning the reader never sees
            hv["meaning"] = (f"0 because no feasible trial is better than the reference point in every objective: a "
                             f"reference value (an objective's ref=, or study.set_reference_point) beyond what the trials "
                             f"reach leaves no box to measure; loosen it to compare these trials. {hv['meaning']}")
        # the same history on the headline's scale: the raw values over the volume of the box that normalizes
        scale = hv["value"] / hv["normalized"] if hv["normalized"] > 0 else 0.0
        hv["history_normalized"] = [v / scale if scale > 0 else 0.0 for v in hv["history"]]
    except MooHpoError as exc:
        data["hypervolume"] = {"reference_point": None, "value": None, "history": [], "note": str(exc)}
    # constraints
    summary = []
    skipped = [t for t in trials if t.status is TrialStatus.INFEASIBLE_SKIPPED]
    pruned = [t for t in trials if t.status is TrialStatus.PRUNED]
    for c in study.constraints:
        # complete trials, those skipped before training on what they measured then, and pruned ones on what they
        # reported last (a trial a pruner stopped for breaking the bound measured it)
        values = np.array([t.metrics[c.name] for t in [*complete, *skipped, *pruned] if c.name in t.metrics], dtype=float)
        g = np.array([c.value(v) for v in values])
        summary.append(
            {
                "text": marked(c.describe(), c.name),
                "hard": c.hard,
                "measured": int(len(values)),
                "satisfied": int((g <= 0).sum()),
                "worst_violation": (float(g.max()) if g.max() > 0 else 0.0) if len(g) else None,  # None: none measured
                "skipped_before_training": sum(
                    1 for t in trials if t.status is TrialStatus.INFEASIBLE_SKIPPED and c.name in t.metrics and c.value(t.metrics[c.name]) > 0
                ),
                # pruned trials whose last report broke it (a pruner stops such a trial at once)
                "stopped_early": sum(1 for t in trials if c.hard and t.status is TrialStatus.PRUNED and t.reports
                                     and c.name in t.reports[-1]["metrics"] and c.value(t.reports[-1]["metrics"][c.name]) > 0),
            }
        )
    data["constraint_summary"] = summary
    # recommendations
    front_configurations = {config_key(t.config) for t in front}  # a configuration run again is one member
    recs: list[dict[str, Any]] = []
    data["no_recommendation"] = None if feasible_numbers else "No feasible trial yet: nothing to recommend."
    recommended = []
    if feasible_numbers:
        try:
            recommended = study.recommendations(weights=weights)
        except NoFeasibleTrialError as exc:  # feasible trials, but no configuration feasible on the mean of its runs
            data["no_recommendation"] = f"Nothing to recommend: {exc}."
    if recommended:
        cautions: dict[int, str] = {}  # said once per trial, after every method's reason
        for r in recommended:
            label = r.reason.split(" (")[0] if r.method == "best" else r.method  # "best accuracy"
            reason = r.reason if r.caution is None else r.reason.removesuffix(f". CAUTION: {r.caution}")
            if r.caution is not None:
                cautions[r.trial.number] = r.caution
            same = next((x for x in recs if x["number"] == r.trial.number), None)
            if same is not None:  # one row per trial, naming every method that chose it (its figures said once)
                same["method"] += f", {label}"
                same["reason"] += f"; {_without_figures(reason)}"
                continue
            on_front = config_key(r.trial.config) in front_configurations
            if not on_front and data["front_basis"] == "model":
                reason += "; off the model's front"
            recs.append({"method": label, "number": r.trial.number, "reason": reason, "config": r.trial.config,
                         "metrics": r.metrics, "runs": r.runs, "on_front": on_front})
        for rec in recs:
            if rec["number"] in cautions:
                rec["reason"] += f"; CAUTION: {cautions[rec['number']]}"
    data["recommendations"] = recs
    data["recommendations_guide"] = (RECOMMENDATIONS_GUIDE_MODEL if any(not r["on_front"] for r in recs)
                                     and data["front_basis"] == "model" else RECOMMENDATIONS_GUIDE)
    if any(r["reason"].startswith("knee: none") for r in recs):  # no bend in this front: its "knee" balances nothing
        data["recommendations_guide"] += (" This front has no knee (its row says why): the row named knee is the "
                                          "point nearest an even trade-off, which may be an extreme of the front.")
    if estimated:  # the rows' reasons quote these figures
        data["recommendations_guide"] += " " + estimates_note(estimated, short=True)
    if devices is not None:
        from moo_hpo.reports.sizing import SizingTable, size_for_devices

        table = devices if isinstance(devices, SizingTable) else size_for_devices(study, devices)
        data["device_sizing"] = table.summary_rows()
    # failures
    data["failures"] = failure_groups(trials)
    data["pruner"] = repr(study.pruner) if getattr(study, "pruner", None) is not None else None
    data["learning_curves"] = learning_curves(study, front_numbers)
    data["compute_saved"] = compute_saved(trials, getattr(study.pruner, "max_resource", None))
    data["problem_signs"] = [o.sign for o in problem.objectives]
    data["model_check"] = model_check(study)
    data["repeated_runs"] = repeated_runs(study)
    for o in (data["repeated_runs"] or {}).get("objectives", []):
        if o["name"] in estimated:
            o["estimated"] = estimated[o["name"]]
    data["workers"] = workers(trials)
    return data


def repeated_runs(study: Study) -> dict[str, Any] | None:
    """The repeated-runs section: the study's robust view (:meth:`moo_hpo.Study.robust_front`) as data.

    Args:
        study: the study.

    Returns:
        None when no trial is a repetition; else ``objectives`` (each ``{"name", "direction"}``), ``repetitions``
        (how many trials are repetitions), ``members`` (:meth:`moo_hpo.robust.RobustMember.to_dict` each, by
        original trial number), ``method`` (how P(dominated) is estimated, in words), ``meaning`` (what the
        section says, in words) and ``noise_verdict`` (:func:`noise_verdict`).
    """
    trials = study.trials
    # a repetition the study's stop interrupted ran nothing to compare (the noise check asks it again)
    repeats = [t for t in trials if robust.root_number(t) != t.number and t.status is not TrialStatus.INTERRUPTED]
    if not repeats:
        return None
    return {
        "objectives": [{"name": o.name, "direction": o.direction} for o in study.objectives],
        "repetitions": len(repeats),
        "members": [m.to_dict() for m in study.robust_front()],
        "method": robust.P_DOMINATED_METHOD,
        "meaning": NOISE_CHECK_MEANING if all(_is_noise_check(t) for t in repeats) else REPEATS_MEANING,
        "noise_verdict": noise_verdict(study),
    }


def noise_verdict(study: Study) -> dict[str, str]:
    """The Bayesian noise check's latest verdict, per metric by its name (``{"roc_auc": "exact"}``), from the
    audit trail of the last proposal that holds one (a study recorded before the names were kept: its
    ``"objective 0"`` and ``"constraint 0"`` named as the study names them); empty without one."""
    from moo_hpo.optimizers.bayesian.noise_check import outcome_names

    for t in reversed(study.trials):
        audit = t.extra.get("optimizer") if isinstance(t.extra, dict) else None
        verdict = audit.get("noise_repeats") if isinstance(audit, dict) else None
        if isinstance(verdict, dict) and verdict:
            names = {f"{kind} {i}": name for (kind, i), name in outcome_names(study.problem).items()}
            return {names.get(str(k), str(k)): str(v) for k, v in verdict.items()}
    return {}


def _source(trial: Trial) -> str:
    """Who proposed a trial, as the report counts it: its optimizer, ``"enqueued"`` for the user's queued
    configurations, ``"run again"`` for an interrupted trial's retry (recorded as enqueued, ``extra["retry_of"]``)."""
    from moo_hpo.retries import RETRY_OF

    return "run again" if isinstance(trial.extra, dict) and RETRY_OF in trial.extra else trial.optimizer


def _is_noise_check(trial: Trial) -> bool:
    """Whether ``trial`` is a Bayesian optimizer's noise check (its proposal's audit trail says so)."""
    audit = trial.extra.get("optimizer") if isinstance(trial.extra, dict) else None
    return isinstance(audit, dict) and "(noise check)" in str(audit.get("acquisition", ""))


def plural(n: int, noun: str) -> str:
    """``"1 trial"``, ``"3 trials"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _steps(trials: Sequence[Trial]) -> dict[str, int]:
    """How many of the Bayesian optimizer's proposals each step made (``extra["optimizer"]["effort"]``: ``full``,
    ``economy``, ``mutation``), most thorough first; empty where none says."""
    efforts = Counter(t.extra["optimizer"].get("effort") for t in trials
                      if isinstance(t.extra, dict) and isinstance(t.extra.get("optimizer"), dict))
    return {step: efforts[step] for step in ("full", "economy", "mutation") if efforts[step]}


def learning_curves(study: Study, front_numbers: set[int] | None = None) -> dict[str, Any]:
    """The intermediate reports of every trial that reported, for the learning-curve figures.

    Args:
        study: the study.
        front_numbers: the numbers of the front's trials (computed from the study when None).

    Returns:
        ``{"metrics": [...], "trials": [...], "rungs": [...]}``: the objectives that any report carries (in the
        study's order, each ``{"name", "direction", "bounds"}``, ``bounds`` the hard constraints on that metric,
        each ``{"value", "text"}``), then the hard-constrained metrics that are no objective (``"constraint": True``,
        their direction the bound's), the pruner's rung steps (empty without rungs), and per trial that reported, in number order, ``number``,
        ``status``, ``on_front``, ``config``, ``steps``, ``values`` (metric name -> one value per step, None
        where a report left the metric out) and ``pruned`` (why the pruner stopped it, or None). Empty lists when
        no trial reported.
    """
    if front_numbers is None:
        front_numbers = {t.number for t in study.pareto_front()}
    reporting = [t for t in study.trials if t.reports]
    reported = {name for t in reporting for r in t.reports for name in r["metrics"]}
    hard = study.problem.hard_constraints
    metrics = [{"name": o.name, "direction": o.direction,
                "bounds": [{"value": c.bound, "text": c.describe()} for c in hard if c.name == o.name]}
               for o in study.objectives if o.name in reported]
    objectives = {o.name for o in study.objectives}
    for name in dict.fromkeys(c.name for c in hard if c.name in reported and c.name not in objectives):
        bounds = [c for c in hard if c.name == name]  # a metric under a hard bound only: the pruner stops on it too
        metrics.append({"name": name, "direction": "maximize" if bounds[0].kind == "at_least" else "minimize",
                        "bounds": [{"value": c.bound, "text": c.describe()} for c in bounds], "constraint": True})
    rows = []
    for t in reporting:
        rows.append({
            "number": t.number,
            "status": t.status.value,
            "on_front": t.number in front_numbers,
            "config": t.config,
            "steps": [r["step"] for r in t.reports],
            "values": {m["name"]: [_number(r["metrics"].get(m["name"])) for r in t.reports] for m in metrics},
            "pruned": t.extra.get("pruned") if t.status is TrialStatus.PRUNED and isinstance(t.extra, dict) else None,
        })
    return {"metrics": metrics, "trials": rows, "rungs": [float(r) for r in getattr(study.pruner, "rung_steps", None) or []]}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def failure_groups(trials: Sequence[Trial]) -> list[dict[str, Any]]:
    """The failed trials grouped by what their reason says apart from its numbers (a loss that diverged at another
    step is one kind, as the command line counts them): per kind, its first trial's reason, how many, and which
    trials (most first)."""
    from moo_hpo.execution.failures import failure_kind

    groups: dict[str, list[Trial]] = {}
    for t in trials:
        if t.status is TrialStatus.FAILED:
            groups.setdefault(failure_kind(t.error or "unknown"), []).append(t)
    ranked = sorted(groups.values(), key=lambda g: (-len(g), g[0].number))
    from moo_hpo.reports.labels import shortened

    return [{"reason": shortened((g[0].error or "unknown").splitlines()[0]), "count": len(g), "trials": [t.number for t in g]}
            for g in ranked]


def trials_text(numbers: Sequence[int], shown: int = 8) -> str:
    """``#3, #5, #9 and 12 more``: which trials, the first few named."""
    named = ", ".join(f"#{n}" for n in numbers[:shown])
    return named + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


def front_table(data: Mapping[str, Any]) -> tuple[list[str], list[list[Any]], list[bool]]:
    """The front trials' table for every renderer: trial, configuration, measured objectives and, when the
    front is judged by the model, each objective's estimate as ``mean ± std``.

    Returns:
        ``(header, rows, numeric)``: ``numeric`` flags the columns to align right.
    """
    params = [p["name"] for p in data["space"]]
    names = [o["name"] for o in data["objectives"]]
    by_model = data.get("front_basis") == "model"
    # an estimated figure with its label, and each objective's direction, as the CLI and the live view give it
    shown = [shown_name(o) for o in data["objectives"]]
    ways = [f" ({'max' if o['direction'] == 'maximize' else 'min'})" for o in data["objectives"]]
    header = ["trial", *params, *(n + w for n, w in zip(shown, ways, strict=True))] + (
        [f"{n} (model)" for n in shown] if by_model else [])
    rows = []
    for r in data["front"]:
        row = ([f"#{r['number']}"] + [choice_text(r["config"][p]) if p in r["config"] else "-" for p in params]
               + [r["metrics"].get(n, "") for n in names])
        if by_model:
            row += [f"{r['estimate'][n]['mean']:.4g} ± {r['estimate'][n]['std']:.2g}" for n in names]
        rows.append(row)
    numeric = [False] * (1 + len(params)) + [True] * (len(header) - 1 - len(params))
    return header, rows, numeric
