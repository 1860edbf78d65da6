"""Fairness gaps through fairlearn, with the per-group table kept for the fairness audit.

Metric names (all computed by fairlearn on the same predictions):

========== ==========================================================
``dp_diff`` demographic parity difference (selection rates)
``dp_ratio`` demographic parity ratio
``eo_diff`` equalized odds difference (max of the TPR and FPR gaps)
``eo_ratio`` equalized odds ratio
``eop_diff`` equal opportunity difference (TPR gap)
``tpr_diff`` true positive rate difference
``fpr_diff`` false positive rate difference
========== ==========================================================

With several sensitive features, groups are their intersections. ``extra["fairness"]["by_group"]``
holds, per group, the count, accuracy, selection rate, TPR and FPR (fairlearn ``MetricFrame``).

``FairnessGap(X_val, y_val, sensitive=A_val, holdout=(X_test, y_test, A_test))`` also measures the gaps on
a held-out split, recorded as ``holdout_<metric>`` (``holdout_eo_diff`` ...), with that split's per-group
table in ``extra["fairness"]["holdout_by_group"]`` (see :mod:`moo_hpo.objectives.holdout`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import Measurement, Probe, check_rows, check_threshold, predict_labels
from moo_hpo.objectives.holdout import holdout_name, holdout_split

__all__ = ["FAIRNESS_METRICS", "FairnessGap", "fairness_metrics", "group_table"]

FAIRNESS_METRICS = ("dp_diff", "dp_ratio", "eo_diff", "eo_ratio", "eop_diff", "tpr_diff", "fpr_diff")


def fairness_metrics(y_true: Any, y_pred: Any, sensitive: Any, metrics: Iterable[str] = FAIRNESS_METRICS) -> dict[str, float]:
    """The fairness gaps of predictions, by fairlearn."""
    from fairlearn import metrics as fm

    fns = {
        "dp_diff": fm.demographic_parity_difference,
        "dp_ratio": fm.demographic_parity_ratio,
        "eo_diff": fm.equalized_odds_difference,
        "eo_ratio": fm.equalized_odds_ratio,
        "eop_diff": fm.equal_opportunity_difference,
        "tpr_diff": fm.true_positive_rate_difference,
        "fpr_diff": fm.false_positive_rate_difference,
    }
    return {m: float(fns[m](y_true, y_pred, sensitive_features=sensitive)) for m in metrics}


def group_table(y_true: Any, y_pred: Any, sensitive: Any) -> list[dict[str, Any]]:
    """Per-group count, accuracy, selection rate, TPR and FPR (fairlearn ``MetricFrame``), as records."""
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    frame = MetricFrame(
        metrics={"count": count, "accuracy": accuracy_score, "selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sensitive,
    )
    table = frame.by_group.reset_index()
    records = []
    for row in table.to_dict(orient="records"):
        records.append({str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return records


class FairnessGap(Probe):
    """Fairness gaps of a trained classifier on validation data with sensitive features, and optionally
    on a held-out split too.

    Args:
        X: validation features (the data the study selects models on).
        y: validation labels (binary).
        sensitive: one sensitive feature (array / Series) or several (DataFrame / 2-D array).
        metrics: names from :data:`FAIRNESS_METRICS`.
        threshold: decision threshold on the positive-class probability. A model can carry its own
            (``model.moo_hpo_threshold = config["threshold"]``), which then wins.
        holdout: ``(X_test, y_test, sensitive_test)``: data that no choice is made on. The same gaps
            measured on it are recorded as ``holdout_<metric>`` (``holdout_eo_diff`` ...) and its
            per-group table as ``extra["fairness"]["holdout_by_group"]``; they are never objectives or
            constraints unless a study names them. The fairness audit reports both.

    Raises:
        ConfigError: for no sensitive features, unknown metrics, mismatched lengths, labels that are not binary or
            a malformed ``holdout``.
    """

    needs_training = True
    name = "fairness"

    def __init__(self, X: Any, y: Any, sensitive: Any, metrics: Iterable[str] = ("eo_diff",), threshold: float | None = None,
                 holdout: tuple[Any, Any, Any] | None = None) -> None:
        if sensitive is None:
            raise ConfigError("FairnessGap: sensitive must give each row of X its group(s) (an array, Series or DataFrame); received None")
        check_rows("FairnessGap", X, y=y, sensitive=sensitive)
        self.base_metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        bad = [m for m in self.base_metrics if m not in FAIRNESS_METRICS]
        if not self.base_metrics or bad:
            raise ConfigError(f"unknown fairness metric(s) {bad or self.base_metrics}; expected some of {list(FAIRNESS_METRICS)}")
        y = np.asarray(y)
        if len(np.unique(y)) > 2:
            raise ConfigError(f"FairnessGap expects binary labels; received {len(np.unique(y))} classes")
        self.holdout = None
        if holdout is not None:
            X_h, y_h, sensitive_h = holdout_split("FairnessGap", holdout, sensitive=True)
            y_h = np.asarray(y_h)
            if len(np.unique(y_h)) > 2:
                raise ConfigError(f"FairnessGap expects binary held-out labels; received {len(np.unique(y_h))} classes")
            self.holdout = (X_h, y_h, sensitive_h)
        self.metrics = self.base_metrics + (tuple(holdout_name(m) for m in self.base_metrics) if self.holdout else ())
        check_threshold("FairnessGap", threshold)
        _check_groups("FairnessGap", sensitive, "sensitive")
        if self.holdout is not None:
            _check_groups("FairnessGap", self.holdout[2], "the held-out sensitive")
        self.X, self.y, self.sensitive, self.threshold = X, y, sensitive, threshold

    def measure(self, model: Any) -> Measurement:
        threshold = getattr(model, "moo_hpo_threshold", self.threshold)
        split = "validation data"
        try:
            pred = predict_labels(model, self.X, threshold)
            values = fairness_metrics(self.y, pred, self.sensitive, self.base_metrics)
            extra: dict[str, Any] = {"by_group": group_table(self.y, pred, self.sensitive), "threshold": threshold}
            if self.holdout is not None:
                split = "held-out data"
                X_h, y_h, sensitive_h = self.holdout
                pred_h = predict_labels(model, X_h, threshold)
                values.update({holdout_name(m): v for m, v in fairness_metrics(y_h, pred_h, sensitive_h, self.base_metrics).items()})
                extra["holdout_by_group"] = group_table(y_h, pred_h, sensitive_h)
        except ProbeError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"fairness probe failed on the {split}: {type(exc).__name__}: {exc}") from exc
        return Measurement(values, {"fairness": extra})


def _check_groups(owner: str, sensitive: Any, what: str) -> None:
    """A fairness gap needs two groups at least: with one, every gap is 0 and reads as perfectly fair.

    Raises:
        ConfigError: when ``sensitive`` holds a single group.
    """
    import pandas as pd

    frame = sensitive if isinstance(sensitive, pd.DataFrame) else pd.DataFrame(
        sensitive.to_frame() if isinstance(sensitive, pd.Series) else np.asarray(sensitive).reshape(len(sensitive), -1)
    )
    groups = len(frame.drop_duplicates())
    if groups < 2:
        raise ConfigError(
            f"{owner}: {what} column(s) hold a single group ({frame.iloc[0].tolist()!r}); a gap between groups needs "
            "two at least (every gap would read 0, perfectly fair)"
        )
