"""The report's model check: a Bayesian optimizer's predictions for its proposals set beside what they measured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.trial import TrialStatus

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["model_check"]


def model_check(study: Study) -> dict[str, Any]:
    """Predicted vs. measured for the proposals of a Bayesian optimizer (its audit trail).

    Each proposal's ``extra["optimizer"]["predicted"]`` holds the model's mean and standard deviation per
    objective (soft-constraint penalties included, as the optimizer models it) and per hard-constrained
    metric, in the metric's units; here each is set beside what was measured, with
    ``z = (measured - mean) / std``. A calibrated model has about 95% of ``|z|`` within 2 and a median
    ``|z|`` near 0.67; a positive mean ``z`` says the measurements came out above the predictions.
    The failure model's ``failure_probability`` is compared with which proposals failed.
    """
    problem = study.problem
    objectives = {o.name: (j, o.sign) for j, o in enumerate(problem.objectives)}
    rows: list[dict[str, Any]] = []
    scored: list[tuple[float, bool]] = []  # (predicted failure probability, failed)
    for t in study.trials:
        audit = t.extra.get("optimizer") if isinstance(t.extra, dict) else None
        if not isinstance(audit, dict):
            continue
        if audit.get("failure_probability") is not None and t.is_finished:
            scored.append((float(audit["failure_probability"]), t.status is TrialStatus.FAILED))
        predicted = audit.get("predicted") or {}
        if not predicted or t.status not in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE_SKIPPED):
            continue
        penalized = None
        for name, pred in predicted.items():
            if name in objectives:  # an objective: compare with the penalized value the model learned
                if t.status is not TrialStatus.COMPLETE:
                    # skipped before training, having measured it (a size both minimized and bounded): comparable
                    # while no soft constraint penalizes the objectives
                    if name not in t.metrics or problem.soft_constraints:
                        continue
                    measured = float(t.metrics[name])
                else:
                    if penalized is None:
                        penalized = problem.objective_matrix([t], penalized=True)[0]
                    j, sign = objectives[name]
                    measured = float(sign * penalized[j])
            elif name in t.metrics:
                measured = float(t.metrics[name])
            else:
                continue
            mean, std = float(pred["mean"]), float(pred["std"])
            if not (np.isfinite(measured) and np.isfinite(mean) and np.isfinite(std)):
                continue
            z = (measured - mean) / std if std > 0 else None
            rows.append({"number": t.number, "metric": name, "mean": mean, "std": std, "measured": measured, "z": z,
                         "acquisition": audit.get("acquisition")})
    summary = []
    for name in dict.fromkeys(r["metric"] for r in rows):
        zs = np.array([r["z"] for r in rows if r["metric"] == name and r["z"] is not None], dtype=float)
        summary.append({
            "metric": name,
            "proposals": sum(1 for r in rows if r["metric"] == name),
            "within_2sd": float(np.mean(np.abs(zs) <= 2.0)) if len(zs) else None,
            "median_abs_z": float(np.median(np.abs(zs))) if len(zs) else None,
            "mean_z": float(np.mean(zs)) if len(zs) else None,
        })
    failures = None
    if scored:
        risky = [failed for p, failed in scored if p >= 0.5]
        safe = [failed for p, failed in scored if p < 0.5]
        failures = {"scored": len(scored), "risky": len(risky), "risky_failed": sum(risky),
                    "safe": len(safe), "safe_failed": sum(safe)}
    return {"rows": rows, "summary": summary, "failures": failures}
