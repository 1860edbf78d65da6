"""Objective specs and the probes that measure them.

Specs: :func:`Minimize`, :func:`Maximize`. Probes (each ``measure(model)`` returns metric name ->
float): :class:`Accuracy`, :class:`CrossValidated`, :class:`Latency`, :class:`ModelSize`,
:class:`PeakMemory`, :class:`Energy`, :class:`TrainingEnergy`, :class:`FairnessGap`, :class:`DeviceFit` (from the
others' metrics), and custom ones
through :class:`Probe` or the :func:`probe` decorator. Probe modules are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from moo_hpo.objectives.base import FunctionProbe, Measurement, Probe, probe
from moo_hpo.objectives.specs import Maximize, Minimize, Objective

_LAZY = {
    "Accuracy": "accuracy",
    "CrossValidated": "accuracy",
    "DeviceFit": "device_fit",
    "Latency": "latency",
    "ModelSize": "size",
    "PeakMemory": "size",
    "Energy": "energy",
    "EnergyMeter": "energy",
    "TrainingEnergy": "energy",
    "FairnessGap": "fairness",
}

__all__ = [
    "Accuracy",
    "CrossValidated",
    "DeviceFit",
    "Energy",
    "EnergyMeter",
    "FairnessGap",
    "FunctionProbe",
    "Latency",
    "Maximize",
    "Measurement",
    "Minimize",
    "ModelSize",
    "Objective",
    "PeakMemory",
    "Probe",
    "TrainingEnergy",
    "probe",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"moo_hpo.objectives.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'moo_hpo.objectives' has no attribute {name!r}")
