"""Model size: parameters, bytes at the stored and at target precisions, serialized size, peak memory.

All of these need no training: they run on the freshly built model, before ``fit``.

Peak inference memory (:class:`PeakMemory`): on CUDA, ``torch.cuda.max_memory_allocated`` around one
forward pass (minus what was allocated before). On CPU there is no allocator counter, so it is
estimated: parameter and buffer bytes plus the largest ``input + output`` of any single module
during one forward pass (forward hooks), the working set a layer-by-layer runtime needs; the method
is recorded in ``extra["peak_memory_method"]``.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import (
    Measurement,
    StructureProbe,
    is_torch_module,
    is_unfitted_estimator,
    kept_as_it_was,
    names_argument,
    torch_input,
)

__all__ = ["PRECISION_BYTES", "ModelSize", "PeakMemory", "parameter_count"]

#: Bytes per parameter at the target precisions a quantization study compares.
PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}


def parameter_count(model: Any) -> int:
    """Number of parameters: torch parameters, or the sizes of a fitted scikit-learn model's arrays
    (``coef_``, ``intercept_``, ``coefs_``, ``intercepts_``; a kernel model's support vectors or training rows
    and dual coefficients: ``support_vectors_``, ``dual_coef_``, ``X_fit_``; tree node arrays)."""
    if is_torch_module(model):
        return int(sum(p.numel() for p in model.parameters()))
    total = 0
    kernel = getattr(model, "support_vectors_", None) is not None  # a linear SVM's coef_ derives from these
    for attr in ("coef_", "intercept_", "coefs_", "intercepts_", "support_vectors_", "dual_coef_", "X_fit_"):
        if kernel and attr == "coef_":
            continue
        value = getattr(model, attr, None)
        if value is None:
            continue
        arrays = value if isinstance(value, list) else [value]
        total += int(sum(np.size(a) for a in arrays))
    for est in np.ravel(getattr(model, "estimators_", [])):
        tree = getattr(est, "tree_", None)
        if tree is not None:
            total += int(tree.node_count * 2 + tree.value.size)  # thresholds and features + leaf values
    tree = getattr(model, "tree_", None)
    if tree is not None:
        total += int(tree.node_count * 2 + tree.value.size)
    return total


def _saved_buffer_bytes(model: Any) -> int:
    """Bytes of a torch module's buffers that its ``state_dict`` saves (a mask registered with ``persistent=False``
    is rebuilt at load time, not shipped)."""
    parameters = {id(p) for p in model.parameters()}
    return int(sum(t.numel() * t.element_size() for t in model.state_dict(keep_vars=True).values()
                   if hasattr(t, "numel") and id(t) not in parameters))


def _require_fitted(model: Any) -> None:
    """Refuse an unfitted scikit-learn estimator (its size would be a zero nobody measured).

    Raises:
        ProbeError: naming the estimator.
    """
    if is_unfitted_estimator(model):
        raise ProbeError(f"{type(model).__name__} is not fitted: its size is measured after training")


def _require_model(model: Any) -> None:
    """Refuse what is not a model (its pickled size would pass for a model's).

    Raises:
        ProbeError: for None (a ``build`` or ``fit`` that forgot to return the model) or plain data.
    """
    if model is None:
        raise ProbeError("received None instead of a model: does build (or fit) return the model?")
    if isinstance(model, (str, bytes, int, float, bool, dict, list, tuple, set, np.ndarray, np.generic)):
        raise ProbeError(
            f"expected a model (a torch module, or an estimator with predict); received a {type(model).__name__}"
        )


class ModelSize(StructureProbe):
    """Parameters and bytes of a model.

    Metrics: ``param_count``; ``size_kb`` (bytes of the parameters and of a torch module's buffers, such as
    BatchNorm statistics, at their stored dtypes / 1024); ``size_kb_<p>`` for each target precision ``p`` in
    ``precisions`` (e.g. ``size_kb_int8``: the parameters at that precision, the buffers as stored);
    ``serialized_kb`` (``torch.save`` of the ``state_dict``, or pickle for other models). Buffers count as the
    ``state_dict`` saves them (not those registered with ``persistent=False``). A model sized by its pickle (a
    pipeline, k-NN) has no size at another precision: ``size_kb_<p>`` is NaN (left out where nothing needs it).

    A model that will be deployed at a lower precision can say so with an attribute,
    ``model.moo_hpo_precision = "int8"``: ``size_kb`` is then counted at that precision (the
    edge-sizing example searches fp32 vs. int8 this way).

    Args:
        precisions: target precisions to report (keys of :data:`PRECISION_BYTES`).
    """

    needs_training = False
    name = "model_size"

    def __init__(self, precisions: Iterable[str] = ()) -> None:
        self.precisions = names_argument("ModelSize", "precisions", precisions)
        bad = [p for p in self.precisions if p not in PRECISION_BYTES]
        if bad:
            raise ConfigError(f"unknown precision(s) {bad}; expected some of {sorted(PRECISION_BYTES)}")
        self.metrics = ("param_count", "size_kb", "serialized_kb") + tuple(f"size_kb_{p}" for p in self.precisions)

    def measure(self, model: Any) -> Measurement:
        _require_model(model)
        n = parameter_count(model)
        target = getattr(model, "moo_hpo_precision", None)
        if target is not None and target not in PRECISION_BYTES:
            raise ProbeError(f"model.moo_hpo_precision must be one of {sorted(PRECISION_BYTES)}; received {target!r}")
        buffers = 0  # bytes of a torch module's saved buffers (BatchNorm statistics), at their dtypes at any precision
        if is_torch_module(model):
            buffers = _saved_buffer_bytes(model)
            stored = sum(p.numel() * p.element_size() for p in model.parameters()) + buffers
            import torch

            buf = io.BytesIO()
            torch.save(model.state_dict(), buf)
            serialized = buf.tell()
        else:
            _require_fitted(model)
            stored = 8 * n  # scikit-learn keeps float64 arrays
            try:
                serialized = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as exc:  # noqa: BLE001 - any pickling failure means no serialized size
                raise ProbeError(
                    f"cannot measure the serialized size of {type(model).__name__}: pickling it raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        if n == 0 and not is_torch_module(model):
            # no parameter arrays known for this model type (k-NN, histogram boosting ...): the pickled size is its size,
            # and no parameter count is recorded rather than a zero that was never measured
            out = {"size_kb": serialized / 1024.0, "serialized_kb": serialized / 1024.0}
            # no size at another precision: NaN, left out where nothing needs it, a failed trial saying so where it is
            out.update({f"size_kb_{p}": float("nan") for p in self.precisions})
            note = {"deployed_precision": target, "size_kb": "pickled size (no parameter arrays known)"}
            if self.precisions:
                note["precisions"] = f"none: {type(model).__name__} is sized by its pickle, its parameter arrays are not known"
            return Measurement(out, {"size": note})
        if target is not None:  # the model declares the precision it will be deployed at
            stored = n * PRECISION_BYTES[target] + buffers
        out = {"param_count": float(n), "size_kb": stored / 1024.0, "serialized_kb": serialized / 1024.0}
        out.update({f"size_kb_{p}": (n * PRECISION_BYTES[p] + buffers) / 1024.0 for p in self.precisions})
        return Measurement(out, {"size": {"deployed_precision": target}})


class PeakMemory(StructureProbe):
    """Peak memory of one inference, ``peak_memory_kb`` (see the module docstring for the method).

    Args:
        example: an input batch (tensor or array) for one forward pass: ``X[:1]`` for one sample (where
            :class:`~moo_hpo.objectives.Latency` takes ``X[0]``). The module is handed back in the mode it came in.
    """

    needs_training = False
    name = "peak_memory"
    metrics = ("peak_memory_kb",)

    def __init__(self, example: Any) -> None:
        self.example = example

    def measure(self, model: Any) -> Measurement:
        if not is_torch_module(model):
            raise ProbeError(f"peak memory is measured for torch modules; received {type(model).__name__}")
        with kept_as_it_was(model):  # in eval mode for the pass, handed back in the mode it came in
            return self._measure(model)

    def _measure(self, model: Any) -> Measurement:
        import torch

        x = torch_input(model, self.example)
        device = x.device
        model.eval()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            _forward(model, x)
            torch.cuda.synchronize(device)
            peak = torch.cuda.max_memory_allocated(device)  # everything resident at the peak, weights included
            return Measurement({"peak_memory_kb": peak / 1024.0}, {"peak_memory_method": "cuda max_memory_allocated"})
        largest = [0]

        def hook(_module: Any, inputs: Any, output: Any) -> None:
            def nbytes(obj: Any) -> int:
                if isinstance(obj, torch.Tensor):
                    return obj.numel() * obj.element_size()
                if isinstance(obj, (list, tuple)):
                    return sum(nbytes(o) for o in obj)
                return 0

            largest[0] = max(largest[0], nbytes(inputs) + nbytes(output))

        handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
        try:
            _forward(model, x)
        finally:
            for h in handles:
                h.remove()
        static = sum(p.numel() * p.element_size() for p in model.parameters())
        static += sum(b.numel() * b.element_size() for b in model.buffers())
        return Measurement(
            {"peak_memory_kb": (static + largest[0]) / 1024.0},
            {"peak_memory_method": "cpu estimate: parameters + buffers + largest module input+output"},
        )


def _forward(model: Any, x: Any) -> None:
    """One inference pass for :class:`PeakMemory`.

    Raises:
        ProbeError: when the model cannot run on the example (a wrong shape, most often).
    """
    import torch

    try:
        with torch.inference_mode():
            model(x)
    except Exception as exc:  # noqa: BLE001 - the model's own error, named
        raise ProbeError(
            f"peak memory: one forward pass of {type(model).__name__} on the example of shape {tuple(x.shape)} raised "
            f"{type(exc).__name__}: {exc} (PeakMemory's example is a batch, such as X[:1], where Latency's is one "
            "sample, X[0])"
        ) from exc
