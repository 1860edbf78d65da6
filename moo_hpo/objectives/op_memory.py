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


def _storage(t: Any) -> tuple[int, int]:
    """A tensor as ``(its storage's address, the bytes it spans there)``: views of one tensor share the address and
    count once, at the largest of them (``h`` and ``h.T``); a slice counts the span it reads, not the whole tensor it
    views (an example ``X[:1]`` of a dataset held in one tensor), and a broadcast view (``expand``: stride 0) the
    memory it repeats, not its elements."""
    try:
        storage = t.untyped_storage()
        if t.numel() == 0:
            return storage.data_ptr(), 0
        span = 1 + sum((size - 1) * abs(stride) for size, stride in zip(t.shape, t.stride(), strict=True))
        return storage.data_ptr(), min(span * t.element_size(), storage.nbytes())
    except Exception:  # noqa: BLE001 - a tensor without plain storage or strides (quantized, sparse): its own bytes
        return id(t), t.numel() * t.element_size()


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
    """The bytes of the tensors in ``objs`` (nested in lists, tuples and dicts): each storage once, at the largest span
    any of its views addresses (:func:`_storage`), storages in ``skipped`` (the model's weights) left out.

    Args:
        objs: tensors, or containers of them (a layer's arguments and output; an operation's).
        skipped: storage addresses not to count.
    """
    used: dict[int, int] = {}
    for t in _tensors(objs):
        address, size = _storage(t)
        used[address] = max(used.get(address, 0), size)
    return sum(n for address, n in used.items() if address not in skipped)


def weight_addresses(weights: Iterable[Any]) -> set[int]:
    """The storage addresses of ``weights`` (a model's parameters and buffers), for :func:`working_set`."""
    return {_storage(w)[0] for w in weights}


def _attention_scores(func: Any, args: Any) -> int:
    """For a fused attention operation (``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``'s fast path),
    which computes its scores inside: the bytes a layer-by-layer runtime needs at its softmax (the scores, the
    probabilities and ``v``), as the same attention written out (``q @ k.transpose(-2, -1)``) is counted; else 0."""
    name = str(getattr(func, "__name__", func))
    if len(args) < 3 or not all(hasattr(a, "shape") for a in args[:3]):
        return 0
    q, k, v = args[:3]
    if "scaled_dot_product" in name and q.dim() >= 2 and k.dim() >= 2:  # (..., L, E) and (..., S, E)
        scores = math.prod(q.shape[:-1]) * k.shape[-2]
    elif "multi_head_attention" in name and len(args) > 4 and isinstance(args[4], int) and q.dim() >= 2 and k.dim() >= 2:
        scores = math.prod(q.shape[:-2]) * args[4] * q.shape[-2] * k.shape[-2]  # batch x heads x L x S
    else:
        return 0
    return 2 * scores * q.element_size() + _storage(v)[1]


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
