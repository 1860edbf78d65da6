"""Reports for stakeholders: the study report, the fairness audit, device sizing and the live view."""

from __future__ import annotations

from moo_hpo.reports.fairness import FairnessAudit, fairness_audit
from moo_hpo.reports.live import LiveServer, serve
from moo_hpo.reports.report import Report, report
from moo_hpo.reports.sizing import DeviceProfile, SizingResult, size_for_devices

__all__ = [
    "DeviceProfile",
    "FairnessAudit",
    "LiveServer",
    "Report",
    "SizingResult",
    "fairness_audit",
    "report",
    "serve",
    "size_for_devices",
]
