"""What a torch module stores, for :class:`~moo_hpo.objectives.ModelSize`: its parameters, the scales and zero
points of its quantized weights, and its saved buffers.

A plain module's parameters are its ``parameters()``. A quantized one (``torch.ao.quantization.quantize_dynamic``,
or ``prepare`` and ``convert``) keeps its weights out of ``parameters()``, packed for its kernel, and its
``state_dict`` unpacks them: quantized tensors (the ``weight`` of a quantized convolution, the ``_packed_weight`` of
a quantized embedding), tuples (``_packed_params._packed_params`` of a quantized linear layer: its weight and bias)
and torch's packed-parameter objects (the cells of a dynamically quantized LSTM or GRU), read with their
``__getstate__``. Those tensors are its parameters:

- a quantized tensor counts the bytes of its integer values (``int_repr()``: one byte per ``qint8`` weight, half a
  byte per ``quint4x2`` one), its scales and zero points apart (a per-tensor pair as torch keeps it, a double and a
  64-bit integer: 16 bytes; per-channel ones at their tensors' dtypes);
- a floating weight matrix out of a packed-parameter object, or out of the tuple of a linear layer packed with
  ``dtype=torch.float16``, is stored at fp16 (torch packs floating weights only for ``dtype=torch.float16`` dynamic
  quantization; int8 ones come out as quantized tensors): 2 bytes a weight; a bias is kept at its dtype (fp32);
- the same tensor reached twice (an LSTM cell's bias, also in its packed linear weights) counts once.

A quantized module's ``scale`` and ``zero_point`` entries (the quantization of its output) count as buffers.

A pruned module (``torch.nn.utils.prune``) holds its weight twice, as the parameter ``weight_orig`` and the buffer
``weight_mask``; what it ships is their product (``prune.remove``): the parameter counts once, at its dtype, the
mask is not counted, and the nonzero count is that of the product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moo_hpo.exceptions import ProbeError

__all__ = ["TorchState", "as_shipped", "torch_state"]

#: names of a quantized module's output quantization, which its ``state_dict`` saves beside the weights
_OUTPUT_QPARAMS = ("scale", "zero_point")
#: torch's suffix of a module's extra state (``get_extra_state``): the module's own object, not weights
_EXTRA_STATE = "_extra_state"


@dataclass
class TorchState:
    """The parameters and bytes of a torch module's saved state.

    Attributes:
        param_count: number of parameters (quantized and packed weights and biases included; a pruned weight once).
        param_count_nonzero: how many of them are not zero (a pruned weight: its product with the mask); None where
            the values cannot be read (tensors on the ``meta`` device).
        param_bytes: bytes of the parameters as stored (int8 weights at one byte each).
        qparam_bytes: bytes of the scales and zero points of the quantized weights.
        buffer_bytes: bytes of the saved buffers (BatchNorm statistics, a quantized module's output scale and
            zero point; not a pruning mask, not a buffer registered with ``persistent=False``).
        quantized: dtypes of the quantized or packed weights found (``"torch.qint8"``, ``"torch.float16"``).
        pruned: names of the pruned tensors (``"0.weight"``).
        bias_count: how many of the parameters are biases (a ``bias`` parameter, a quantized layer's bias): an
            integer deployment keeps them at 32 bits (see :func:`moo_hpo.objectives.size.bytes_at_precision`).
        unstored: parameters a sparse tensor does not store (its zeros): counted, taking no bytes at any precision.
        index_bytes: bytes of a sparse tensor's indices (in ``param_bytes`` too), kept as they are at any precision.
    """

    param_count: int = 0
    param_count_nonzero: int | None = 0
    param_bytes: float = 0.0
    qparam_bytes: int = 0
    buffer_bytes: int = 0
    quantized: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    bias_count: int = 0
    unstored: int = 0
    index_bytes: int = 0

    @property
    def stored_bytes(self) -> float:
        """Bytes of parameters, quantization parameters and buffers, as stored."""
        return self.param_bytes + self.qparam_bytes + self.buffer_bytes

    def _add_parameter(self, tensor: Any, mask: Any = None, packed_fp16: bool = False, bias: bool = False) -> None:
        import torch

        self.param_count += tensor.numel()
        # a bias at 32 bits: the values it stores (a sparse one's zeros take no bytes at any precision)
        self.bias_count += (tensor.numel() if tensor.layout == torch.strided else sparse_values(tensor).numel()) if bias else 0
        if tensor.is_quantized:
            values = tensor.int_repr()
            self.param_bytes += values.numel() * values.element_size()
            self.qparam_bytes += _qparam_bytes(tensor)
            self._note(str(tensor.dtype))
            readable = None if tensor.is_meta else tensor.dequantize()
        else:
            self.param_bytes += tensor.numel() * 2 if packed_fp16 else stored_bytes(tensor)
            if tensor.layout != torch.strided:  # sparse: its values at a precision, its indices as they are
                values = sparse_values(tensor)
                self.unstored += tensor.numel() - values.numel()
                self.index_bytes += stored_bytes(tensor) - values.numel() * values.element_size()
            if packed_fp16:
                self._note(str(torch.float16))
            readable = (None if tensor.is_meta else sparse_values(tensor) if tensor.layout != torch.strided
                        else tensor.detach() if mask is None else tensor.detach() * mask)
        if readable is None or self.param_count_nonzero is None:
            self.param_count_nonzero = None
        else:
            self.param_count_nonzero += int(torch.count_nonzero(readable))

    def _note(self, dtype: str) -> None:
        if dtype not in self.quantized:
            self.quantized.append(dtype)


def stored_bytes(tensor: Any) -> int:
    """The bytes a tensor stores: a sparse one (COO, CSR, CSC, BSR, BSC) its values and indices, any other its
    elements."""
    import torch

    if tensor.layout == torch.strided:
        return tensor.numel() * tensor.element_size()
    if tensor.layout == torch.sparse_coo:
        parts = (tensor._values(), tensor._indices())
    elif tensor.layout in (torch.sparse_csr, torch.sparse_bsr):
        parts = (tensor.values(), tensor.crow_indices(), tensor.col_indices())
    else:  # sparse_csc, sparse_bsc
        parts = (tensor.values(), tensor.ccol_indices(), tensor.row_indices())
    return sum(p.numel() * p.element_size() for p in parts)


def sparse_values(tensor: Any) -> Any:
    """The values a sparse tensor stores (what ``count_nonzero`` reads; it has no sparse implementation)."""
    import torch

    return (tensor._values() if tensor.layout == torch.sparse_coo else tensor.values()).detach()


def is_bias(name: str, tensor: Any) -> bool:
    """Whether a parameter is a bias.

    Args:
        name: its name in the module (``"0.bias"``, ``"lstm.bias_ih_l0"``).
        tensor: the parameter.

    Returns:
        True for a one-dimensional floating-point tensor whose name's last part is ``bias``, begins with ``bias_``
        (a pruned ``bias_orig``, an LSTM's ``bias_ih_l0``) or ends with ``_bias`` (attention's ``in_proj_bias``).
    """
    leaf = name.rpartition(".")[2]
    named = leaf == "bias" or leaf.startswith("bias_") or leaf.endswith("_bias")  # not a "biased_gate"
    return named and tensor.dim() == 1 and tensor.is_floating_point()


def torch_state(model: Any) -> TorchState:
    """Count a torch module's parameters and bytes from its ``state_dict`` (see the module docstring).

    Args:
        model: a ``torch.nn.Module``, plain, quantized or pruned.

    Returns:
        The counts.

    Raises:
        ProbeError: naming the module and the ``state_dict`` entry, where an entry is neither a tensor nor a container
            of tensors, a packed-parameter object or metadata (a dtype, a number), or a packed object cannot be read;
            or where a quantized module's weights are not in the ``state_dict`` at all.
    """
    import torch

    masks, state = _pruning_masks(model)
    parameters = {id(p) for p in model.parameters()}
    buffers = {id(b) for b in model.buffers()}
    mask_ids = {id(m) for m in masks.values()}
    entries = model.state_dict(keep_vars=True)
    by_owner: dict[str, list[tuple[str, Any]]] = {}
    for key, value in entries.items():
        by_owner.setdefault(key.rpartition(".")[0], []).append((key, value))
    seen: set[int] = set()  # ids of the registered tensors counted
    packed_seen: set[tuple[int, str, tuple[int, ...]]] = set()  # unpacked tensors, by their memory
    alive: list[Any] = []  # the unpacked tensors, kept until the end so that no address is reused
    counted_keys: list[str] = []
    for prefix, items in by_owner.items():
        owner = _submodule(model, prefix)
        # a module saving quantized or packed weights: its other unregistered tensors are weights too (a quantized
        # convolution saves its bias beside its quantized weight)
        packs = any(_is_quantized(v) or isinstance(v, (tuple, list, dict, torch.ScriptObject)) for _, v in items)
        for key, value in items:
            leaf = key.rpartition(".")[2]
            if isinstance(value, torch.Tensor):
                if id(value) in seen:
                    continue
                seen.add(id(value))
                if id(value) in parameters:
                    state._add_parameter(value, mask=masks.get(id(value)), bias=is_bias(leaf, value))
                    counted_keys.append(key)
                elif id(value) in mask_ids:
                    continue  # folded into its weight
                elif id(value) in buffers:
                    state.buffer_bytes += stored_bytes(value)
                elif value.is_quantized or (packs and leaf not in _OUTPUT_QPARAMS and value.is_floating_point()):
                    state._add_parameter(value, bias=is_bias(leaf, value))
                    counted_keys.append(key)
                else:  # saved by the module without being registered: a buffer, as torch.save ships it
                    state.buffer_bytes += stored_bytes(value)
                continue
            if leaf == _EXTRA_STATE:
                continue  # the module's own object (get_extra_state), not weights
            fp16_owner = getattr(owner, "dtype", None) == torch.float16  # a linear layer packed at fp16
            tensors = _unpacked(value, owner, key)
            alive.extend(tensors)
            for tensor, from_packed_object in tensors:
                where = (tensor.data_ptr(), str(tensor.dtype), tuple(tensor.shape))
                if tensor.numel() == 0 or where in packed_seen:
                    continue
                packed_seen.add(where)
                matrix = tensor.is_floating_point() and tensor.dim() >= 2
                state._add_parameter(tensor, packed_fp16=matrix and (from_packed_object or fp16_owner),
                                     bias=tensor.is_floating_point() and tensor.dim() == 1)
                counted_keys.append(key)
    _require_weights_found(model, counted_keys)
    return state


def saved_state_dict(model: Any, pruned: bool) -> dict[str, Any]:
    """The ``state_dict`` a model ships: a pruned tensor's ``_orig`` and ``_mask`` folded into their product under the
    tensor's own name, as ``prune.remove`` leaves it (the mask is not shipped twice)."""
    saved = model.state_dict()
    if not pruned:
        return saved
    masks, _ = _pruning_masks(model)
    names = {id(p): n for n, p in model.named_parameters()}
    folded = {names[i].removesuffix("_orig") for i in masks}
    shipped = type(saved)()  # in the state_dict's order, the product where the _orig parameter was
    shipped._metadata = getattr(saved, "_metadata", {})  # the modules' versions, which torch.save saves too
    for key, value in saved.items():
        base = key.removesuffix("_orig")
        if key.endswith("_orig") and base in folded:
            shipped[base] = value * saved[base + "_mask"]
        elif not (key.endswith("_mask") and key.removesuffix("_mask") in folded):
            shipped[key] = value
    return shipped


def as_shipped(model: Any) -> tuple[Any, list[str]]:
    """The model as it ships, for the probes that run it: a pruned one's copy with the pruning made permanent.

    A module pruned with ``torch.nn.utils.prune`` holds ``weight_orig`` and ``weight_mask`` and rebuilds the weight
    in a hook before every forward pass, which costs memory and time that the shipped model (``prune.remove``) does
    not: on a 256-1024-1024-2 MLP with half its weights masked, twice the memory and four to seven times the latency.
    The copy is made permanent instead of the model (the user's model keeps its masks, for further training). A model
    on a GPU is copied from the CPU and the copy put on the GPU, and the model is left on the CPU: the caller hands it
    back (:func:`~moo_hpo.objectives.base.kept_as_it_was`), so the GPU holds one model, not two, while it is measured.

    Args:
        model: a torch module.

    Returns:
        ``(model, [])`` for a module without pruned tensors, or one that cannot be copied (logged: measured with its
        masks), else ``(copy, names of the pruned tensors)``.
    """
    masks, state = _pruning_masks(model)
    if not masks:
        return model, []
    import copy
    import logging

    import torch
    from torch.nn.utils import prune

    devices = {t.device for t in (*model.parameters(), *model.buffers())}
    home = next(iter(devices)) if len(devices) == 1 else None
    if home is not None and home.type != "cpu":
        model.to("cpu")
    # tensors a forward pass computed and a module keeps (a pruned weight, weight_norm's weight, a cached activation)
    # are no graph leaves, which deepcopy refuses: the copy takes them detached (a hook recomputes the weights)
    memo = {id(v): v.detach() for m in model.modules() for v in m.__dict__.values()
            if isinstance(v, torch.Tensor) and not v.is_leaf}
    try:
        shipped = copy.deepcopy(model, memo)
    except Exception as exc:  # noqa: BLE001 - what a module holds decides what copying it raises
        logging.getLogger("moo_hpo").warning(
            "the pruned model (%s) could not be copied to measure it as it ships (%s: %s): measured with its masks, which "
            "hold each pruned weight twice; call torch.nn.utils.prune.remove on it first to measure it as shipped",
            ", ".join(state.pruned), type(exc).__name__, exc)
        return model, []
    for module in shipped.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    if home is not None and home.type != "cpu":
        shipped.to(home)
    return shipped, state.pruned


def _pruning_masks(model: Any) -> tuple[dict[int, Any], TorchState]:
    """The masks of the model's pruned tensors, by the id of their ``_orig`` parameter (``torch.nn.utils.prune``'s
    forward pre-hooks say which tensors are pruned), and a :class:`TorchState` naming them."""
    from torch.nn.utils import prune

    masks: dict[int, Any] = {}
    state = TorchState()
    for prefix, module in model.named_modules():
        for hook in module._forward_pre_hooks.values():
            if not isinstance(hook, prune.BasePruningMethod):
                continue
            name = hook._tensor_name
            orig = module._parameters.get(name + "_orig")
            mask = module._buffers.get(name + "_mask")
            if orig is not None and mask is not None and id(orig) not in masks:
                masks[id(orig)] = mask
                state.pruned.append(f"{prefix}.{name}" if prefix else name)
    return masks, state


def _is_quantized(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor) and value.is_quantized


def _submodule(model: Any, prefix: str) -> Any:
    """The module owning the ``state_dict`` entries under ``prefix`` (None where no module has that name)."""
    try:
        return model.get_submodule(prefix) if prefix else model
    except AttributeError:
        return None


def _unpacked(value: Any, owner: Any, key: str, packed: bool = False) -> list[tuple[Any, bool]]:
    """The tensors in a ``state_dict`` entry that is not a tensor: a tuple, list or dict of them, a torch
    packed-parameter object (read with its ``__getstate__``), or metadata (none); each with whether it came out of a
    packed-parameter object (``packed``).

    Raises:
        ProbeError: naming the owning module and the entry, for anything else or a packed object that cannot be read.
    """
    import torch

    what = f"{type(owner).__name__} ({key!r})" if owner is not None else repr(key)
    if isinstance(value, torch.Tensor):
        return [(value, packed)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _unpacked(v, owner, key, packed)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _unpacked(v, owner, key, packed)]
    if isinstance(value, torch.ScriptObject):
        try:
            inner = value.__getstate__()
        except Exception as exc:  # noqa: BLE001 - a packed object torch cannot unpack: named
            kind = _script_type(value)
            raise ProbeError(
                f"ModelSize cannot measure {what}: its packed weights ({kind}) could not be read with __getstate__ "
                f"({type(exc).__name__}: {exc}); expected quantized tensors, tuples of tensors or torch packed "
                "parameters that unpack to them"
            ) from exc
        return _unpacked(inner, owner, key, packed=True)
    metadata = (str, bytes, int, float, bool, torch.dtype, torch.device, torch.Size, torch.qscheme)
    if value is None or isinstance(value, metadata):
        return []
    raise ProbeError(
        f"ModelSize cannot measure {what}: its state_dict entry is a {type(value).__module__}.{type(value).__name__}; "
        "expected tensors (plain or quantized), tuples of them, torch packed parameters or metadata (a dtype, a "
        "number), so its weights cannot be counted"
    )


def _script_type(value: Any) -> str:
    try:
        return value._type().qualified_name()
    except Exception:  # noqa: BLE001 - only for the message
        return type(value).__name__


def _qparam_bytes(tensor: Any) -> int:
    """Bytes of a quantized tensor's scales and zero points."""
    import torch

    if tensor.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return 8 + 8  # torch keeps a double and a 64-bit integer
    scales, zero_points = tensor.q_per_channel_scales(), tensor.q_per_channel_zero_points()
    return scales.numel() * scales.element_size() + zero_points.numel() * zero_points.element_size()


def _require_weights_found(model: Any, counted_keys: list[str]) -> None:
    """A torch quantized module that unpacks its weights on demand (``weight()`` a method, as the quantized linear,
    convolution and embedding layers of ``torch.ao.nn.quantized`` have) must have had some counted: otherwise its
    weights are somewhere the ``state_dict`` does not show, and its size would read as nothing.

    Raises:
        ProbeError: naming the module.
    """
    for name, module in model.named_modules():
        torch_quantized = any(".quantized" in c.__module__ for c in type(module).__mro__)
        if not torch_quantized or not callable(getattr(module, "weight", None)):
            continue
        prefix = f"{name}." if name else ""
        if not any(k.startswith(prefix) for k in counted_keys):
            raise ProbeError(
                f"ModelSize cannot measure {type(module).__name__} ({name or 'the model'!r}): it holds packed weights "
                "(weight() is a method) but its state_dict shows none of them, so its size would read as nothing; "
                "expected its weights in its state_dict as quantized tensors or tuples of tensors"
            )
