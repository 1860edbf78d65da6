"""Device sizing: per device profile, the best trial that fits its budgets, and what else fits."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moo_hpo.analysis import front_points, no_feasible_reason
from moo_hpo.devices import UNIT_SUFFIXES, DeviceProfile, check_unique_names, profile_from_text
from moo_hpo.choice import best_index
from moo_hpo.exceptions import ConfigError
from moo_hpo.fronts import pareto_mask
from moo_hpo.recommending import pick_within_refs
from moo_hpo.reports.estimates import labelled
from moo_hpo.trial import Trial

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["UNIT_SUFFIXES", "DeviceProfile", "SizingResult", "SizingTable", "device_constraints", "profile_from_text",
           "size_for_devices", "write_csv"]


def device_constraints(profiles: Sequence[DeviceProfile]) -> list[Any]:
    """Hard constraints that let a study skip, before training, the candidates no device can take.

    Per metric that every device budgets, one ``AtMost`` at the loosest of their budgets: a candidate whose size
    (or latency, measured before training) is above every device's budget is never trained. A device without a
    budget on a metric takes any value of it, so that metric gets no constraint. Devices that trade one budget
    against another (one small and slow, one large and fast) leave candidates within the loosest budget of each
    metric that still fit no single device: to skip those too, add the probe
    :class:`~moo_hpo.objectives.DeviceFit` and its :meth:`~moo_hpo.objectives.DeviceFit.constraint`.

    Args:
        profiles: the devices.

    Returns:
        The constraints, in the order size, latency, energy, memory (the metrics each profile names).

    Raises:
        ConfigError: for no devices, or something that is not a :class:`DeviceProfile`.
    """
    from moo_hpo.constraints import AtMost

    if isinstance(profiles, str):
        raise ConfigError(f"device_constraints expects mh.DeviceProfile objects; received the text {profiles!r} (the command "
                          "line's device syntax: in Python, mh.DeviceProfile(name, max_size_kb=...))")
    profiles = list(profiles) if not isinstance(profiles, DeviceProfile) else [profiles]
    if not profiles or not all(isinstance(p, DeviceProfile) for p in profiles):
        raise ConfigError(f"device_constraints expects mh.DeviceProfile objects; received {profiles!r}")
    check_unique_names(profiles)
    budgets: dict[str, list[float]] = {}
    for profile in profiles:
        for metric, bound in profile.limits():
            budgets.setdefault(metric, []).append(bound)
    return [AtMost(metric, max(bounds)) for metric, bounds in budgets.items() if len(bounds) == len(profiles)]


@dataclass
class SizingResult:
    """What fits one device.

    Attributes:
        profile: the device.
        best: the best fitting trial for the chosen objective, or None when nothing fits.
        reason: one line: why this trial, or why none.
        front: the fitting trials that are Pareto-optimal among the fitting ones (judged, like ``best``, on a
            configuration's means; each listed as its original trial, whose own metrics are one run's).
        n_fitting: how many feasible configurations fit (a configuration run again counts once).
        metrics: the figures ``best`` was judged on: its own metrics, or for a configuration run more than once
            (:meth:`~moo_hpo.Study.reevaluate`) the mean of each metric over its complete runs (and, for a size or
            latency measured before training, over its repeats skipped then).
        runs: how many complete runs ``metrics`` summarizes (0 when nothing fits).
        measured_runs: per metric, how many of those runs measured it (fewer than ``runs`` for a metric some runs
            left out; its mean is over those).
        estimates: the study's metrics that its trials estimated rather than measured, each with its label
            (``{"energy_per_inference_j": "estimate: 10 W x time"}``,
            :func:`moo_hpo.objectives.energy.estimated_metrics`); the table's rows and CSV say so.
    """

    profile: DeviceProfile
    best: Trial | None
    reason: str
    front: list[Trial] = field(default_factory=list)
    n_fitting: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    measured_runs: dict[str, int] = field(default_factory=dict)
    estimates: dict[str, str] = field(default_factory=dict)


class SizingTable(list):
    """The :class:`SizingResult` of each device, in order (a list), shown as a table.

    ``print(table)`` and a notebook show one row per device; :meth:`to_dataframe` gives the same rows
    as a DataFrame and :func:`write_csv` writes them.
    """

    def rows(self) -> list[dict[str, Any]]:
        """One dict per device: budgets, best trial, how many fit, why, the best trial's metrics and config; and,
        when the study estimated some of them, ``estimated_metrics`` (``"energy_per_inference_j (estimate: 10 W x
        time)"``; the metrics' own columns keep their names)."""
        out = []
        labels = _estimate_labels(self)
        memory = any(r.profile.max_memory_kb is not None for r in self)
        for r in self:
            p = r.profile
            row: dict[str, Any] = {"device": p.name, "max_size_kb": p.max_size_kb, "max_latency_ms": p.max_latency_ms,
                                   "max_energy_j": p.max_energy_j,
                                   **({"max_memory_kb": p.max_memory_kb} if memory else {}),  # where a device has one
                                   "budget_metrics": ", ".join(metric for metric, _ in p.limits()),  # what each applies to
                                   "best_trial": r.best.number if r.best else None, "runs": r.runs,
                                   "n_fitting": r.n_fitting, "reason": r.reason}
            row.update(r.metrics)
            if labels:
                row[ESTIMATED_COLUMN] = "; ".join(labelled(m, r.estimates) for m in _estimate_labels([r]))
            row["config"] = json.dumps(r.best.config, sort_keys=True) if r.best else ""
            out.append(row)
        return out

    def summary_rows(self) -> list[dict[str, Any]]:
        """One short row per device for a report: device, its budgets in words, the chosen trial and its figures on
        the budgets' metrics (an estimated one with its label: ``energy_per_inference_j 0.012 (estimate: 10 W x
        time)``), how many trials fit, and why."""
        out = []
        for r in self:
            budgets = ", ".join(f"{metric} <= {bound:g}" for metric, bound in r.profile.limits())  # a device has one at least
            shown = [metric for metric, _ in r.profile.limits() if metric in r.metrics]
            partial = r.runs > 1 and any(r.measured_runs.get(m, r.runs) < r.runs for m in shown)

            def figure(metric: str) -> str:  # with how many runs its mean is over, where they differ; an estimate labelled
                runs = f" (mean of {r.measured_runs.get(metric, r.runs)} of {r.runs} runs)" if partial else ""
                estimate = f" ({r.estimates[metric]})" if metric in r.estimates else ""
                return f"{metric} {r.metrics[metric]:.4g}{estimate}{runs}"

            figures = ", ".join(figure(metric) for metric in shown)
            if figures and r.runs > 1 and not partial:
                figures += f" (mean of {r.runs} runs)"
            out.append({"device": r.profile.name, "budgets": budgets, "best_trial": r.best.number if r.best else None,
                        "figures": figures, "n_fitting": r.n_fitting, "reason": r.reason})
        return out

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        frame = pd.DataFrame(self.rows())
        if "best_trial" in frame:  # trial numbers stay integers beside a device that nothing fits
            frame["best_trial"] = frame["best_trial"].astype("Int64")
        return frame

    def __str__(self) -> str:
        return self.to_dataframe().to_string(index=False) if self else "(no devices)"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html(index=False) if self else "<p>(no devices)</p>"


def size_for_devices(study: Study | str | os.PathLike[str], profiles: Sequence[DeviceProfile], objective: str | None = None) -> SizingTable:
    """For each device, the best feasible trial that fits its budgets, and the fitting front.

    A configuration run more than once (its repetitions linked by ``extra["repeat_of"]``, as
    :meth:`~moo_hpo.Study.reevaluate` and the Bayesian noise check record them) is judged once, on the mean of
    each metric over its runs (complete ones, and repeats skipped before training for what they measured): its
    budgets, the study's hard constraints and the objective alike, so a
    lucky run of a configuration that breaks a budget on average is not chosen. It is represented by its
    original trial; :attr:`SizingResult.metrics` holds the means it was judged on.

    Args:
        study: the study (its own hard constraints still apply), or the path of its file (read, not written).
        profiles: the devices (one :class:`DeviceProfile` alone is taken as a list of one).
        objective: the objective to optimize per device (default: the study's first objective).

    Returns:
        A :class:`SizingTable`: one :class:`SizingResult` per profile, in order.

    Raises:
        ConfigError: for an unknown objective, no profiles, or something that is not a study.
    """
    from moo_hpo.study import Study

    if isinstance(study, (str, os.PathLike)):
        with Study.load(study, read_only=True) as stored:
            return size_for_devices(stored, profiles, objective)
    if not isinstance(study, Study):
        raise ConfigError(f"size_for_devices expects a study (mh.Study) or the path of its file; received {study!r}")
    names = [o.name for o in study.objectives]
    objective = objective or names[0]
    if objective not in names:
        raise ConfigError(f"objective must be one of {names}; received {objective!r}")
    from moo_hpo.objectives.energy import estimated_metrics

    estimates = estimated_metrics(study.trials)
    from moo_hpo.robust import has_repeats, root_number, runs_phrase

    candidates = _configurations(study)  # feasible configurations, each as a stand-in trial with its figures
    runs_of = {t.number: (original, runs, counts) for t, original, runs, counts in candidates}
    judged = [t for t, _, _, _ in candidates]
    repeated = has_repeats(study.trials)  # judged as configurations (a repeat's runs in one mean), said so
    unit = "configurations" if repeated else "trials"
    out = SizingTable()
    if isinstance(profiles, DeviceProfile):
        profiles = [profiles]
    if isinstance(profiles, (str, bytes)) or not isinstance(profiles, Iterable):
        hint = ' (a "name:size=...,latency=..." text is the command line\'s form)' if isinstance(profiles, str) else ""
        raise ConfigError(f"profiles must be mh.DeviceProfile(...) or a list of them; received {profiles!r}{hint}")
    if isinstance(profiles, Mapping):  # iterating it would give its keys
        raise ConfigError(f"profiles must be mh.DeviceProfile(...) or a list of them; received a {type(profiles).__name__} "
                          "(its keys would be read as the profiles): pass list(profiles.values())")
    profiles = list(profiles)  # a generator too
    if not profiles:
        raise ConfigError("profiles must name at least one device (mh.DeviceProfile(...)); received none")
    for p in profiles:
        if not isinstance(p, DeviceProfile):
            raise ConfigError(f"profiles must be mh.DeviceProfile(...); received {p!r}")
    check_unique_names(profiles)
    from moo_hpo.trial import TrialStatus

    # never trained, each its own candidate (a repeat skipped so counts in its configuration's means instead)
    skipped = [t for t in study.trials if t.status is TrialStatus.INFEASIBLE_SKIPPED and root_number(t) == t.number]
    for p in profiles:
        fitting = [t for t in judged if p.fits(t)]
        passed_over = sum(p.fits(t) for t in skipped)  # measured before training, within this device's budgets
        never_trained = (f"; the study's hard constraints skipped before training {passed_over} candidate"
                         f"{'s' if passed_over != 1 else ''} this device takes" if passed_over else "")
        if not fitting:
            limits = ", ".join(f"{m} <= {b:g}" for m, b in p.limits()) or "no limits"
            unmeasured = [m for m, _ in p.limits() if judged and not any(m in t.metrics for t in judged)]
            why = f"no feasible {'configuration' if repeated else 'trial'} fits {limits} ({len(candidates)} feasible {unit.removesuffix('s') if len(candidates) == 1 else unit})"
            if unmeasured:
                measured = sorted({m for t in judged for m in t.metrics})
                why += f"; no trial measured {unmeasured} (the trials measure {measured})"
            why += _nearest_text(p, judged, runs_of, study.trials)
            if not candidates and study.n_feasible:  # feasible runs, but no configuration on the mean of its runs
                why += "; no configuration is feasible on the mean of its runs"
            elif not candidates and study.trials:
                why += f"; {no_feasible_reason(study.problem, study.trials)[0]}"
            out.append(SizingResult(p, None, why + never_trained + _elsewhere_text(p, study.trials), [], 0, estimates=dict(estimates)))
            continue
        Y = study.problem.objective_matrix(fitting)
        front = [t for t, k in zip(fitting, pareto_mask(Y), strict=True) if k]
        # from the fitting front: of trials equal in the objective, the one with the smallest sum of normalized
        # objectives; within the objectives' ref= when some fitting trial is, except a ref on a metric the device
        # budgets (its budget rules there; study.recommend, with no device, keeps every ref)
        def pick(candidates: list[Trial]) -> tuple[Trial, str]:
            front_idx, Yf = front_points(study.problem, candidates)
            return candidates[int(front_idx[best_index(Yf, names.index(objective))[0]])], ""

        chosen, _, within = pick_within_refs(study.problem, fitting, pick, budgeted=[m for m, _ in p.limits()])
        best, runs, counts = runs_of[chosen.number]
        said = runs_phrase(counts.get(objective, runs), runs)
        value = f"{chosen.metrics[objective]:.4g}" + (f", {said}" if said else "")
        reason = f"best {objective} ({value}) of {len(fitting)} fitting {unit.removesuffix('s') if len(fitting) == 1 else unit}"
        reason += f" ({within})" if within else ""
        tighter = [c.describe() for c in study.problem.hard_constraints if c.kind == "at_most"
                   and c.name in {m for m, _ in p.limits()} and c.bound < dict(p.limits())[c.name]]
        if tighter:  # the device would take more than the study let through
            reason += f" (the study's own limit {', '.join(tighter)} is tighter than this device's budget)"
        reason += never_trained + _elsewhere_text(p, study.trials)  # a DeviceFit of other devices, say: better ones may lie there
        out.append(SizingResult(p, best, reason, [runs_of[t.number][0] for t in front], len(fitting),
                                dict(chosen.metrics), runs, counts, dict(estimates)))
    return out


def _elsewhere_text(profile: DeviceProfile, trials: Sequence[Trial]) -> str:
    """``"; latency measured on cpu, not on this device's cuda"``: a latency budget judged on figures the Latency
    probe of its metric's prefix measured (``extra[prefix]["device"]``) on another kind of device than the profile's;
    empty otherwise (or when no trial says where)."""
    metric = profile.latency_metric
    suffix = next((s for s in ("_p50_ms", "_p90_ms", "_p99_ms", "_mean_ms") if metric.endswith(s)), None)
    if profile.max_latency_ms is None or suffix is None:
        return ""
    prefix = metric.removesuffix(suffix)  # Latency(prefix=...) keeps its record under extra[prefix]
    kinds = sorted({str(t.extra[prefix].get("device", "")).split(":")[0] for t in trials
                    if isinstance(t.extra, dict) and isinstance(t.extra.get(prefix), dict)} - {""})
    wanted = profile.device.split(":")[0]
    return f"; latency measured on {' and '.join(kinds)}, not on this device's {wanted}" if kinds and wanted not in kinds else ""


def _nearest_text(profile: DeviceProfile, judged: Sequence[Trial], runs_of: dict[int, Any], trials: Sequence[Trial]) -> str:
    """``"; the nearest: trial #6 (latency_p99_ms 0.0246, skipped before training)"``: the trial closest to a device's
    budgets that it does not take, by the largest share of a budget it exceeds; among the feasible configurations
    (``judged``, on their means), else, with none, among the trials that measured the budgets' metrics, complete or
    skipped before training. ``""`` when none measured every budget's metric, or the nearest fits the device (the
    study's own constraints kept it out: said apart)."""
    from moo_hpo.trial import TrialStatus

    limits = profile.limits()
    pool = list(judged) or [t for t in trials if t.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE_SKIPPED)]
    pool = [t for t in pool if all(m in t.metrics and math.isfinite(t.metrics[m]) for m, _ in limits)]
    if not pool or not limits:
        return ""

    def excess(t: Trial) -> float:
        return max((t.metrics[m] - b) / b if b > 0 else t.metrics[m] - b for m, b in limits)

    near = min(pool, key=lambda t: (excess(t), t.number))
    if profile.fits(near):
        return ""
    def beside(x: float, bound: float) -> str:  # 4 digits, or the more that tell it from the budget
        return next((f"{x:.{d}g}" for d in range(4, 10) if f"{x:.{d}g}" != f"{bound:.{d}g}"), f"{x:g}")

    figures = ", ".join(f"{m} {beside(near.metrics[m], b)}" for m, b in limits)
    if judged:
        original, runs, _ = runs_of[near.number]
        number, note = original.number, f", mean of {runs} runs" if runs > 1 else ""
    else:
        number = near.number
        note = ", skipped before training" if near.status is TrialStatus.INFEASIBLE_SKIPPED else ", infeasible"
    return f"; the nearest: trial #{number} ({figures}{note})"


def _configurations(study: Study) -> list[tuple[Trial, Trial, int, dict[str, int]]]:
    """The study's feasible configurations, each judged on the mean of its runs (:func:`~moo_hpo.robust.judged_configurations`)."""
    from moo_hpo.robust import judged_configurations

    return judged_configurations(study.problem, study.trials)


#: The sizing table's column naming the estimated figures, where the study estimated some (energy from ``watts=...``).
ESTIMATED_COLUMN = "estimated_metrics"


def _estimate_labels(results: Sequence[SizingResult]) -> dict[str, str]:
    """The estimated metrics of any of ``results`` that budget or report them, with their labels."""
    out: dict[str, str] = {}
    for r in results:
        budgeted = {m for m, _ in r.profile.limits()}
        out.update({m: label for m, label in r.estimates.items() if m in r.metrics or m in budgeted})
    return out


def write_csv(results: Sequence[SizingResult], path: str | os.PathLike[str]) -> Path:
    """One row per device: budgets, best trial, the runs and metrics it was judged on, which of those metrics the
    study estimated rather than measured (``estimated_metrics``, only when it estimated any), its configuration (as
    JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = SizingTable(results).rows()
    metric_names = sorted({m for r in results for m in r.metrics})
    estimated = [ESTIMATED_COLUMN] if _estimate_labels(results) else []  # a column only where a figure is an estimate
    memory = ["max_memory_kb"] if any(r.profile.max_memory_kb is not None for r in results) else []
    header = ["device", "max_size_kb", "max_latency_ms", "max_energy_j", *memory, "budget_metrics", "best_trial", "runs", "n_fitting", "reason",
              *metric_names, *estimated, "config"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if row.get(k) is None else row.get(k, "") for k in header])
    return path
