"""Optimizers behind one ask/tell protocol.

Names accepted by ``Study(optimizer=...)``: ``"auto"`` and those in :data:`OPTIMIZERS`; or pass an
instance with options, such as ``mh.optimizers.NSGA2(pop_size=24)`` or ``mh.optimizers.EHVI(noiseless=True)``.
The classes are imported on first use (the evolutionary ones load pymoo, the Bayesian ones BoTorch).
"""

from __future__ import annotations

import importlib
from typing import Any

from moo_hpo.optimizers.base import Capabilities, Optimizer, Proposal
from moo_hpo.optimizers.registry import OPTIMIZERS, choose_auto, make_optimizer
from moo_hpo.optimizers.sampling import RandomSearch, SobolSearch

_LAZY = {
    "NSGA2": "moo_hpo.optimizers.evolutionary",
    "NSGA3": "moo_hpo.optimizers.evolutionary",
    "SPEA2": "moo_hpo.optimizers.evolutionary",
    "EHVI": "moo_hpo.optimizers.bayesian",
    "ParEGO": "moo_hpo.optimizers.bayesian",
    "ConstrainedEI": "moo_hpo.optimizers.bayesian",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'moo_hpo.optimizers' has no attribute {name!r}")


__all__ = [
    "EHVI",
    "NSGA2",
    "NSGA3",
    "OPTIMIZERS",
    "SPEA2",
    "Capabilities",
    "ConstrainedEI",
    "Optimizer",
    "ParEGO",
    "Proposal",
    "RandomSearch",
    "SobolSearch",
    "choose_auto",
    "make_optimizer",
]
