"""Objective specs and the probes that measure them."""

from __future__ import annotations

from moo_hpo.objectives.specs import Maximize, Minimize, Objective

__all__ = ["Maximize", "Minimize", "Objective"]
