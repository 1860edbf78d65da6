"""moo_hpo: multi-objective and constrained hyperparameter optimization.

Describe a search space, the objectives (accuracy, latency, size, energy, fairness gaps ...) and the
hard or soft limits a model must respect; an optimizer proposes candidates, probes measure them, and
the result is a Pareto front with hypervolume figures and reports.
"""

from __future__ import annotations

__version__ = "0.1.0"

from moo_hpo.constraints import AtLeast, AtMost, Constraint
from moo_hpo.exceptions import (
    ConfigError,
    MooHpoError,
    NoFeasibleTrialError,
    ProbeError,
    StorageError,
    TrialPruned,
    UnsupportedError,
)
from moo_hpo.objectives.specs import Maximize, Minimize, Objective
from moo_hpo.space import Categorical, Float, Int, Rule, Space
from moo_hpo.choice import Recommendation
from moo_hpo.stopping import HypervolumeStagnation
from moo_hpo.study import Study
from moo_hpo.trial import Result, Trial, TrialStatus
from moo_hpo.user_warnings import MooHpoWarning
from moo_hpo import optimizers, pruners

_LAZY = {
    "report": "moo_hpo.reports.report",
    "Report": "moo_hpo.reports.report",
    "fairness_audit": "moo_hpo.reports.fairness",
    "FairnessAudit": "moo_hpo.reports.fairness",
    "DeviceProfile": "moo_hpo.devices",
    "device_constraints": "moo_hpo.reports.sizing",
    "size_for_devices": "moo_hpo.reports.sizing",
    "objectives": "moo_hpo.objectives",
}


def __getattr__(name: str):  # reports import plotly: load them on first use
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        return module if name == "objectives" else getattr(module, name)
    if name in ("probes", "probe"):  # what the docs call them, not where they are
        raise AttributeError(f"module 'moo_hpo' has no attribute {name!r}: the probes are in moo_hpo.objectives "
                             "(mh.objectives.ModelSize(), mh.objectives.Latency(example) ...)")
    raise AttributeError(f"module 'moo_hpo' has no attribute {name!r}")


def __dir__() -> list[str]:  # the lazily loaded names too (tab completion)
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "AtLeast",
    "AtMost",
    "Categorical",
    "ConfigError",
    "Constraint",
    "DeviceProfile",
    "FairnessAudit",
    "Float",
    "HypervolumeStagnation",
    "Int",
    "Maximize",
    "Minimize",
    "MooHpoError",
    "MooHpoWarning",
    "NoFeasibleTrialError",
    "Objective",
    "ProbeError",
    "Recommendation",
    "Report",
    "Result",
    "Rule",
    "Space",
    "StorageError",
    "Study",
    "Trial",
    "TrialPruned",
    "TrialStatus",
    "UnsupportedError",
    "__version__",
    "device_constraints",
    "fairness_audit",
    "objectives",
    "optimizers",
    "pruners",
    "report",
    "size_for_devices",
]
