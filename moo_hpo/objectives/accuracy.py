"""Predictive quality: accuracy family for classifiers, RMSE / MAE / R2 for regressors.

:class:`Accuracy` scores a trained model on a validation set. :class:`CrossValidated` scores a
scikit-learn estimator by (repeated) stratified k-fold cross-validation on clones of it, so any
preprocessing inside a ``Pipeline`` is fitted inside each fold; it reports the mean and, as
``<metric>_std``, the standard deviation over folds and repeats.

``Accuracy(X_val, y_val, holdout=(X_test, y_test))`` also scores the model on a held-out split and records
those figures as ``holdout_<metric>`` (see :mod:`moo_hpo.objectives.holdout`).
"""

from __future__ import annotations

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
    is_torch_module,
    predict_labels,
    predict_scores,
    ranking_scores,
)
from moo_hpo.objectives.holdout import holdout_name, holdout_split, warn_unweighted_holdout
from moo_hpo.values import is_integer

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS", "Accuracy", "CrossValidated", "score"]

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "error", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
#: Metrics of the predicted scores, not of labels: no decision threshold enters them.
NEEDS_SCORES = {"roc_auc", "log_loss"}


def _check_metrics(metrics: Iterable[str]) -> tuple[str, ...]:
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    known = CLASSIFICATION_METRICS + REGRESSION_METRICS
    bad = [m for m in metrics if m not in known]
    if not metrics:
        raise ConfigError(f"metrics is empty; expected at least one of {list(known)}")
    if bad:
        raise ConfigError(f"unknown metric(s) {bad}; expected some of {list(known)}")
    return metrics


def _check_pos_label(owner: str, y: Any, metrics: tuple[str, ...], pos_label: Any) -> None:
    """``pos_label`` must be one of two labels; ``f1`` of two labels without a 1 among them (text labels) needs one.

    Raises:
        ConfigError: for a ``pos_label`` that is not a label of ``y``, or ``f1`` without the positive label it needs.
    """
    if pos_label is None and "f1" not in metrics:
        return
    try:
        labels = np.unique(np.asarray(y))
    except TypeError:  # labels of mixed types: scoring will say so
        return
    values = [v.item() if hasattr(v, "item") else v for v in labels]
    if pos_label is not None and (len(values) != 2 or pos_label not in values):
        raise ConfigError(f"{owner}: pos_label {pos_label!r} must be one of two labels; the labels are {values[:5]}")
    if pos_label is None and "f1" in metrics and len(values) == 2 and 1 not in values:  # scikit-learn's default is 1
        raise ConfigError(f"{owner}: f1 counts one label as positive (1 unless pos_label= names another); the labels "
                          f"are {values}: give pos_label= (such as pos_label={values[1]!r})")


def _holdout_weight(owner: str, holdout: tuple[Any, ...] | None, weight: Any) -> np.ndarray | None:
    """The held-out rows' weights, checked against the held-out split.

    Raises:
        ConfigError: for weights without ``holdout``, or weights :func:`check_sample_weight` refuses.
    """
    if weight is None:
        return None
    if holdout is None:
        raise ConfigError(f"{owner}: holdout_sample_weight weighs the rows of holdout=(X_test, y_test), which was not given")
    return check_sample_weight(owner, weight, check_rows(f"{owner} holdout", holdout[0]), "holdout_sample_weight", X=holdout[0])


def score(model: Any, X: Any, y: Any, metrics: Iterable[str], threshold: float | None = None,
          pos_label: Any = None, sample_weight: Any = None) -> dict[str, float]:
    """Compute ``metrics`` of a trained model on ``(X, y)`` with scikit-learn's metric functions (``threshold`` on
    the probability of ``pos_label``, which ``f1`` counts as positive; None: the second of the two labels; each row
    weighted by ``sample_weight`` when given)."""
    from sklearn import metrics as skm

    from moo_hpo.objectives.torch_outputs import torch_class_scores, torch_forward

    y = np.asarray(y)
    w = {"sample_weight": sample_weight}
    out: dict[str, float] = {}
    labels = None
    scores = None
    torch_module = is_torch_module(model)
    forward: list[np.ndarray] = []  # a torch module's output on X, computed once for every metric

    def output() -> np.ndarray:
        if not forward:
            forward.append(torch_forward(model, X))
        return forward[0]

    def class_scores(logits: bool = False) -> np.ndarray:
        if torch_module:
            return torch_class_scores(model, X, logits=logits, out=output())
        return ranking_scores(model, X) if logits else predict_scores(model, X)

    for m in metrics:
        if m in REGRESSION_METRICS:
            if torch_module:  # a regression module's output as it is (no sigmoid)
                pred = output()
            else:
                pred = np.asarray(model.predict(X)) if hasattr(model, "predict") else predict_scores(model, X)
            pred = pred.reshape(len(y), -1)[:, 0] if pred.ndim > 1 else pred
            out[m] = {
                "rmse": lambda: float(np.sqrt(skm.mean_squared_error(y, pred, **w))),
                "mae": lambda: float(skm.mean_absolute_error(y, pred, **w)),
                "r2": lambda: float(skm.r2_score(y, pred, **w)),
            }[m]()
            continue
        if m in NEEDS_SCORES:
            if m == "roc_auc":  # ranked by scores that keep their order (a binary torch module's logits)
                ranked = class_scores(logits=True)
                out[m] = float(skm.roc_auc_score(y, ranked, multi_class="ovr", **w) if ranked.ndim > 1
                               else skm.roc_auc_score(y, ranked, **w))
            else:
                scores = class_scores() if scores is None else scores
                out[m] = float(skm.log_loss(y, scores, **w))
            continue
        if labels is None:
            if torch_module and scores is None:
                scores = class_scores()
            labels = predict_labels(model, X, threshold, pos_label, y=y, scores=scores)
        if m == "accuracy":
            out[m] = float(skm.accuracy_score(y, labels, **w))
        elif m == "error":
            out[m] = 1.0 - float(skm.accuracy_score(y, labels, **w))
        elif m == "balanced_accuracy":
            out[m] = float(skm.balanced_accuracy_score(y, labels, **w))
        elif m == "f1":
            binary = len(np.unique(y)) <= 2
            kwargs = {"pos_label": pos_label} if binary and pos_label is not None else {}
            out[m] = float(skm.f1_score(y, labels, average="binary" if binary else "macro", **kwargs, **w))
    return out


class Accuracy(Probe):
    """Score a trained model on a validation set, and optionally on a held-out split too.

    Args:
        X: validation features (the data the study selects models on).
        y: validation targets.
        metrics: names from :data:`CLASSIFICATION_METRICS` or :data:`REGRESSION_METRICS` (``f1`` of more than two
            classes is the macro average, as scikit-learn's ``average="macro"``).
        threshold: decision threshold on the positive label's probability (binary classifiers). A
            model can carry its own (``model.moo_hpo_threshold``), which then wins.
        pos_label: the positive label of a binary task: the one ``threshold`` and ``f1`` refer to (None: the
            threshold is on the second of the two sorted labels, and ``f1`` counts 1, as scikit-learn does). Needed for
            ``f1`` of labels such as ``"good"`` / ``"bad"``; give it the same value as a
            :class:`~moo_hpo.objectives.FairnessGap` beside it.
        holdout: ``(X_test, y_test)`` (a third item, such as the sensitive features, is ignored): data
            that no choice is made on. The same metrics measured on it are recorded as
            ``holdout_<metric>`` (``holdout_accuracy`` ...); they are never objectives or constraints
            unless a study names them.
        sample_weight: one weight per validation row (survey weights such as Adult's ``fnlwgt``, or importance
            weights): every metric is then the weighted one (scikit-learn's ``sample_weight``). None: rows count
            alike.
        holdout_sample_weight: one weight per held-out row, likewise (only with ``holdout``).
        prefix: a name put before each metric (``prefix="test"``: ``test_accuracy``), so that two probes can score
            two splits or weightings side by side. None: the plain names.

    Raises:
        ConfigError: for unknown metrics, mismatched lengths, a malformed ``holdout``, a ``pos_label`` that is not
            one of two labels, ``f1`` of two labels without a 1 (text labels) and without ``pos_label``, or weights
            that are not one finite non-negative number per row (or all zero).
    """

    needs_training = True
    #: what it measures when asked for it (``metrics=``)
    measurable = CLASSIFICATION_METRICS + REGRESSION_METRICS

    def __init__(self, X: Any, y: Any, metrics: Iterable[str] = ("accuracy",), threshold: float | None = None,
                 holdout: tuple[Any, ...] | None = None, pos_label: Any = None, sample_weight: Any = None,
                 holdout_sample_weight: Any = None, prefix: str | None = None) -> None:
        self.prefix = check_prefix("Accuracy", prefix)
        self.measurable = tuple(self.prefix + m for m in CLASSIFICATION_METRICS + REGRESSION_METRICS)
        rows = check_rows("Accuracy", X, y=y)
        self.X, self.y = X, y
        self.sample_weight = check_sample_weight("Accuracy", sample_weight, rows, X=X)
        self.base_metrics = _check_metrics(metrics)
        _check_pos_label("Accuracy", y, self.base_metrics, pos_label)
        self.pos_label = pos_label
        self.holdout = None if holdout is None else holdout_split("Accuracy", holdout)[:2]
        self.holdout_sample_weight = _holdout_weight("Accuracy", self.holdout, holdout_sample_weight)
        warn_unweighted_holdout("Accuracy", self.sample_weight, self.holdout, self.holdout_sample_weight)
        named = tuple(self.prefix + m for m in self.base_metrics)
        self.metrics = named + (tuple(holdout_name(m) for m in named) if self.holdout else ())
        check_threshold("Accuracy", threshold)
        self.threshold = threshold
        self.name = f"{self.prefix}accuracy"

    def measure(self, model: Any) -> Measurement:
        threshold = getattr(model, "moo_hpo_threshold", self.threshold)
        split = "validation data"
        if not set(self.base_metrics) <= {*REGRESSION_METRICS, *NEEDS_SCORES}:  # predicted labels compared with y's
            check_torch_labels("Accuracy", model, self.y)
        try:
            scored = score(model, self.X, self.y, self.base_metrics, threshold, self.pos_label, self.sample_weight)
            out = {self.prefix + m: v for m, v in scored.items()}
            if self.holdout is not None:
                split = "held-out data"
                held_out = score(model, *self.holdout, self.base_metrics, threshold, self.pos_label, self.holdout_sample_weight)
                out.update({holdout_name(self.prefix + m): v for m, v in held_out.items()})
            return Measurement(out)
        except ProbeError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing model is a failed trial
            raise ProbeError(f"accuracy probe could not score {type(model).__name__} on the {split}: {type(exc).__name__}: {exc}") from exc


def _fit_weight_name(model: Any) -> str:
    """The argument of ``model.fit`` that takes row weights: ``sample_weight``, or ``<last step>__sample_weight`` for a
    scikit-learn ``Pipeline`` (nested pipelines too: ``<step>__<inner step>__sample_weight``).

    Raises:
        ProbeError: when the estimator's ``fit`` (a pipeline's last step's) takes no ``sample_weight``.
    """
    import inspect

    from sklearn.utils.validation import has_fit_parameter

    steps = getattr(model, "steps", None)
    if isinstance(steps, (list, tuple)) and steps and isinstance(steps[-1], tuple):
        name, last = steps[-1][0], steps[-1][1]
        if last is None or last == "passthrough":
            raise ProbeError(f"CrossValidated(sample_weight=...) fits each fold with the rows' weights, but the pipeline's "
                             f"last step {name!r} is {last!r}, which fits nothing; leave sample_weight out")
        return f"{name}__{_fit_weight_name(last)}"
    if has_fit_parameter(model, "sample_weight"):
        return "sample_weight"
    try:  # fit(X, y, **params) of a wrapper (a search, a meta-estimator) passes them on
        takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(model.fit).parameters.values())
    except (TypeError, ValueError, AttributeError):
        takes_any = False
    if takes_any:
        return "sample_weight"
    raise ProbeError(f"CrossValidated(sample_weight=...) fits each fold with the rows' weights, but the fit of "
                     f"{type(model).__name__} takes no sample_weight; leave sample_weight out, or use an estimator whose "
                     "fit takes it")


class CrossValidated(Probe):
    """Cross-validated scores of a scikit-learn estimator (clones are fitted inside each fold).

    Args:
        X: features.
        y: targets.
        metrics: metric names as for :class:`Accuracy`.
        n_splits: folds (stratified for classification metrics).
        repeats: repetitions with different fold seeds.
        seed: seed of the folds.
        threshold: decision threshold (binary classifiers).
        pos_label: the positive label, as for :class:`Accuracy`.
        sample_weight: one weight per row: each fold's clone is fitted with its training rows' weights (passed to
            ``fit(..., sample_weight=)``; to a ``Pipeline``'s last step as ``<step>__sample_weight``) and scored
            with its test rows' weights. None: rows count alike.
        prefix: a name put before each metric (``prefix="cv"``: ``cv_accuracy``, ``cv_accuracy_std``), so that
            cross-validated scores can be recorded beside an ``Accuracy`` of the same metrics. None: the plain names.

    Returns (from ``measure``): the mean of each metric, and ``<metric>_std``.

    Raises:
        ConfigError: for unknown metrics, fewer than 2 folds or 1 repeat, mismatched lengths, or weights that are
            not one finite non-negative number per row (or all zero).
    """

    needs_training = False  # it trains its own clones
    #: measures an untrained estimator on purpose (the study does not warn that it has no fitted parameters yet)
    fits_its_own_clones = True

    def __init__(self, X: Any, y: Any, metrics: Iterable[str] = ("accuracy",), n_splits: int = 5, repeats: int = 1, seed: int = 0,
                 threshold: float | None = None, pos_label: Any = None, sample_weight: Any = None,
                 prefix: str | None = None) -> None:
        self.prefix = check_prefix("CrossValidated", prefix)
        rows = check_rows("CrossValidated", X, y=y)
        self.sample_weight = check_sample_weight("CrossValidated", sample_weight, rows, X=X)
        if not is_integer(n_splits) or not is_integer(repeats) or n_splits < 2 or repeats < 1:
            raise ConfigError(f"CrossValidated expects integers n_splits >= 2 and repeats >= 1; received {n_splits!r}, {repeats!r}")
        self.X, self.y = X, np.asarray(y)
        base = _check_metrics(metrics)
        _check_pos_label("CrossValidated", y, base, pos_label)
        self.pos_label = pos_label
        self.base_metrics = base
        self.metrics = tuple(self.prefix + m for m in base) + tuple(f"{self.prefix}{m}_std" for m in base)
        check_threshold("CrossValidated", threshold)
        self.n_splits, self.repeats, self.seed, self.threshold = n_splits, repeats, seed, threshold
        self.name = f"{self.prefix}cross_validated"

    def measure(self, model: Any) -> Measurement:
        from sklearn.base import clone
        from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

        classify = any(m in CLASSIFICATION_METRICS for m in self.base_metrics)
        splitter = (RepeatedStratifiedKFold if classify else RepeatedKFold)(n_splits=self.n_splits, n_repeats=self.repeats, random_state=self.seed)
        rows: list[dict[str, float]] = []
        take = (lambda A, i: A.iloc[i]) if hasattr(self.X, "iloc") else (lambda A, i: A[i])
        w = self.sample_weight
        fit_weight = None if w is None else _fit_weight_name(model)
        try:
            for train, test in splitter.split(self.X, self.y if classify else None):
                fit_params = {} if w is None else {fit_weight: w[train]}
                m = clone(model).fit(take(self.X, train), self.y[train], **fit_params)
                rows.append(score(m, take(self.X, test), self.y[test], self.base_metrics, self.threshold, self.pos_label,
                                  None if w is None else w[test]))
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"cross-validation of {type(model).__name__} failed: {type(exc).__name__}: {exc}") from exc
        out = {self.prefix + m: float(np.mean([r[m] for r in rows])) for m in self.base_metrics}
        out.update({f"{self.prefix}{m}_std": float(np.std([r[m] for r in rows], ddof=1)) for m in self.base_metrics})
        return Measurement(out, {f"{self.prefix}cross_validation": {"folds": len(rows), "n_splits": self.n_splits,
                                                                    "repeats": self.repeats}})
