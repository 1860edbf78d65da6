"""Figures a study estimated rather than measured, labelled wherever a report shows them.

An energy probe with ``watts=...`` on a machine without an energy counter multiplies that power by the measured time
(:func:`moo_hpo.objectives.energy.estimated_metrics` finds such metrics in the trials' ``extra``). The reports (HTML,
Markdown, JSON, figures) and the device sizing table name such a metric with its label,
``"energy_per_inference_j (estimate: 10 W x time)"``, and say once what the label means; metrics measured by a
counter keep their names. A peak memory :class:`~moo_hpo.objectives.PeakMemory` counted on the CPU is labelled
too (``"estimate: weights + largest layer or operation"``); one measured on a GPU is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["estimate_rows", "estimates_note", "labelled", "shown_name"]


def labelled(name: str, estimates: Mapping[str, str] | None) -> str:
    """``name`` with its estimate's label (``"energy_per_inference_j (estimate: 10 W x time)"``), or ``name`` alone
    for a measured metric.

    Args:
        name: the metric's name.
        estimates: metric name -> label (a report's ``data["estimated_metrics"]``).
    """
    label = (estimates or {}).get(name)
    return f"{name} ({label})" if label else name


def shown_name(entry: Mapping[str, Any]) -> str:
    """The name a report shows for an objective entry of its data (``{"name", "direction", ...}``): with the
    estimate's label when the entry carries one (``entry["estimated"]``)."""
    return labelled(entry["name"], {entry["name"]: entry["estimated"]} if entry.get("estimated") else None)


def estimates_note(estimates: Mapping[str, str] | None, short: bool = False) -> str:
    """One paragraph on the estimated metrics for a report, or an empty string when every figure was measured.

    Args:
        estimates: metric name -> label (a report's ``data["estimated_metrics"]``).
        short: one sentence naming them, for a section below the paragraph (the recommendations' reasons).
    """
    if not estimates:
        return ""
    if short:
        return "Estimates, not measurements: " + "; ".join(labelled(m, estimates) for m in estimates) + "."
    text = "Estimated, not measured: " + "; ".join(labelled(m, estimates) for m in estimates) + "."
    if any(m != "peak_memory_kb" for m in estimates):
        text += (" No energy counter (NVML or RAPL) was readable where these trials ran, so the energy probe multiplied "
                 "the power given as watts=... by the measured time: compare these figures with each other, not with "
                 "measured energy.")
    if "peak_memory_kb" in estimates:
        text += (" PeakMemory counted peak_memory_kb on the CPU from the model's tensors (the weights where counted, "
                 "and the largest layer's or operation's input and output): a runtime's memory planner and its own "
                 "buffers make the device's figure differ, so keep a margin under a RAM budget.")
    return text


def estimate_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The HTML report's Study-table row on estimated figures (``[("estimated", note)]``), or none."""
    note = estimates_note(data.get("estimated_metrics"))
    return [("estimated", note)] if note else []
