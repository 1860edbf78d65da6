"""The libraries the Bayesian optimizers compute with (torch, GPyTorch, BoTorch), loaded whole, once per process.

They load lazily, at the first model step (a study of the evolutionary optimizers never pays for them). That
step is where a user presses Ctrl-C, and an interrupt in the middle of ``import torch`` leaves torch half-initialized
for the rest of the process: a notebook's every later study then fails ("partially initialized module 'torch'").
:func:`load` imports them with the interrupt held back until they have loaded (a second or two).
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["MODULES", "load"]

#: the modules the Bayesian optimizers import, the packages first
MODULES = (
    "torch",
    "gpytorch",
    "botorch",
    "botorch.acquisition.logei",
    "botorch.acquisition.multi_objective.logei",
    "botorch.acquisition.multi_objective.parego",
    "botorch.fit",
    "botorch.models.utils.gpytorch_modules",
    "botorch.optim",
    "botorch.sampling.get_sampler",
    "botorch.utils.multi_objective.box_decompositions.non_dominated",
    "botorch.utils.probability.utils",
)


def load() -> None:
    """Import :data:`MODULES` (nothing when they are loaded), a Ctrl-C during the import raised once it is done."""
    if all(name in sys.modules for name in MODULES):
        return
    from moo_hpo.execution.interrupts import interrupts_deferred

    with interrupts_deferred("torch, GPyTorch and BoTorch"):
        for name in MODULES:
            importlib.import_module(name)
