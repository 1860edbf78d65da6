"""Optimizers behind one ask/tell protocol.

Names accepted by ``Study(optimizer=...)``: ``"auto"`` and those in :data:`OPTIMIZERS`; or pass an
instance such as ``mh.optimizers.SobolSearch()``.
"""

from __future__ import annotations

from moo_hpo.optimizers.base import Capabilities, Optimizer, Proposal
from moo_hpo.optimizers.registry import OPTIMIZERS, choose_auto, make_optimizer
from moo_hpo.optimizers.sampling import RandomSearch, SobolSearch

__all__ = [
    "OPTIMIZERS",
    "Capabilities",
    "Optimizer",
    "Proposal",
    "RandomSearch",
    "SobolSearch",
    "choose_auto",
    "make_optimizer",
]
