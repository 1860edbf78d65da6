"""Model size: parameters, bytes at the stored and at target precisions, serialized size, peak memory.

All of these need no training: they run on the freshly built model, before ``fit``.

Peak inference memory (:class:`PeakMemory`): on CUDA, ``torch.cuda.max_memory_allocated`` around one
forward pass (minus what was allocated before). On CPU there is no allocator counter, so it is
estimated: parameter and buffer bytes (a quantized module's packed weights as it stores them) plus the largest
``input + output`` of any layer during one forward pass (forward hooks; a layer is a module inside whose forward no
other module ran, a weight's parametrization aside; each storage counted once, a view with the tensor it views,
keyword arguments included, the model's weights left out) or of any
single operation in it (work a module does in its own forward beside its children's calls, such as ``h @ h.T``; see
:mod:`moo_hpo.objectives.op_memory`), the working set a layer-by-layer runtime needs; the method is recorded in
``extra["peak_memory_method"]``.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import (
    Measurement,
    StructureProbe,
    is_torch_module,
    is_unfitted_estimator,
    kept_as_it_was,
    names_argument,
)
from moo_hpo.objectives.inputs import check_example, torch_input

__all__ = ["PRECISION_BYTES", "ModelSize", "PeakMemory", "parameter_count"]

#: Bytes per parameter at the target precisions a quantization study compares.
PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}
#: Precisions whose deployments keep biases at 32 bits (int32 in full-integer models, fp32 in dynamic quantization).
INTEGER_PRECISIONS = ("int8", "int4")


def bytes_at_precision(count: int, biases: int, precision: str) -> float:
    """Bytes of parameters deployed at a precision.

    Args:
        count: how many parameters.
        biases: how many of them are biases.
        precision: a key of :data:`PRECISION_BYTES`.

    Returns:
        At an integer precision (:data:`INTEGER_PRECISIONS`), the weights at its bytes and the biases at four (int32
        or fp32, as integer deployments keep them); at a float precision, every parameter at its bytes.
    """
    if precision in INTEGER_PRECISIONS:
        return (count - biases) * PRECISION_BYTES[precision] + biases * 4
    return count * PRECISION_BYTES[precision]


def parameter_count(model: Any) -> int:
    """Number of parameters: a torch module's (its quantized and packed weights and biases included, a pruned weight
    once: see :func:`~moo_hpo.objectives.torch_state.torch_state`), or the sizes of a fitted scikit-learn model's
    arrays (``coef_``, ``intercept_``, ``coefs_``, ``intercepts_``; a kernel model's support vectors or training rows
    and dual coefficients: ``support_vectors_``, ``dual_coef_``, ``X_fit_``; tree node arrays)."""
    if is_torch_module(model):
        from moo_hpo.objectives.torch_state import torch_state

        return torch_state(model).param_count
    return _estimator_counts(model).total


class _ArrayCounts(NamedTuple):
    """A scikit-learn model's arrays, counted (see :func:`_estimator_counts`)."""

    total: int  # parameters (a sparse array's: its shape's entries)
    nonzero: int  # of those, not zero (a tree's node entries all count: every node is stored, whatever its value)
    stored: int  # bytes as stored: each array at its own dtype, a sparse one's values and indices, a tree's at 8
    biases: int  # of the parameters, biases (intercept_, intercepts_)
    unstored: int  # of the parameters, the zeros a sparse array does not store
    index_bytes: int  # bytes of the sparse arrays' indices (kept as they are at any precision)


def _estimator_counts(model: Any) -> _ArrayCounts:
    """Count a scikit-learn model's arrays: each at its own dtype (a model fitted on float32 data keeps float32
    coefficients); a sparse one (``sparsify()``) as its stored values and their indices; a tree's entries at 8 bytes
    (float64 thresholds and values, int64 features)."""
    total = nonzero = stored = biases = unstored = index_bytes = 0
    kernel = getattr(model, "support_vectors_", None) is not None  # a linear SVM's coef_ derives from these
    for attr in ("coef_", "intercept_", "coefs_", "intercepts_", "support_vectors_", "dual_coef_", "X_fit_"):
        if kernel and attr == "coef_":
            continue
        value = getattr(model, attr, None)
        if value is None:
            continue
        for a in value if isinstance(value, list) else [value]:
            if _is_sparse(a):  # scipy sparse (sparsify()): its shape's entries, stored as values and their indices
                total += int(np.prod(a.shape))
                unstored += int(np.prod(a.shape)) - int(a.data.size)
                indices = sum(int(getattr(a, k).nbytes) for k in ("indices", "indptr", "row", "col")
                              if isinstance(getattr(a, k, None), np.ndarray))
                index_bytes += indices
                stored += int(a.data.nbytes) + indices
            else:
                arr = np.asarray(a)
                total += int(arr.size)
                stored += int(arr.nbytes)
                biases += int(arr.size) if attr in ("intercept_", "intercepts_") else 0
            nonzero += _count_nonzero(a)
    trees = [getattr(est, "tree_", None) for est in np.ravel(getattr(model, "estimators_", []))]
    trees.append(getattr(model, "tree_", None))
    for tree in trees:
        if tree is not None:
            entries = int(tree.node_count * 2 + tree.value.size)  # thresholds and features + leaf values
            total += entries
            nonzero += entries
            stored += 8 * entries
    return _ArrayCounts(total, nonzero, stored, biases, unstored, index_bytes)


def _is_sparse(array: Any) -> bool:
    """Whether ``array`` is a scipy sparse matrix or array (CSR, CSC, COO ...)."""
    try:
        from scipy.sparse import issparse
    except ImportError:  # scipy comes with scikit-learn; without it no model holds a sparse array
        return False
    return bool(issparse(array))


def _count_nonzero(array: Any) -> int:
    """Nonzero entries of an array (a scipy sparse matrix, after ``sparsify()``, counts its stored nonzeros)."""
    if hasattr(array, "count_nonzero") and not isinstance(array, np.ndarray):
        return int(array.count_nonzero())
    return int(np.count_nonzero(array))


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
        ProbeError: for None (a ``build`` or ``fit`` that forgot to return the model), a class, or plain data.
    """
    if model is None:
        raise ProbeError("received None instead of a model: does build (or fit) return the model?")
    if isinstance(model, type):  # nn.Linear for nn.Linear(...): a class pickles to a few bytes
        raise ProbeError(f"expected a model; received the class {model.__name__} itself: call it to make the model "
                         f"({model.__name__}(...))")
    if isinstance(model, (str, bytes, int, float, bool, dict, list, tuple, set, np.ndarray, np.generic)):
        raise ProbeError(
            f"expected a model (a torch module, or an estimator with predict); received a {type(model).__name__}"
        )
    _refuse_torchscript(model)


def _refuse_torchscript(model: Any, hooked: bool = False) -> None:
    """Refuse a TorchScript module (``torch.jit.script`` / ``trace``) whose packed quantized weights cannot be read (a
    scripted quantized model measured 0 KB and passed every size budget), and with ``hooked`` any TorchScript module
    (it takes no forward hooks), and a model that is itself scripted. A scripted float module inside a model reads as
    any module.

    Raises:
        ProbeError: naming the module and what to measure instead.
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        return
    for name, m in model.named_modules():
        if not isinstance(m, torch.jit.ScriptModule):
            continue
        packed = any(getattr(sub, "original_name", "").endswith("PackedParams") for sub in m.modules())
        if hooked or packed or not name:  # a scripted model itself: its submodules cannot be looked up by name
            why = ("its packed quantized weights cannot be read" if packed else "its layers take no forward hooks" if hooked
                   else "its layers cannot be looked up")
            raise ProbeError(
                f"the model holds a TorchScript module ({name or 'the model itself'}: {m.original_name}), which this "
                f"probe cannot measure ({why}): measure the module before torch.jit.script (return it from fit, and "
                "script it for deployment after the study); its size and memory are the same"
            )


class ModelSize(StructureProbe):
    """Parameters and bytes of a model.

    Metrics: ``param_count``; ``param_count_nonzero`` (how many of those parameters are not zero: what pruning or
    L1 regularisation left; a tree's node entries all count); ``size_kb`` (bytes of the parameters and of a torch
    module's buffers, such as BatchNorm statistics, at their stored dtypes / 1024); ``size_kb_<p>`` for each target
    precision ``p`` in ``precisions`` (e.g. ``size_kb_int8``: the parameters at that precision, at ``int8`` and
    ``int4`` the biases at four bytes, see :func:`bytes_at_precision`; the buffers as stored); ``serialized_kb``
    (``torch.save`` of the ``state_dict``, or pickle for other models). Buffers count as the ``state_dict`` saves
    them (not those registered with ``persistent=False``). A model sized by its pickle (a pipeline, k-NN) has no parameter count and no size at another precision: ``size_kb_<p>`` is NaN (left out where
    nothing needs it).

    A quantized torch module (``torch.ao.quantization.quantize_dynamic``, or ``prepare`` and ``convert``) keeps its
    weights packed, outside ``parameters()``; they are read from its ``state_dict``
    (:mod:`moo_hpo.objectives.torch_state`): ``param_count`` counts its quantized weights and biases as the float
    model's; ``size_kb`` the bytes it stores: int8 weights at one byte each, their scales and zero points, biases as
    stored (fp32), the output scale and zero point of each quantized layer. ``size_kb_<p>`` is, as for any model,
    its parameters at ``p`` (its ``size_kb_fp32`` is its size dequantized), with its scales, zero points and buffers
    as stored, but never less than the model stores: an int8 model's ``size_kb_int8`` is its ``size_kb`` (its fp32
    biases stay fp32), and so is its ``size_kb_int4`` (it is not stored at four bits). A
    quantized module whose packed weights cannot be read raises :class:`~moo_hpo.ProbeError` naming it, rather than
    measuring as nothing. ``trial.extra["size"]["quantized"]`` names the quantized dtypes found.

    A pruned torch module (``torch.nn.utils.prune``: parameter ``weight_orig``, buffer ``weight_mask``) is measured
    as it ships once the pruning is made permanent (``prune.remove``): each weight counts once, densely, the mask not
    at all, so a pruned model is never larger than the same model unpruned; ``param_count_nonzero`` counts what the
    mask kept, the figure a sparse format stores; ``serialized_kb`` saves the masked weight in place of the two.
    ``trial.extra["size"]["pruned"]`` names the pruned tensors.

    A model that will be deployed at a lower precision can say so with an attribute,
    ``model.moo_hpo_precision = "int8"``: ``size_kb`` is then counted at that precision (the
    edge-sizing example searches fp32 vs. int8 this way).

    Args:
        precisions: target precisions to report (keys of :data:`PRECISION_BYTES`).

    Raises:
        ConfigError: for a precision that is not one of :data:`PRECISION_BYTES`.
    """

    needs_training = False
    name = "model_size"

    def __init__(self, precisions: Iterable[str] = ()) -> None:
        self.precisions = names_argument("ModelSize", "precisions", precisions)
        bad = [p for p in self.precisions if p not in PRECISION_BYTES]
        if bad:
            raise ConfigError(f"unknown precision(s) {bad}; expected some of {sorted(PRECISION_BYTES)}")
        self.metrics = ("param_count", "param_count_nonzero", "size_kb", "serialized_kb") + tuple(
            f"size_kb_{p}" for p in self.precisions)

    def measure(self, model: Any) -> Measurement:
        """Measure ``model`` (a torch module, or a fitted scikit-learn estimator).

        Raises:
            ProbeError: for what is not a model, an unfitted estimator, a model that cannot be pickled, an unknown
                ``model.moo_hpo_precision``, or a quantized torch module whose packed weights cannot be read.
        """
        _require_model(model)
        target = getattr(model, "moo_hpo_precision", None)
        if target is not None and target not in PRECISION_BYTES:
            raise ProbeError(f"model.moo_hpo_precision must be one of {sorted(PRECISION_BYTES)}; received {target!r}")
        # bytes stored beside the parameters at any precision: a torch module's saved buffers (BatchNorm statistics),
        # the scales and zero points of its quantized weights, at their dtypes
        kept = 0.0
        unstored = 0  # parameters a sparse array does not store (zeros): counted, but taking no bytes at any precision
        note: dict[str, Any] = {"deployed_precision": target}
        if is_torch_module(model):
            import torch

            from moo_hpo.objectives.torch_state import saved_state_dict, torch_state

            state = torch_state(model)
            n, nonzero, biases = state.param_count, state.param_count_nonzero, state.bias_count
            kept = state.qparam_bytes + state.buffer_bytes + state.index_bytes  # a sparse weight's indices as they are
            unstored = state.unstored
            stored = state.stored_bytes
            buf = io.BytesIO()
            torch.save(saved_state_dict(model, pruned=bool(state.pruned)), buf)
            serialized = buf.tell()
            if state.quantized:
                note["quantized"] = state.quantized
                if target is not None:  # it stores what it stores: a declared precision would count fp32 biases at it
                    note["deployed_precision"] = f"{target} (not applied: the model is quantized; size_kb is what it stores)"
                    target = None
            if state.pruned:
                note["pruned"] = state.pruned
        else:
            n, nonzero, stored, biases, unstored, kept = _estimator_counts(model)  # kept: a sparse array's indices
            _require_fitted(model)
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
            stored = bytes_at_precision(n - unstored, biases, target) + kept
        out = {"param_count": float(n), "param_count_nonzero": float("nan") if nonzero is None else float(nonzero),
               "size_kb": stored / 1024.0, "serialized_kb": serialized / 1024.0}
        # a quantized model at another precision: never less than it stores (its fp32 biases stay fp32)
        floor = stored if is_torch_module(model) and note.get("quantized") else 0.0
        out.update({f"size_kb_{p}": max(bytes_at_precision(n - unstored, biases, p) + kept, floor) / 1024.0
                    for p in self.precisions})
        return Measurement(out, {"size": note})


class PeakMemory(StructureProbe):
    """Peak memory of one inference, ``peak_memory_kb`` (see the module docstring for the method).

    Args:
        example: an input batch (tensor or array) for one forward pass: ``X[:1]`` for one sample (where
            :class:`~moo_hpo.objectives.Latency` takes ``X[0]``). The module is handed back in the mode it came in.
        weights: where the deployed model keeps its parameters and buffers: ``"ram"`` (counted: a device that loads
            the model into memory) or ``"flash"`` (not counted: a microcontroller that runs them from flash, as
            TensorFlow Lite Micro does, whose RAM holds the activations; measured on the CPU).

    Raises:
        ConfigError: for an example that is not a batch, or ``weights`` other than ``"ram"`` or ``"flash"``.
    """

    needs_training = False
    name = "peak_memory"
    metrics = ("peak_memory_kb",)

    def __init__(self, example: Any, weights: str = "ram") -> None:
        check_example("PeakMemory", example, text=False)
        if weights not in ("ram", "flash"):
            raise ConfigError(f"PeakMemory: weights must be 'ram' (counted) or 'flash' (a microcontroller's, not "
                              f"counted); received {weights!r}")
        self.example = example
        self.weights = weights

    def measure(self, model: Any) -> Measurement:
        if not is_torch_module(model):
            raise ProbeError(f"peak memory is measured for torch modules; received {type(model).__name__}")
        _refuse_torchscript(model, hooked=True)
        from moo_hpo.objectives.torch_state import as_shipped

        target = getattr(model, "moo_hpo_precision", None)
        if target is not None and target not in PRECISION_BYTES:
            raise ProbeError(f"model.moo_hpo_precision must be one of {sorted(PRECISION_BYTES)}; received {target!r}")
        with kept_as_it_was(model):  # in eval mode for the pass, handed back in the mode and on the device it came in
            shipped, pruned = as_shipped(model)  # a pruned model as it ships: one weight, no mask, no hook (off the GPU)
            measured = self._measure(shipped, target)
        if pruned:
            measured.extra["peak_memory_pruned"] = pruned
        return measured

    def _measure(self, model: Any, target: str | None) -> Measurement:
        import torch

        x = torch_input(model, self.example)
        device = x.device
        model.eval()
        if device.type == "cuda":
            if self.weights == "flash":
                raise ProbeError("PeakMemory(weights='flash') describes a microcontroller that runs its weights from "
                                 "flash; on cuda they sit in GPU memory: measure a CPU copy (model.to('cpu'))")
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            _forward(model, x)
            torch.cuda.synchronize(device)
            peak = torch.cuda.max_memory_allocated(device)  # everything resident at the peak, weights included
            # measured as the model runs: a deployed precision it does not run at cannot be measured here
            return Measurement({"peak_memory_kb": peak / 1024.0}, {"peak_memory_method": "cuda max_memory_allocated",
                                                                   **({"peak_memory_precision": "as run"} if target else {})})
        largest = [0]
        running: list[list[bool]] = []  # per module running now: whether a module ran inside it

        from moo_hpo.objectives.op_memory import LargestOperation, weight_addresses, working_set

        weights = weight_addresses([*model.parameters(), *model.buffers()])

        def nbytes(*objs: Any) -> int:
            # each storage once (attention takes one x as query, key and value; nn.Flatten's output is a view of its
            # input); the model's weights (a mask buffer given as an argument) count apart, with the parameters
            return working_set(objs, weights)

        def before(_module: Any, _args: Any, _kwargs: Any) -> None:
            if running:
                running[-1][0] = True
            running.append([False])

        def after(_module: Any, args: Any, kwargs: Any, output: Any) -> None:
            # a layer: a module inside whose forward no module ran (a Linear; a dynamically quantized LSTM, whose
            # packed weights sit in child modules that run nothing; attention, which reads its out_proj's weights
            # without calling it); its arguments, positional or by keyword (attention's query=x, key=x, value=x)
            if running and not running.pop()[0]:
                largest[0] = max(largest[0], nbytes(args, list(kwargs.values()), output))

        # a weight's parametrization (weight_norm, orthogonal) runs modules when the layer reads its weight: not
        # layers of their own, nor children that make the layer a container
        parametrizing = {id(sub) for m in model.modules() if hasattr(m, "parametrizations")
                         for sub in m.parametrizations.modules()}
        handles = [h for m in model.modules() if id(m) not in parametrizing
                   for h in (m.register_forward_pre_hook(before, with_kwargs=True),
                             m.register_forward_hook(after, with_kwargs=True, always_call=True))]
        operations = LargestOperation([*model.parameters(), *model.buffers()])
        untraced = None
        try:
            try:  # the operations too: work a module does in its own forward, beside its children's calls
                with operations:
                    _forward(model, x)
            except ProbeError as exc:
                untraced = str(exc.__cause__ or exc)
                largest[0], running[:] = 0, []
                _forward(model, x)  # a model that runs, but not under the operations' tracing: its layers alone
                operations.largest = 0
        finally:
            for h in handles:
                h.remove()
        largest[0] = max(largest[0], operations.largest)
        from moo_hpo.objectives.torch_state import is_bias, sparse_values, stored_bytes, torch_state

        state = torch_state(model)
        # a model declared for a lower precision (model.moo_hpo_precision, as ModelSize's size_kb counts it): its
        # floating-point parameters at that precision; activations and buffers as they run (dynamic quantization
        # keeps float activations)
        at = None if target is None or state.quantized else PRECISION_BYTES[target]
        static = sum(bytes_at_precision(p.numel(), p.numel() if is_bias(name, p) else 0, target)
                     if at is not None and p.is_floating_point() and p.layout == torch.strided else stored_bytes(p)
                     for name, p in model.named_parameters())
        if at is not None:  # a sparse weight: its values at the declared precision, its indices as they are
            sparse = [(name, p) for name, p in model.named_parameters() if p.layout != torch.strided and p.is_floating_point()]
            static += sum(bytes_at_precision(sparse_values(p).numel(), sparse_values(p).numel() if is_bias(name, p) else 0,
                                             target) - sparse_values(p).numel() * p.element_size() for name, p in sparse)
        static += sum(stored_bytes(b) for b in model.buffers())
        if state.quantized:  # its packed weights are no parameters(): counted from what it stores
            static = max(static, int(state.stored_bytes))
        counted = "parameters + buffers + " if self.weights == "ram" else ""
        extra = {"peak_memory_method": f"cpu estimate: {counted}largest layer or operation input+output"
                 if untraced is None else f"cpu estimate: {counted}largest layer input+output "
                 f"(its operations could not be traced: {untraced:.200})"}
        if self.weights == "flash":  # run from flash: RAM holds the activations
            static = 0
            extra["peak_memory_method"] += " (weights and buffers in flash, not counted)"
        if target is not None and self.weights == "ram":
            extra["peak_memory_precision"] = target if at is not None else "as stored (a quantized model)"
        return Measurement({"peak_memory_kb": (static + largest[0]) / 1024.0}, extra)


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
