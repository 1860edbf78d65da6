"""What the fairness audit knows of its metrics: the gaps' names and definitions, which figures are better higher
or lower (and which names it refuses to audit), where the probe behind a gap stored its per-group tables (a prefixed probe's own key), and what it says of
validation and held-out figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moo_hpo.trial import Trial

__all__ = ["GAP_DEFINITIONS", "GAP_NAMES", "HIGHER_IS_BETTER", "HOLDOUT_NOTE", "LOWER_IS_BETTER", "NO_HOLDOUT_NOTE",
           "check_audited_names", "fairness_extra", "named_as"]

GAP_NAMES = {
    "eo_diff": "equalized-odds gap",
    "eo_ratio": "equalized-odds ratio",
    "dp_diff": "demographic-parity gap",
    "dp_ratio": "demographic-parity ratio",
    "eop_diff": "equal-opportunity gap",
    "tpr_diff": "true-positive-rate gap",
    "fpr_diff": "false-positive-rate gap",
}

#: How each gap is computed from the per-group rates (shown beside the per-group tables).
GAP_DEFINITIONS = {
    "eo_diff": "the larger of the largest between-group differences in true-positive rate (tpr) and in false-positive "
               "rate (fpr)",
    "dp_diff": "the largest between-group difference in selection rate",
    "eop_diff": "the largest between-group difference in true-positive rate (tpr)",
    "tpr_diff": "the largest between-group difference in true-positive rate (tpr)",
    "fpr_diff": "the largest between-group difference in false-positive rate (fpr)",
}

#: Metrics audited as ``accuracy=`` where lower is better, when the study does not say (it has no such objective).
LOWER_IS_BETTER = ("error", "log_loss", "rmse", "mae")
#: the probes' figures where higher is better: never a gap
HIGHER_IS_BETTER = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "r2")


#: What the audit says about its figures when the trials carry held-out metrics ({h_acc}, {h_gap}: their names).
HOLDOUT_NOTE = (
    "Two figures per model. Validation: measured on the data the study selected models on (its probes' "
    "validation data); the models were chosen on these figures, so they are optimistic. Held-out: the same "
    "metrics ({h_acc}, {h_gap}) measured on a held-out split that no choice was made on: expect these on new "
    "data. The choices in the summary are made on validation figures, as the study made them. A model marked "
    "BROKEN ON HELD-OUT meets the bound on validation but not on the held-out data."
)
#: What the audit says about its figures when the trials carry no held-out metrics.
NO_HOLDOUT_NOTE = (
    "All figures are measured on the data the study optimised on (its probes' validation data). The models were "
    "selected on these figures, so they are optimistic: expect somewhat lower {acc} and larger gaps on new data. "
    "To see what to expect, give the probes a held-out split that no choice is made on: "
    "Accuracy(X_val, y_val, holdout=(X_test, y_test)) and FairnessGap(X_val, y_val, sensitive=A_val, "
    "holdout=(X_test, y_test, A_test)) record {h_acc} and {h_gap} with each trial, and the audit then reports "
    "both figures side by side."
)


def named_as(name: str, known: Sequence[str]) -> bool:
    """Whether a metric's name is one of ``known``, or one of them after a probe's prefix (``test_error``)."""
    return any(name == k or name.endswith("_" + k) for k in known)


def fairness_extra(trial: Trial, gap: str) -> dict[str, Any]:
    """The stored data of the ``FairnessGap`` that measured ``gap`` for ``trial`` (its per-group tables), or ``{}``.

    A probe with ``prefix=`` keeps them under ``extra[prefix + "fairness"]``. A gap of another name (one an objective
    of the user's own computed or renamed) takes the tables of the probe that stored its value: another probe's
    tables are another sensitive feature's, or other gaps', and are not shown for it (a record written before probes
    stored their gaps, which cannot tell, falls back to ``extra["fairness"]``). A value that two probes stored (a gap of
    0 for two features) takes neither's tables."""
    from moo_hpo.objectives.fairness import gap_parts

    extra = trial.extra if isinstance(trial.extra, dict) else {}
    prefix = gap_parts(gap)[0]
    found = extra.get(f"{prefix}fairness")
    if isinstance(found, dict) and gap in (found.get("gaps") or {gap: None}):
        return found
    value = trial.metrics.get(gap) if isinstance(trial.metrics, dict) else None
    matching = [tables for key, tables in extra.items()
                if (key == "fairness" or str(key).endswith("_fairness")) and isinstance(tables, dict)
                and isinstance(tables.get("gaps"), dict) and value is not None
                and any(isinstance(v, (int, float)) and abs(v - value) <= 1e-12 for v in tables["gaps"].values())]
    if len(matching) == 1:
        return matching[0]
    if matching:  # the same value from two probes (a gap of 0 from a model that selects no one): cannot tell whose
        return {}
    old = extra.get("fairness")
    return old if isinstance(old, dict) and "gaps" not in old else {}


def check_audited_names(study: Any, accuracy: str, gap: str) -> None:
    """Refuse an audit of a ratio, of a gap and an accuracy swapped, or of held-out figures (chosen on, they would
    not be held out).

    Raises:
        ConfigError: saying what was received and what to audit instead.
    """
    from moo_hpo.exceptions import ConfigError
    from moo_hpo.objectives.accuracy import CLASSIFICATION_METRICS
    from moo_hpo.objectives.fairness import FAIRNESS_METRICS

    if accuracy == gap:
        raise ConfigError(f"fairness_audit reads two metrics, an accuracy and a fairness gap; received {accuracy!r} for both")
    if gap.endswith("_ratio"):
        raise ConfigError(
            f"fairness_audit reads a gap, where lower is fairer; received the ratio {gap!r}, where higher is fairer: "
            f"audit the difference {gap.removesuffix('_ratio') + '_diff'!r} instead"
        )
    maximized = [o.name for o in study.objectives if o.direction == "maximize"]
    # a gap named as a higher-is-better figure (an error or a loss may be a gap: the worst group's error), or an
    # accuracy named as a fairness gap (a probe's prefix allowed: cv_accuracy, sex_eo_diff)
    gap_is_accuracy = gap in CLASSIFICATION_METRICS or named_as(gap, HIGHER_IS_BETTER)
    accuracy_is_gap = named_as(accuracy, FAIRNESS_METRICS)
    if gap in maximized or gap_is_accuracy or accuracy_is_gap:
        said = f"the study maximizes {gap!r}" if gap in maximized else (
            f"{gap!r} is a measure of accuracy" if gap_is_accuracy else f"{accuracy!r} is a fairness gap")
        raise ConfigError(
            f"fairness_audit reads accuracy={accuracy!r} (higher is better, or an error the study minimizes) and "
            f"gap={gap!r} (a gap, where lower is fairer); {said}: were the two swapped? (accuracy={gap!r}, gap={accuracy!r})"
        )
    if gap.startswith("holdout_") or accuracy.startswith("holdout_"):
        raise ConfigError(
            f"fairness_audit chooses on the figures the study selected on; received {accuracy!r} and {gap!r}: audit "
            f"{accuracy.removeprefix('holdout_')!r} and {gap.removeprefix('holdout_')!r}, and their held-out figures "
            "are shown beside them"
        )
