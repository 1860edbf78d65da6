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
holds, per group, the count, the positive and negative labels, accuracy, selection rate, TPR and FPR (fairlearn
``MetricFrame``; a TPR over no positives, an FPR over no negatives, is None).

``FairnessGap(X_val, y_val, sensitive=A_val, holdout=(X_test, y_test, A_test))`` also measures the gaps on
a held-out split, recorded as ``holdout_<metric>`` (``holdout_eo_diff`` ...), with that split's per-group
table in ``extra["fairness"]["holdout_by_group"]`` (see :mod:`moo_hpo.objectives.holdout`).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import (
    Measurement,
    Probe,
    check_prefix,
    check_rows,
    check_sample_weight,
    check_threshold,
    check_torch_labels,
    predict_labels,
)
from moo_hpo.objectives.holdout import holdout_name, holdout_split, warn_unweighted_holdout

logger = logging.getLogger("moo_hpo")

__all__ = ["FAIRNESS_METRICS", "FEW_LABELS", "FairnessGap", "fairness_metrics", "gap_parts", "group_table", "one_class_groups",
           "predicts_one_class"]

FAIRNESS_METRICS = ("dp_diff", "dp_ratio", "eo_diff", "eo_ratio", "eop_diff", "tpr_diff", "fpr_diff")


def fairness_metrics(y_true: Any, y_pred: Any, sensitive: Any, metrics: Iterable[str] = FAIRNESS_METRICS,
                     sample_weight: Any = None) -> dict[str, float]:
    """The fairness gaps of predictions (labels 0/1, 1 the positive outcome), by fairlearn (each row weighted by
    ``sample_weight`` when given)."""
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
    weights = {} if sample_weight is None else {"sample_weight": sample_weight}
    out = {m: float(fns[m](y_true, y_pred, sensitive_features=sensitive, **weights)) for m in metrics}
    for m in ("dp_ratio", "eo_ratio"):
        if m in out and np.isnan(out[m]):  # fairlearn's 0/0: every group's rate is 0
            out[m] = _ratio_of_zero_rates(m, y_true, y_pred, sensitive, weights)
    return out


def _ratio_of_zero_rates(metric: str, y_true: Any, y_pred: Any, sensitive: Any, weights: dict[str, Any]) -> float:
    """A ratio gap where fairlearn divides 0 by 0 (a model that selects nobody, or whose true- or false-positive rate
    is 0 in every group): the groups' rates are equal, so the ratio is 1 (as the difference is 0); each rate's ratio is
    the smallest group's over the largest's, ``eo_ratio`` the smaller of the TPR and FPR ratios, as fairlearn's."""
    from fairlearn import metrics as fm

    rates = [fm.selection_rate] if metric == "dp_ratio" else [fm.true_positive_rate, fm.false_positive_rate]
    ratios = []
    for rate in rates:
        params = {rate.__name__: {"sample_weight": weights["sample_weight"]}} if weights else None
        by_group = fm.MetricFrame(metrics={rate.__name__: rate}, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive,
                                  sample_params=params).by_group[rate.__name__].to_numpy(dtype=float)
        low, high = float(np.nanmin(by_group)), float(np.nanmax(by_group))
        ratios.append(1.0 if high == 0 else low / high)
    return min(ratios)


def gap_parts(name: str) -> tuple[str, str]:
    """A gap's name split into the prefix of the probe that measured it and the fairlearn gap: ``"sex_eo_diff"`` ->
    ``("sex_", "eo_diff")``, ``"eo_diff"`` -> ``("", "eo_diff")``; a name of no known gap -> ``("", name)``. The probe
    keeps its per-group tables in ``extra[prefix + "fairness"]``."""
    for base in sorted(FAIRNESS_METRICS, key=len, reverse=True):
        if name == base or name.endswith("_" + base):
            return name[: len(name) - len(base)], base
    return "", name


def _positives(y_true: Any, y_pred: Any) -> int:
    return int(np.sum(np.asarray(y_true) == 1))


def _negatives(y_true: Any, y_pred: Any) -> int:
    return int(np.sum(np.asarray(y_true) != 1))


def _weight(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    return float(np.sum(sample_weight))


#: the per-group figures that are rates, weighted when the rows are
_RATES = ("accuracy", "selection_rate", "tpr", "fpr")


def group_table(y_true: Any, y_pred: Any, sensitive: Any, sample_weight: Any = None) -> list[dict[str, Any]]:
    """Per-group count, positives and negatives (what TPR and FPR divide by), accuracy, selection rate, TPR and FPR
    (fairlearn ``MetricFrame``; labels 0/1), as records. With ``sample_weight``, each group's total ``weight`` too,
    and the rates weighted (the counts stay people)."""
    from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    metrics: dict[str, Any] = {"count": count, "positives": _positives, "negatives": _negatives, "accuracy": accuracy_score,
                               "selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate}
    params = None
    if sample_weight is not None:
        metrics = {**dict(list(metrics.items())[:3]), "weight": _weight, **dict(list(metrics.items())[3:]),
                   _POSITIVE_WEIGHT: _positive_weight, _NEGATIVE_WEIGHT: _negative_weight}
        params = {name: {"sample_weight": sample_weight} for name in ("weight", *_RATES, _POSITIVE_WEIGHT, _NEGATIVE_WEIGHT)}
    frame = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive, sample_params=params)
    by_group = frame.by_group
    # a sensitive feature named like a figure ("weight", "count") keeps its column apart from the figure's
    by_group.index = by_group.index.set_names([n if n is None or str(n) not in _FIGURES else f"{n} (group)"
                                               for n in by_group.index.names])
    table = by_group.reset_index()
    records = []
    for row in table.to_dict(orient="records"):
        record = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        if not record["count"] == record["count"] or not record["count"]:
            continue  # a combination of several sensitive features that nobody has (NaN in fairlearn's table)
        for key in ("count", "positives", "negatives"):
            record[key] = int(record[key])
        # a rate over nobody (or over rows that all weigh 0) is undefined (fairlearn counts it 0)
        positives = record.pop(_POSITIVE_WEIGHT, record["positives"])
        negatives = record.pop(_NEGATIVE_WEIGHT, record["negatives"])
        record["tpr"] = record["tpr"] if record["positives"] and positives else None
        record["fpr"] = record["fpr"] if record["negatives"] and negatives else None
        records.append(record)
    return records


_POSITIVE_WEIGHT, _NEGATIVE_WEIGHT = "\0positive weight", "\0negative weight"  # figures used here, never shown
#: the per-group table's figures: a sensitive feature of one of these names is renamed "<name> (group)"
_FIGURES = ("count", "positives", "negatives", "weight", "accuracy", "selection_rate", "tpr", "fpr")


def _positive_weight(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    return float(np.sum(np.asarray(sample_weight)[np.asarray(y_true) == 1]))


def _negative_weight(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    return float(np.sum(np.asarray(sample_weight)[np.asarray(y_true) != 1]))


def predicts_one_class(extra: Any) -> bool:
    """True when a trial's extra holds a ``FairnessGap`` per-group table in which the classifier predicted a single
    class for everyone (every group's selection rate 0, or every one 1): a degenerate model whose zero gap says
    nothing about fairness."""
    tables = _tables(extra)  # a classifier predicts one class for every grouping alike: the first table says it
    rates = [g["selection_rate"] for g in _groups(tables[0])] if tables else []
    return bool(rates) and (all(r == 0 for r in rates) or all(r == 1 for r in rates))


def one_class_groups(extra: Any) -> list[str]:
    """The groups of a trial's ``FairnessGap`` per-group tables (every probe's) in which a classifier that predicts
    both classes overall predicted one class for everyone (selection rate 0 or 1), each as
    ``"sex=Female (selects no one)"``: a model that never selects a group may still meet a bound on a gap between
    small rates (none when :func:`predicts_one_class`, which says more)."""
    if predicts_one_class(extra):
        return []
    out: list[str] = []
    for table in _tables(extra):
        for g in _groups(table):
            if g["selection_rate"] in (0, 1):
                label = ", ".join(f"{k}={v}" for k, v in g.items() if k not in _FIGURES and not str(k).startswith("\0"))
                said = f"{label or 'a group'} ({'selects no one' if g['selection_rate'] == 0 else 'selects everyone'})"
                out += [said] if said not in out else []
    return out


def _tables(extra: Any) -> list[Any]:
    """A trial's ``FairnessGap`` tables (``extra["fairness"]``, ``extra["<prefix>fairness"]``), in order."""
    return [v for k, v in extra.items() if k == "fairness" or str(k).endswith("_fairness")] if isinstance(extra, dict) else []


def _groups(fairness: Any) -> list[dict[str, Any]]:
    """The per-group rows with a selection rate of one fairness table; none for data of another shape."""
    groups = fairness.get("by_group", []) if isinstance(fairness, dict) else []
    groups = groups if isinstance(groups, (list, tuple)) else []
    return [g for g in groups if isinstance(g, dict) and g.get("selection_rate") is not None]


#: Below this many positive (or negative) labels, a group's TPR (or FPR) rests on too few people to read a gap from.
FEW_LABELS = 10


class FairnessGap(Probe):
    """Fairness gaps of a trained classifier on validation data with sensitive features, and optionally
    on a held-out split too.

    Args:
        X: validation features (the data the study selects models on).
        y: validation labels (binary; both classes present).
        sensitive: one sensitive feature (array / Series) or several (DataFrame / 2-D array), or the name(s) of
            ``X``'s column(s) that hold them when ``X`` is a DataFrame.
        metrics: names from :data:`FAIRNESS_METRICS`.
        pos_label: the positive (favourable) label, the one TPR, FPR and the selection rate count. Needed for labels
            other than 0/1, -1/1 and False/True (whose positive label is 1 / True), such as ``">50K"``.
        threshold: decision threshold on the probability of ``pos_label``. A model can carry its own
            (``model.moo_hpo_threshold = config["threshold"]``), which then wins.
        holdout: ``(X_test, y_test, sensitive_test)``, or ``(X_test, y_test)`` when ``sensitive`` names columns of
            ``X`` (the held-out X's same columns): data that no choice is made on. The same gaps
            measured on it are recorded as ``holdout_<metric>`` (``holdout_eo_diff`` ...) and its
            per-group table as ``extra["fairness"]["holdout_by_group"]``; they are never objectives or
            constraints unless a study names them. The fairness audit reports both.
        sample_weight: one weight per validation row (survey weights such as Adult's ``fnlwgt``): the gaps and the
            per-group rates are then weighted (fairlearn's ``sample_weight``), and the per-group table gains each
            group's total ``weight``; its counts stay people. None: rows count alike.
        holdout_sample_weight: one weight per held-out row, likewise (only with ``holdout``).
        prefix: a name put before each metric (``prefix="sex"``: ``sex_eo_diff``, ``holdout_sex_eo_diff``) and
            before its per-group tables' key (``extra["sex_fairness"]``), so that two probes can measure the gaps of
            two sensitive features separately (``FairnessGap(..., sensitive="sex", prefix="sex")`` beside one with
            ``sensitive="race", prefix="race"``). None: the plain names.

    A group with no positive (or no negative) labels has no TPR (or FPR): fairlearn counts it as 0, which makes the
    gaps read that group's missing rate as a difference; such groups, and groups with fewer than
    :data:`FEW_LABELS` of either, are logged when the probe is made (merge or drop them for a gap that means
    something). The per-group table counts each group's positives and negatives and leaves an undefined rate empty.

    Raises:
        ConfigError: for no sensitive features, unknown metrics or column names, mismatched lengths, missing values
            in the labels or the sensitive features, labels that are not two classes, labels other than 0/1
            without ``pos_label``, a malformed ``holdout``, or weights that are not one finite non-negative number per
            row (or all zero).
    """

    needs_training = True
    name = "fairness"
    #: what it measures when asked for it (``metrics=``)
    measurable = FAIRNESS_METRICS

    def __init__(self, X: Any, y: Any, sensitive: Any, metrics: Iterable[str] = ("eo_diff",), threshold: float | None = None,
                 holdout: tuple[Any, Any, Any] | None = None, pos_label: Any = None, sample_weight: Any = None,
                 holdout_sample_weight: Any = None, prefix: str | None = None) -> None:
        self.prefix = check_prefix("FairnessGap", prefix)
        self.name = f"{self.prefix}fairness"
        self.measurable = tuple(self.prefix + m for m in FAIRNESS_METRICS)
        if sensitive is None:
            raise ConfigError("FairnessGap: sensitive must give each row of X its group(s) (an array, Series or DataFrame); received None")
        given = sensitive
        sensitive = _columns_of("FairnessGap", X, sensitive, "X")
        by_name = given if sensitive is not given else None  # column names: a held-out pair's X has them too
        rows = check_rows("FairnessGap", X, y=y, sensitive=sensitive)
        self.sample_weight = check_sample_weight("FairnessGap", sample_weight, rows, X=X)
        self.base_metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        bad = [m for m in self.base_metrics if m not in FAIRNESS_METRICS]
        if not self.base_metrics:
            raise ConfigError(f"FairnessGap: metrics is empty; expected at least one of {list(FAIRNESS_METRICS)}")
        if bad:
            raise ConfigError(f"unknown fairness metric(s) {bad}; expected some of {list(FAIRNESS_METRICS)}")
        y = np.asarray(y)
        self.pos_label, self.classes = _positive_label("FairnessGap", y, pos_label, "labels")
        self.holdout = None
        if holdout is not None:
            if isinstance(holdout, (tuple, list)) and len(holdout) == 2 and by_name is not None:  # the same columns
                holdout = (*holdout, by_name)
            if isinstance(holdout, (tuple, list)) and len(holdout) == 3:  # its sensitive feature by column name too
                holdout = (holdout[0], holdout[1], _columns_of("FairnessGap", holdout[0], holdout[2], "the held-out X"))
            X_h, y_h, sensitive_h = holdout_split("FairnessGap", holdout, sensitive=True)
            y_h = np.asarray(y_h)
            _positive_label("FairnessGap", y_h, self.pos_label, "held-out labels")
            self.holdout = (X_h, y_h, sensitive_h)
        if holdout_sample_weight is not None and self.holdout is None:
            raise ConfigError("FairnessGap: holdout_sample_weight weighs the rows of holdout=(X_test, y_test, sensitive_test), "
                              "which was not given")
        self.holdout_sample_weight = None if self.holdout is None else check_sample_weight(
            "FairnessGap", holdout_sample_weight, check_rows("FairnessGap holdout", self.holdout[0]), "holdout_sample_weight",
            X=self.holdout[0])
        warn_unweighted_holdout("FairnessGap", self.sample_weight, self.holdout, self.holdout_sample_weight)
        named = tuple(self.prefix + m for m in self.base_metrics)
        self.metrics = named + (tuple(holdout_name(m) for m in named) if self.holdout else ())
        check_threshold("FairnessGap", threshold)
        _check_groups("FairnessGap", sensitive, "sensitive", y == self.pos_label, weight=self.sample_weight)
        if self.holdout is not None:
            _check_groups("FairnessGap", self.holdout[2], "the held-out sensitive", self.holdout[1] == self.pos_label,
                          "the held-out data", self.holdout_sample_weight)
            _check_same_groups(sensitive, self.holdout[2])
        self.X, self.y, self.sensitive, self.threshold = X, y, sensitive, threshold

    def measure(self, model: Any) -> Measurement:
        threshold = getattr(model, "moo_hpo_threshold", self.threshold)
        split = "validation data"
        check_torch_labels("FairnessGap", model, self.y)
        try:
            y, pred = self._binary(self.y, predict_labels(model, self.X, threshold, self.pos_label, y=self.y))
            values = self._named(fairness_metrics(y, pred, self.sensitive, self.base_metrics, self.sample_weight))
            extra: dict[str, Any] = {"by_group": group_table(y, pred, self.sensitive, self.sample_weight), "threshold": threshold,
                                     "gaps": dict(values)}  # what its tables are of (the audit matches a gap by them)
            if self.holdout is not None:
                split = "held-out data"
                X_h, y_h, sensitive_h = self.holdout
                y_h, pred_h = self._binary(y_h, predict_labels(model, X_h, threshold, self.pos_label, y=y_h))
                w_h = self.holdout_sample_weight
                held = self._named(fairness_metrics(y_h, pred_h, sensitive_h, self.base_metrics, w_h))
                values.update({holdout_name(m): v for m, v in held.items()})
                extra["holdout_by_group"] = group_table(y_h, pred_h, sensitive_h, w_h)
        except ProbeError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"fairness probe failed on the {split}: {type(exc).__name__}: {exc}") from exc
        return Measurement(values, {self.name: extra})

    def _named(self, values: dict[str, float]) -> dict[str, float]:
        """fairlearn's gaps under this probe's names (its prefix before each)."""
        return {self.prefix + m: v for m, v in values.items()}

    def _binary(self, y_true: np.ndarray, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
        """Labels and predictions as 0/1, 1 for the positive label."""
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind in "fc" and y_pred.size and not np.isfinite(y_pred.astype(float)).all():
            raise ProbeError("the model predicted NaN or infinite labels")
        unknown = sorted({v.item() if hasattr(v, "item") else v for v in np.unique(y_pred)} - set(self.classes), key=repr)
        if unknown:  # e.g. class indices 0/1 of a torch module beside labels '<=50K'/'>50K': every gap would read 0
            raise ProbeError(f"the model predicted labels {unknown[:5]}, which are not among the labels {self.classes}; "
                             "expected predictions in the labels' own values")
        return (y_true == self.pos_label).astype(int), (y_pred == self.pos_label).astype(int)


def _columns_of(owner: str, X: Any, sensitive: Any, what: str) -> Any:
    """``sensitive`` given as a column name (or a list of names) of the DataFrame ``X``: those columns."""
    # a list of strings as long as X is each row's group (a list of values), not column names
    rows = np.shape(X)[0] if hasattr(X, "shape") else len(X)  # a sparse X has a shape, not a len
    import pandas as pd

    listed = isinstance(sensitive, (list, tuple, pd.Index))  # a tuple or an Index of column names too
    as_names = (listed and 0 < len(sensitive) != rows and all(isinstance(n, str) for n in sensitive))
    names = [sensitive] if isinstance(sensitive, str) else list(sensitive) if as_names else None
    if names is None:
        return sensitive
    columns = list(getattr(X, "columns", []))
    if not columns:
        raise ConfigError(f"{owner}: sensitive={sensitive!r} names columns, which needs {what} to be a DataFrame; "
                          f"received {type(X).__name__} (give the sensitive feature as an array instead)")
    missing = [n for n in names if n not in columns]
    if missing and len(names) > len(columns):  # more names than columns: each row's group, of the wrong length
        raise ConfigError(f"{owner}: expected sensitive with {rows} rows (like {what}), or the names of its columns; "
                          f"received a list of {len(names)} values")
    if missing:
        shown = f"{missing[:10]}{' ...' if len(missing) > 10 else ''}"
        raise ConfigError(f"{owner}: no column {shown} in {what}; its columns are {columns}")
    return X[names[0]] if isinstance(sensitive, str) else X[names]


def _positive_label(owner: str, y: np.ndarray, pos_label: Any, what: str) -> tuple[Any, list[Any]]:
    """The positive label of binary labels ``y``, and the two labels (plain Python values, sorted).

    Raises:
        ConfigError: for missing values, a number of classes other than two, a ``pos_label`` that is not among them,
            or labels other than 0/1, -1/1, False/True without ``pos_label``.
    """
    import pandas as pd

    if pd.isna(pd.Series(y.ravel())).any():
        raise ConfigError(f"{owner}: the {what} have {int(pd.isna(pd.Series(y.ravel())).sum())} missing value(s); drop those rows")
    try:
        classes = [c.item() if hasattr(c, "item") else c for c in np.unique(y)]  # plain values, for messages
    except TypeError:  # strings beside numbers cannot be sorted
        kinds = sorted({type(v).__name__ for v in y.ravel()})
        raise ConfigError(f"{owner}: the {what} mix types {kinds}; expected labels of one type (two classes)") from None
    if len(classes) != 2:
        raise ConfigError(f"{owner} expects binary {what} with both classes present; received {len(classes)} class(es) "
                          f"{classes[:5]} (TPR and FPR need positives and negatives)")
    if pos_label is not None:
        if pos_label not in classes:
            raise ConfigError(f"{owner}: pos_label {pos_label!r} is not among the {what} {classes}")
        return pos_label, classes
    for known in ({0, 1}, {-1, 1}):
        if set(classes) == known:  # True/False compare equal to 1/0
            return 1, classes
    raise ConfigError(f"{owner}: the {what} are {classes}; give pos_label= (the positive, favourable outcome that TPR "
                      f"and the selection rate count), such as pos_label={classes[1]!r}")


def _group_keys(sensitive: Any) -> set[str]:
    """The groups of a sensitive feature (or the intersections of several), each as one text."""
    import pandas as pd

    frame = sensitive if isinstance(sensitive, pd.DataFrame) else pd.DataFrame(
        sensitive.to_frame() if isinstance(sensitive, pd.Series) else np.asarray(sensitive).reshape(len(sensitive), -1)
    )
    def text(value: Any) -> str:  # 1, 1.0, True and np.int64(1) are one group, as they are to fairlearn
        if not isinstance(value, (numbers.Real, np.number, np.bool_)):
            return str(value)
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)

    return {" / ".join(text(v) for v in row) for row in frame.itertuples(index=False)}


def _check_same_groups(validation: Any, held_out: Any) -> None:
    """The held-out split's groups should be the validation data's: none in common is a coding mistake (refused);
    a group in one split only has a gap on that split alone (logged).

    Raises:
        ConfigError: when the two splits have no group in common.
    """
    ours, theirs = _group_keys(validation), _group_keys(held_out)
    if not ours & theirs:
        raise ConfigError(f"FairnessGap: the held-out sensitive feature has no group in common with the validation "
                          f"data's (held-out {sorted(theirs)[:5]}, validation {sorted(ours)[:5]}); expected the same "
                          "groups, coded the same way")
    for only, split, other in ((sorted(ours - theirs), "the validation data", "held-out"),
                               (sorted(theirs - ours), "the held-out data", "validation")):
        if only:
            logger.warning("FairnessGap: group(s) %s occur in %s only: the %s gaps and per-group table leave them out",
                           only[:8], split, other)


def _check_groups(owner: str, sensitive: Any, what: str, positive: np.ndarray | None = None, split: str = "the validation data",
                  weight: np.ndarray | None = None) -> None:
    """A fairness gap needs two groups at least: with one, every gap is 0 and reads as perfectly fair. A group
    without positives (or negatives) has no TPR (FPR), and one with few rests on few people: both logged.

    Raises:
        ConfigError: when ``sensitive`` holds a single group or missing values.
    """
    import pandas as pd

    frame = sensitive if isinstance(sensitive, pd.DataFrame) else pd.DataFrame(
        sensitive.to_frame() if isinstance(sensitive, pd.Series) else np.asarray(sensitive).reshape(len(sensitive), -1)
    )
    missing = int(frame.isna().any(axis=1).sum())
    if missing:
        raise ConfigError(f"{owner}: {what} column(s) have missing values in {missing} row(s); give those rows a group "
                          "(such as 'unknown') or drop them")
    if positive is not None and len(frame.drop_duplicates()) >= 2:
        keys = [tuple(r) for r in frame.astype(str).itertuples(index=False)]
        counts: dict[tuple, list[int]] = {}
        weights: dict[tuple, list[float]] = {}
        rows_weight = np.ones(len(keys)) if weight is None else weight
        for key, pos, w in zip(keys, np.asarray(positive).ravel(), rows_weight, strict=True):
            counts.setdefault(key, [0, 0])[0 if pos else 1] += 1
            weights.setdefault(key, [0.0, 0.0])[0 if pos else 1] += float(w)
        weightless = sorted("/".join(k) for k, c in weights.items() if sum(c) == 0)
        if weightless:
            raise ConfigError(f"{owner}: group(s) {weightless} weigh 0 in {split} (every row's sample_weight is 0): their "
                              "rates are undefined; give their rows weight or drop them")
        if weight is not None:  # people there, but of no weight: the rate is as undefined as over nobody
            counts = {k: [c[0] if weights[k][0] else 0, c[1] if weights[k][1] else 0] for k, c in counts.items()}
        for label, index, rate in (("positive", 0, "TPR"), ("negative", 1, "FPR")):
            none = sorted("/".join(k) for k, c in counts.items() if c[index] == 0)
            few = sorted(f"{'/'.join(k)} ({c[index]})" for k, c in counts.items() if 0 < c[index] < FEW_LABELS)
            if none:
                logger.warning("%s: group(s) %s have no %s label in %s: their %s is undefined, which fairlearn counts "
                               "as 0, so a gap on it reads the other groups' %s as the difference; merge or drop them",
                               owner, none, label, split, rate, rate)
            if few:
                logger.warning("%s: group(s) %s have fewer than %d %s labels in %s: their %s rests on so few people "
                               "that a gap on it is mostly chance", owner, few, FEW_LABELS, label, split, rate)
    groups = len(frame.drop_duplicates())
    if groups < 2:
        raise ConfigError(
            f"{owner}: {what} column(s) hold a single group ({frame.iloc[0].tolist()!r}); a gap between groups needs "
            "two at least (every gap would read 0, perfectly fair)"
        )
