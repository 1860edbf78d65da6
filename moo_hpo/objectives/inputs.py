"""The input a probe feeds a model: one example stacked into a batch, and a batch as the tensor a torch module takes."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError

__all__ = ["check_example", "stack_example", "torch_input"]


def check_example(owner: str, example: Any, text: bool = True) -> None:
    """Refuse an example input that no model takes: None (a variable not set yet), or text where only a torch module
    takes the example (``text=False``; a scikit-learn text pipeline takes a string).

    Raises:
        ConfigError: naming ``owner`` and what was received.
    """
    if example is None or (not text and isinstance(example, (str, bytes))):
        raise ConfigError(f"{owner}: example must be an input for the model (an array, a tensor{' or a pandas row' if text else ''}); "
                          f"received {example!r}")


def stack_example(example: Any, batch_size: int) -> Any:
    """One sample (no batch dimension) stacked ``batch_size`` times.

    A pandas row (a Series such as ``X.iloc[0]``, or a DataFrame of one row such as ``X.iloc[[0]]``) is stacked
    into a DataFrame with its column names, for pipelines that select columns by name (a ``ColumnTransformer``
    over named columns): a DataFrame row keeps each column's type, a Series row's types are inferred from its
    values. Anything else is stacked into an array.

    Raises:
        ConfigError: for a DataFrame of more than one row.
    """
    pd = sys.modules.get("pandas")  # a pandas example means pandas is imported already
    if pd is not None and isinstance(example, pd.Series):
        example = example.to_frame().T.infer_objects()
    if pd is not None and isinstance(example, pd.DataFrame):
        if len(example) != 1:
            raise ConfigError(f"a DataFrame example must be one row (X.iloc[[0]]); received {len(example)} rows")
        return pd.concat([example] * batch_size, ignore_index=True)
    x = np.asarray(example)
    return np.repeat(x[None, ...], batch_size, axis=0)


def torch_input(model: Any, X: Any, device: Any = None) -> Any:
    """``X`` as a tensor on ``device`` (default: the model's) in the model's floating dtype; integer input is passed
    as int64 ids to a model whose first layer is an embedding (an embedding takes no floats)."""
    import torch

    param = next(iter(model.parameters()), None)
    if device is None:
        device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    if isinstance(X, torch.Tensor):
        ids = not (X.dtype.is_floating_point or X.dtype.is_complex) and _takes_ids(model)
        return X.to(device=device, dtype=torch.long if ids else dtype)
    array = np.asarray(X)
    if not array.flags.writeable:  # a pandas frame's values may be read-only: torch warns of each such array
        array = array.copy()
    if array.dtype.kind in "iu" and _takes_ids(model):  # as an embedding takes them (not uint8 or uint16)
        return torch.as_tensor(array.astype(np.int64, copy=False), device=device)
    return torch.as_tensor(array, dtype=dtype, device=device)


def _takes_ids(model: Any) -> bool:
    """Whether the first of the model's layers that holds weights is an embedding (``Embedding``, ``EmbeddingBag``,
    quantized ones included), i.e. the model reads integer ids."""
    for module in model.modules():
        if next(module.children(), None) is None and (any(True for _ in module.parameters(recurse=False))
                                                        or "Embedding" in type(module).__name__):
            return "Embedding" in type(module).__name__
    return False
