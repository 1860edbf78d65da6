"""The probe protocol: a probe measures a model and returns named metrics (units in the names).

A probe says which metrics it provides (:attr:`Probe.metrics`) and whether it needs a trained model
(:attr:`Probe.needs_training`). Probes that need no training (size, latency) run on the freshly
built model, so a candidate that already breaks a hard constraint is never trained.
``measure(model)`` returns a :class:`Measurement`: a ``dict`` of metric name -> float that also
carries JSON-able ``extra`` data (per-group tables, the device name ...), so a probe can be used on
its own too.

A custom probe is a small subclass, or a function wrapped by :func:`probe`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError

__all__ = [
    "FunctionProbe",
    "Measurement",
    "Probe",
    "StructureProbe",
    "check_rows",
    "is_torch_module",
    "is_unfitted_estimator",
    "kept_as_it_was",
    "predict_labels",
    "predict_scores",
    "ranking_scores",
    "probe",
]


class Measurement(dict):
    """Metric name -> float, plus JSON-able :attr:`extra` data (like :class:`~moo_hpo.Result`, whose ``metrics`` and
    ``extra`` it has: ``mh.Result(m.metrics, extra=m.extra)``)."""

    def __init__(self, metrics: Mapping[str, float] | None = None, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__({k: float(v) for k, v in (metrics or {}).items()})
        self.extra: dict[str, Any] = dict(extra or {})

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics as a plain dict (the measurement itself is that mapping)."""
        return dict(self)


class Probe:
    """Base class of probes.

    Attributes:
        name: the probe's name (used in error messages and reports).
        needs_training: False when the probe can measure an untrained model (size, latency).
        metrics: names of the metrics it returns.
    """

    name: str = "probe"
    needs_training: bool = True
    metrics: tuple[str, ...] = ()

    def needs_training_for(self, model: Any) -> bool:
        """Whether this probe must wait for ``model`` to be trained: ``needs_training``, unless the probe
        decides per model type (see :class:`StructureProbe`)."""
        return self.needs_training


class StructureProbe(Probe):
    """A probe of a model's structure (size, latency, memory), which a torch module has as soon as it is built.

    A scikit-learn estimator has no parameters and no ``predict`` before ``fit``, so these probes measure
    it after training.
    """

    needs_training = False

    def needs_training_for(self, model: Any) -> bool:
        """False for a torch module (measured as built), True for anything else (measured once trained)."""
        return not is_torch_module(model)

    def measure(self, model: Any) -> Measurement:  # pragma: no cover - abstract
        """Measure ``model``.

        Raises:
            ProbeError: when the model cannot be measured.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metrics={list(self.metrics)}, needs_training={self.needs_training})"


def check_threshold(owner: str, threshold: Any, error: type[Exception] = ConfigError) -> None:
    """A decision threshold on the positive-class probability: None, or a number strictly between 0 and 1.

    Raises:
        ConfigError (or ``error``): naming ``owner`` and what was received.
    """
    if threshold is None:
        return
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) or not 0 < threshold < 1:
        raise error(f"{owner}: threshold must be a probability strictly between 0 and 1 (or None); received {threshold!r}")


def check_device(owner: str, device: Any, others: tuple[str, ...] = ()) -> str:
    """A probe's ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:<n>"`` or one of ``others``.

    Raises:
        ConfigError: naming the probe and what was received (``"gpu"`` is not taken for ``"cuda"``: an energy probe
            would otherwise read the CPU's counter for it).
    """
    if isinstance(device, str) and (device in ("cpu", "cuda", *others) or re.fullmatch(r"cuda:\d+", device)):
        return device
    hint = " (for an NVIDIA GPU: 'cuda')" if isinstance(device, str) and device.lower().startswith("gpu") else ""
    names = ", ".join(repr(d) for d in ("cpu", "cuda", "cuda:<n>", *others))
    raise ConfigError(f"{owner}: device must be one of {names}; received {device!r}{hint}")


def check_metric_prefix(owner: str, prefix: Any) -> str:
    """A probe's ``prefix``, which its metric names start with before an underscore (``"latency"`` ->
    ``latency_p50_ms``; ``"latency_"`` names the same).

    Raises:
        ConfigError: for a prefix that is not a name (text without spaces, not only underscores).
    """
    if not isinstance(prefix, str) or not prefix.strip("_") or any(c.isspace() for c in prefix):
        raise ConfigError(f"{owner}: expected prefix to be a name without spaces (such as 'latency'); received {prefix!r}")
    if prefix.startswith("holdout"):
        raise ConfigError(f"{owner}: prefix {prefix!r} would name its metrics as held-out figures (holdout_...); choose another")
    return prefix.rstrip("_")


def check_positive_option(owner: str, name: str, value: Any, allow_zero: bool = False) -> None:
    """An optional number option (watts, grid intensity): None, or a finite number > 0 (>= 0 with ``allow_zero``).

    Raises:
        ConfigError: naming ``owner``, the option and what was received.
    """
    if value is None:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{owner}: {name} must be a finite number {'>=' if allow_zero else '>'} 0 or None; received {value!r}")


def names_argument(owner: str, argument: str, value: Any) -> tuple[str, ...]:
    """A probe argument that lists names: one string is one name, not its letters.

    Raises:
        ConfigError: for a value that is neither a string nor an iterable of strings.
    """
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, Iterable) or isinstance(names, (bytes, Mapping)):
        raise ConfigError(f"{owner}: {argument} must be a name or a list of names; received {value!r}")
    names = tuple(names)
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise ConfigError(f"{owner}: {argument} must hold non-empty strings; received {value!r}")
    return names


class FunctionProbe(Probe):
    """A probe made from a function ``fn(model) -> mapping`` (see :func:`probe`)."""

    def __init__(self, fn: Callable[[Any], Mapping[str, float]], metrics: Iterable[str], needs_training: bool = True, name: str | None = None):
        if not callable(fn):
            raise ConfigError(f"probe expects a callable fn(model) -> metrics; received {fn!r}")
        self.fn = fn
        self.metrics = names_argument("probe", "metrics", metrics)
        if not self.metrics:
            raise ConfigError("a probe must name the metrics it returns; received none")
        self.needs_training = needs_training
        self.name = name or getattr(fn, "__name__", "probe")

    def measure(self, model: Any) -> Measurement:
        return checked_measurement(self, self.fn(model))


def checked_measurement(probe: Any, result: Any) -> Measurement:
    """What a probe of the user's measured, checked against what it declares (its ``metrics``).

    Raises:
        ProbeError: naming the probe, for a result that is not a mapping of its declared metrics to numbers.
    """
    name = getattr(probe, "name", type(probe).__name__)
    if not isinstance(result, Mapping):
        raise ProbeError(f"probe {name!r} returned {type(result).__name__}; expected a mapping of metric name to float "
                         "(or mh.objectives.Measurement)")
    for metric, value in result.items():
        try:
            float(value)
        except (TypeError, ValueError):
            raise ProbeError(f"probe {name!r} returned {value!r} for {metric!r}; expected a number") from None
    declared = tuple(probe.metrics)
    undeclared = [k for k in result if k not in declared]
    missing = [k for k in declared if k not in result]
    if undeclared or missing:
        raise ProbeError(
            f"probe {name!r} declares the metrics {list(declared)} but returned {list(result)}"
            + (f" (not declared: {undeclared})" if undeclared else "")
            + (f" (missing: {missing})" if missing else "")
        )
    return result if isinstance(result, Measurement) else Measurement(result)


def probe(metrics: Iterable[str], needs_training: bool = True, name: str | None = None) -> Callable[[Callable[[Any], Mapping[str, float]]], FunctionProbe]:
    """Decorator: turn ``fn(model) -> {metric: value}`` into a probe.

    Example:
        ```python
        @mh.objectives.probe(metrics=["sparsity"], needs_training=True)
        def sparsity(model):
            return {"sparsity": float((model.coef_ == 0).mean())}
        ```
    """

    def wrap(fn: Callable[[Any], Mapping[str, float]]) -> FunctionProbe:
        return FunctionProbe(fn, metrics, needs_training, name)

    return wrap


# ---------------------------------------------------------------------------- model adapters
def is_torch_module(model: Any) -> bool:
    """True for a ``torch.nn.Module`` (without importing torch when it is not loaded)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def is_unfitted_estimator(model: Any) -> bool:
    """Whether ``model`` is a scikit-learn estimator that was not fitted yet."""
    try:
        from sklearn.base import BaseEstimator
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    if not isinstance(model, BaseEstimator):
        return False
    try:
        check_is_fitted(model)
    except NotFittedError:
        return True
    return False


@contextlib.contextmanager
def kept_as_it_was(model: Any) -> Iterator[None]:
    """Hand a torch module back in the mode (``training``) and on the device it came in, whatever the block
    did with it (a probe that runs before training must not leave dropout and batch norm switched off, or the
    model on another device, for the training that follows). Anything else passes through."""
    if not is_torch_module(model):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]  # each sub-module's (a frozen batch norm stays frozen)
    devices = {t.device for t in (*model.parameters(), *model.buffers())}
    home = next(iter(devices)) if len(devices) == 1 else None  # a model split across devices is not moved back
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        if home is not None and {t.device for t in (*model.parameters(), *model.buffers())} != {home}:
            model.to(home)


def predict_scores(model: Any, X: Any) -> np.ndarray:
    """Class probabilities ``(n, k)`` (or the positive-class probability ``(n,)`` for binary tasks).

    scikit-learn: ``predict_proba`` (else ``decision_function`` through a logistic). PyTorch: the
    module's output, read as logits (one column -> sigmoid, several -> softmax) unless it outputs probabilities
    (see :mod:`moo_hpo.objectives.torch_outputs`).
    """
    if is_torch_module(model):
        from moo_hpo.objectives.torch_outputs import torch_class_scores

        return torch_class_scores(model, X)
    if hasattr(model, "predict_proba"):
        p = np.asarray(model.predict_proba(X))
        return p[:, 1] if p.ndim == 2 and p.shape[1] == 2 else p
    if hasattr(model, "decision_function"):
        from scipy.special import expit

        d = np.asarray(model.decision_function(X), dtype=float)
        return expit(d) if d.ndim == 1 else d
    raise ProbeError(f"cannot get scores from {type(model).__name__}: expected predict_proba, decision_function or a torch module")


def ranking_scores(model: Any, X: Any) -> np.ndarray:
    """Scores to rank rows by (``roc_auc``): :func:`predict_scores`, but for a binary torch module its logits, which
    order the rows as the probabilities do without their rounding to 1 (a float sigmoid saturates), and for a model
    without ``predict_proba`` its ``decision_function``."""
    if is_torch_module(model):
        from moo_hpo.objectives.torch_outputs import torch_class_scores

        return torch_class_scores(model, X, logits=True)
    if not hasattr(model, "predict_proba") and hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=float)
    return predict_scores(model, X)


def predict_labels(model: Any, X: Any, threshold: float | None = None, pos_label: Any = None, y: Any = None,
                   scores: np.ndarray | None = None) -> np.ndarray:
    """Predicted labels; a binary task with ``threshold`` uses ``score >= threshold``, the score being the
    probability of ``pos_label``.

    A model with ``classes_`` (scikit-learn's) gets its own labels back: the positive label where its score reaches
    the threshold, the other label elsewhere (so labels such as -1/1 or ``">50K"`` compare with ``y``); a torch
    module, the class index. The positive label is ``pos_label`` (a label of ``classes_``; for a torch module the
    class index 0 or 1), else the second class (``classes_[1]``, class index 1).

    ``scores``: :func:`predict_scores` of ``model`` on ``X`` when they were computed already.

    Raises:
        ProbeError: for a threshold that is not a probability (a model's ``moo_hpo_threshold`` too); with ``y`` (the
            labels the predictions are compared with), for a torch module whose class indices cannot be ``y``'s.
    """
    check_threshold("predict", threshold, ProbeError)
    if threshold is not None or is_torch_module(model):
        s = predict_scores(model, X) if scores is None else scores
        classes = None if is_torch_module(model) else getattr(model, "classes_", None)
        if classes is None and y is not None and is_torch_module(model):
            _check_class_indices(y, 2 if s.ndim == 1 else s.shape[1], type(model).__name__)
        if s.ndim == 1:
            # the score is the second class's probability: for a positive first class, its own is 1 - s
            first_positive = pos_label is not None and (
                pos_label == classes[0] if classes is not None and len(classes) == 2 else pos_label == 0)
            cut = 0.5 if threshold is None else threshold
            index = ((1.0 - s) < cut).astype(int) if first_positive else (s >= cut).astype(int)
        else:
            index = np.argmax(s, axis=1)
        if classes is not None and len(classes) > int(index.max(initial=0)):
            return np.asarray(classes)[index]
        return index
    if hasattr(model, "predict"):
        return np.asarray(model.predict(X))
    raise ProbeError(f"cannot get predictions from {type(model).__name__}: expected predict or a torch module")


def _check_class_indices(y: Any, n_classes: int, model_name: str) -> None:
    """Refuse labels that a torch module's class indices ``0 .. n_classes - 1`` cannot equal (-1/1, or 2/5 beside two
    outputs): each row would be scored wrong in silence."""
    values = np.unique(np.asarray(y))
    if values.dtype.kind not in "iubf" or (values.min(initial=0) >= 0 and values.max(initial=0) < n_classes):
        return
    shown = [v.item() if hasattr(v, "item") else v for v in values[:5]]
    pairs = ", ".join(f"{i} for {v!r}" for i, v in enumerate(shown[:3]))
    raise ProbeError(f"{model_name} predicts class indices 0 to {n_classes - 1} ({n_classes} classes from its "
                     f"{'one output' if n_classes == 2 else f'{n_classes} outputs'}), which cannot be compared with the "
                     f"labels {shown}; give y as class indices ({pairs}, as np.unique sorts them)")


def check_torch_labels(name: str, model: Any, labels: Any) -> None:
    """A torch module predicts class indices (0, 1, ...): labels that are not integers cannot be compared with them.

    Raises:
        ProbeError: for a torch module beside labels such as ``"yes"`` / ``"no"``, saying how to give them.
    """
    if not is_torch_module(model):
        return
    values = np.unique(np.asarray(labels))
    if values.dtype.kind in "iub" or (values.dtype.kind == "f" and np.all(np.mod(values, 1) == 0)):
        return
    shown = [v.item() if hasattr(v, "item") else v for v in values[:5]]
    pairs = ", ".join(f"{i} for {v!r}" for i, v in enumerate(shown[:3]))
    raise ProbeError(f"{name}: a torch module predicts class indices (0, 1, ...), which cannot be compared with the labels "
                     f"{shown}; give y as class indices ({pairs}, as np.unique sorts them), and pos_label as an index")


def check_rows(name: str, X: Any, **others: Any) -> int:
    """Number of rows of ``X`` (a sparse matrix too).

    The arrays are read row by row, by position (as scikit-learn and fairlearn read them). A pandas ``X`` beside a
    Series or DataFrame whose index holds the same labels in another order (``X`` sorted or shuffled after the split)
    pairs rows one way by position and another by label: refused, as ambiguous.

    Raises:
        ConfigError: for an ``X`` of no rows; naming the array whose length differs, or whose index is ``X``'s in
            another order.
    """
    n = _rows(X)
    if n == 0:
        raise ConfigError(f"{name}: expected data of at least one row; received X with 0 rows")
    for label, arr in others.items():
        if arr is not None and _rows(arr) != n:
            raise ConfigError(f"{name}: expected {label} with {n} rows (like X); received {_rows(arr)} rows")
        _check_same_order(name, X, arr, label)
    return n


def _check_same_order(name: str, X: Any, other: Any, label: str) -> None:
    """Refuse a pandas ``other`` whose index is a reordering of pandas ``X``'s (see :func:`check_rows`)."""
    mine, theirs = getattr(X, "index", None), getattr(other, "index", None)
    if mine is None or theirs is None or not hasattr(mine, "equals") or not hasattr(theirs, "equals"):
        return
    if mine.equals(theirs):
        return
    try:  # the same labels, each as often (repeated labels too), in another order
        reordered = mine.sort_values().equals(theirs.sort_values())
    except TypeError:  # labels of types that do not sort together: not one index reordered
        reordered = False
    if not reordered:
        return
    raise ConfigError(f"{name}: {label} has the same index labels as X in another order, so its rows pair with X's "
                      f"one way by position (how they are read) and another by label; if the labels are right, align it "
                      f"({label}.loc[X.index]); if the positions are, reset both indexes")


def _rows(data: Any) -> int:
    """Rows of an array, DataFrame or sparse matrix (which has a shape but no ``len``)."""
    shape = getattr(data, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) > 0 else len(data)


def check_sample_weight(name: str, weight: Any, rows: int, what: str = "sample_weight", X: Any = None) -> np.ndarray | None:
    """``weight`` as a float array of one weight per row, or None when not given.

    Args:
        name: the probe's name, for error messages.
        weight: one non-negative weight per row (a list, array or Series), or None.
        rows: how many rows the data has.
        what: the argument's name, for error messages.
        X: the rows' features: a pandas ``X`` beside a Series of weights whose index is X's in another order is
            refused, as :func:`check_rows` refuses such labels.

    Returns:
        The weights as a 1-D float array, or None.

    Raises:
        ConfigError: for weights that are not one number per row, missing, infinite or negative, or all zero, or in
            another order than ``X``.
    """
    if weight is None:
        return None
    if X is not None:
        _check_same_order(name, X, weight, what)
    try:
        values = np.asarray(weight, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected {what} to be numbers, one per row; received {type(weight).__name__} "
                          "that does not convert to numbers") from None
    if values.ndim != 1 or len(values) != rows:
        raise ConfigError(f"{name}: expected {what} with one weight per row ({rows} rows, like X); received shape {values.shape}")
    bad = int((~np.isfinite(values)).sum())
    if bad:
        raise ConfigError(f"{name}: {what} has {bad} missing or infinite weight(s); expected a finite weight per row")
    if (values < 0).any():
        raise ConfigError(f"{name}: {what} has {int((values < 0).sum())} negative weight(s) (the smallest "
                          f"{values.min():g}); expected weights >= 0")
    if not values.sum() > 0:
        raise ConfigError(f"{name}: every weight in {what} is 0; expected some row to count")
    return values


def check_prefix(name: str, prefix: Any) -> str:
    """A probe's ``prefix`` as the text its metric names start with: ``"sex"`` -> ``"sex_"``; None -> ``""``.

    Raises:
        ConfigError: for a prefix that is not a name of letters, digits and underscores, or one that starts with
            ``holdout`` (the held-out figures' own prefix).
    """
    if prefix is None:
        return ""
    if not isinstance(prefix, str) or not prefix.replace("_", "a").isalnum() or not prefix.strip("_"):
        raise ConfigError(f"{name}: expected prefix to be a name of letters, digits and underscores (such as 'sex'); "
                          f"received {prefix!r}")
    if prefix.startswith("holdout"):
        raise ConfigError(f"{name}: a prefix starting with 'holdout' would read as a held-out figure; received {prefix!r}")
    return prefix.rstrip("_") + "_"
