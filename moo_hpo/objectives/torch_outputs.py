"""A torch classifier's outputs read as class scores.

A module's output is one tensor of shape ``(n,)``/``(n, 1)`` (binary) or ``(n, k)``. It is read as **logits** (one
column: sigmoid; several: softmax), unless the module says otherwise:

* a ``torch.nn.Sequential`` that ends in ``Sigmoid`` or ``Softmax`` outputs **probabilities**, one that ends in
  ``LogSoftmax`` or ``LogSigmoid`` **log-probabilities** (a sigmoid applied again would put every score above 0.5:
  every row predicted positive);
* any module may declare it: ``model.moo_hpo_outputs = "probabilities"`` (or ``"logits"``, ``"log_probabilities"``),
  for a ``forward`` that applies the activation itself.

Outputs are read in float64 (a float32 sigmoid is exactly 1 above a logit of about 17, which ties the ranks that
``roc_auc`` compares). An undeclared output that lies in [0, 1] and reaches both ends is warned of once per model
type: it looks like probabilities read as logits.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from moo_hpo.exceptions import ProbeError
from moo_hpo.objectives.inputs import torch_input

__all__ = ["OUTPUT_KINDS", "output_kind", "torch_class_scores", "torch_forward"]

#: What ``model.moo_hpo_outputs`` may declare.
OUTPUT_KINDS = ("logits", "probabilities", "log_probabilities")
_warned: set[str] = set()


def output_kind(model: Any) -> str:
    """``"logits"``, ``"probabilities"`` or ``"log_probabilities"``: declared by ``model.moo_hpo_outputs``, else read
    from the last layer of a ``Sequential``, else logits.

    Raises:
        ProbeError: for a declared kind that is none of :data:`OUTPUT_KINDS`.
    """
    import torch

    declared = getattr(model, "moo_hpo_outputs", None)
    if declared is not None:
        if declared not in OUTPUT_KINDS:
            raise ProbeError(f"model.moo_hpo_outputs must be one of {list(OUTPUT_KINDS)}; received {declared!r}")
        return str(declared)
    last = model
    while True:  # through DataParallel / DistributedDataParallel (.module) and torch.compile (._orig_mod) wrappers
        inner = getattr(last, "_orig_mod", None) or getattr(last, "module", None)
        if isinstance(inner, torch.nn.Module):
            last = inner
        elif isinstance(last, torch.nn.Sequential) and len(last):
            last = last[-1]
        else:
            break
    if isinstance(last, (torch.nn.Sigmoid, torch.nn.Softmax)):
        return "probabilities"
    if isinstance(last, (torch.nn.LogSoftmax, torch.nn.LogSigmoid)):
        return "log_probabilities"
    return "logits"


def torch_forward(model: Any, X: Any) -> np.ndarray:
    """The module's output on ``X`` in eval mode (the module handed back as it was), as a float64 array.

    Raises:
        ProbeError: for an output that is not one tensor (a tuple, a dict), or not a floating one.
    """
    import torch

    from moo_hpo.objectives.base import kept_as_it_was

    with kept_as_it_was(model):
        model.eval()
        with torch.inference_mode():
            out = model(torch_input(model, X))
    if not isinstance(out, torch.Tensor):
        shown = type(out).__name__ + (f" of {len(out)}" if isinstance(out, (tuple, list, dict)) else "")
        keys = f" (keys {list(out)[:5]})" if isinstance(out, dict) else ""
        raise ProbeError(f"{type(model).__name__}'s forward returned a {shown}{keys}; the probes that score predictions "
                         "read one tensor of logits, (n, 1) or (n, classes): measure a wrapper module whose forward "
                         "returns the classifier's logits")
    if not out.is_floating_point():
        raise ProbeError(f"{type(model).__name__}'s forward returned a {out.dtype} tensor; the probes that score predictions "
                         "read logits or probabilities (a floating tensor), not labels: return the classifier's logits")
    return out.detach().cpu().to(torch.float64).numpy()  # on the CPU first: Apple's GPU has no float64


def torch_class_scores(model: Any, X: Any, logits: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities ``(n, k)``, or the positive class's ``(n,)`` for one or two columns; with ``logits`` and a
    binary model, a score that orders rows as that probability does without its rounding (the logit, or the
    probability itself for a model that outputs probabilities). ``out``: the module's output on ``X`` when it was
    computed already (:func:`torch_forward`), so that several metrics cost one forward pass."""
    from scipy.special import expit, softmax

    out = torch_forward(model, X) if out is None else out
    kind = output_kind(model)
    if kind == "logits":
        _warn_if_probabilities(model, out)
    binary = out.ndim == 1 or out.shape[1] == 1
    if binary:
        out = out.reshape(-1)
        if kind == "logits":
            return out if logits else expit(out)
        return np.clip(np.exp(out) if kind == "log_probabilities" else out, 0.0, 1.0)
    if logits and kind == "logits" and out.shape[1] == 2:
        return out[:, 1] - out[:, 0]  # the positive class's log-odds
    if kind == "logits":
        p = softmax(out, axis=1)
    else:
        p = np.exp(out) if kind == "log_probabilities" else out
    return p[:, 1] if p.shape[1] == 2 else p


def _warn_if_probabilities(model: Any, out: np.ndarray) -> None:
    """Once per model type: logits that lie in [0, 1] and reach near both ends look like probabilities."""
    name = type(model).__name__
    if name in _warned or out.size < 10:
        return
    low, high = float(np.min(out)), float(np.max(out))
    if low >= 0.0 and high <= 1.0 and low < 0.05 and high > 0.95:
        _warned.add(name)
        warnings.warn(
            f"{name}'s outputs all lie in [0, 1] (from {low:.3g} to {high:.3g}) and are read as logits (a sigmoid or "
            "softmax applied to them); if its forward ends in a sigmoid or softmax, set model.moo_hpo_outputs = "
            "'probabilities' (a torch.nn.Sequential ending in nn.Sigmoid or nn.Softmax is read so by itself)",
            UserWarning, stacklevel=3,
        )
