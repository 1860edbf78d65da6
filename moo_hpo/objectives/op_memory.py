"""The largest working set of one tensor operation in a forward pass, weights left out (for :class:`PeakMemory`).

PeakMemory's CPU estimate takes the largest input + output of any layer (a module inside whose forward no module
ran). Work a module does in its own ``forward`` beside its children's calls (``h @ h.T``, a functional
``F.scaled_dot_product_attention``, ``torch.cat`` of two branches) happens in no layer: the operations themselves
are seen here, through torch's dispatch of every operator (``TorchDispatchMode``), and their inputs + outputs
counted as the layers' are, views of one tensor once (at the largest), the model's parameters and buffers left out
(they count apart). A fused attention operation counts the scores it computes inside, as the same attention
written out does (:func:`_attention_scores`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["LargestOperation", "weight_addresses", "working_set"]


def _extent(t: Any) -> tuple[int, int, int]:
    """A tensor as ``(its storage's address, the first byte it addresses there, the byte after its last)``: views of
    one tensor share the address; a slice addresses its part of the tensor it views (an example ``X[:1]`` of a
    dataset held in one tensor), a broadcast view (``expand``: stride 0) the memory it repeats, not its elements.
    A tensor without plain storage and strides (sparse, nested) is its own storage, of the bytes it stores; on the
    meta device, where every storage is at address 0, a view is told by the tensor it views."""
    import torch

    try:
        if t.layout != torch.strided or t.is_nested:
            raise TypeError("no plain storage")
        storage = t.untyped_storage()
        # on the meta device every storage is at address 0: a view is told by the tensor it views
        address = id(t._base if t._base is not None else t) if t.is_meta else storage.data_ptr()
        start = t.storage_offset() * t.element_size()
        if t.numel() == 0:
            return address, start, start
        span = 1 + sum((size - 1) * abs(stride) for size, stride in zip(t.shape, t.stride(), strict=True))
        end = start + span * t.element_size()
        return address, start, end if t.is_meta else min(end, storage.nbytes())
    except Exception:  # noqa: BLE001 - the tensor counts on its own, at what it stores
        return id(t), 0, _own_bytes(t)


def _own_bytes(t: Any) -> int:
    from moo_hpo.objectives.torch_state import stored_bytes

    try:
        return stored_bytes(t)
    except Exception:  # noqa: BLE001 - a layout that cannot say (nested, mkldnn): its elements, or nothing
        try:
            return t.numel() * t.element_size()
        except Exception:  # noqa: BLE001
            return 0


def _tensors(obj: Any, depth: int = 0) -> Iterable[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
    elif depth < 4 and isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o, depth + 1)
    elif depth < 4 and isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o, depth + 1)


def working_set(objs: Any, skipped: set[int]) -> int:
    """The bytes of the tensors in ``objs`` (nested in lists, tuples and dicts): of each storage, the bytes its views
    address together (:func:`_extent`), each byte once; storages in ``skipped`` (the model's weights) left out.

    Args:
        objs: tensors, or containers of them (a layer's arguments and output; an operation's).
        skipped: storage addresses not to count.
    """
    ranges: dict[int, list[tuple[int, int]]] = {}
    for t in _tensors(objs):
        address, start, end = _extent(t)
        if address not in skipped:
            ranges.setdefault(address, []).append((start, end))
    total = 0
    for spans in ranges.values():  # the bytes the views of one storage address together (two halves: both)
        reach = -1
        for start, end in sorted(spans):
            total += max(0, end - max(start, reach))
            reach = max(reach, end)
    return total


def weight_addresses(weights: Iterable[Any]) -> set[int]:
    """The storage addresses of ``weights`` (a model's parameters and buffers), for :func:`working_set`."""
    return {_extent(w)[0] for w in weights}


def _attention_scores(func: Any, args: Any) -> int:
    """For a fused attention operation (``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``'s fast path),
    which computes its scores inside: the bytes a layer-by-layer runtime needs at its softmax (the scores, the
    probabilities and ``v``), as the same attention written out (``q @ k.transpose(-2, -1)``) is counted; else 0."""
    name = str(getattr(func, "__name__", func))
    if ("scaled_dot_product" not in name and "multi_head_attention" not in name) or len(args) < 3:
        return 0
    try:
        q, k, v = args[:3]
        if q.is_nested:  # sequences of their own lengths (a padding mask): each sequence's scores
            pairs = list(zip(q.unbind(), k.unbind(), v.unbind(), strict=True))
        else:
            pairs = [(q, k, v)]
        heads = args[4] if "scaled_dot_product" not in name and len(args) > 4 and isinstance(args[4], int) else None
        scores = values = 0
        for qi, ki, vi in pairs:
            if qi.dim() < 2 or ki.dim() < 2:
                return 0
            if heads is None and "scaled_dot_product" not in name:
                return 0
            # (..., L, E) and (..., S, E); the multi-head operation's (batch, L, E) with its heads
            scores += math.prod(qi.shape[:-1]) * ki.shape[-2] * (1 if heads is None else heads)
            values += vi.numel() * vi.element_size()  # v's own values (a split of packed qkv)
        return 2 * scores * q.element_size() + values
    except Exception:  # noqa: BLE001 - arguments not as expected (another signature): the operation's own count
        return 0


def LargestOperation(weights: Iterable[Any]) -> Any:  # noqa: N802 - a factory of the dispatch mode's subclass
    """A context manager (a ``TorchDispatchMode``) whose ``largest`` attribute, after the block, is the most bytes
    any one operation in it read and wrote: its tensor arguments and results, views of one tensor once, ``weights``
    (tensors) left out.

    Args:
        weights: the model's parameters and buffers, counted apart.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Largest(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.skipped = weight_addresses(weights)
            self.largest = 0

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            self.largest = max(self.largest, working_set((args, kwargs or {}, out), self.skipped),
                               _attention_scores(func, args))
            return out

    return _Largest()
