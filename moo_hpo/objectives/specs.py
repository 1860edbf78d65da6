"""Objective specifications: which metric to minimize or maximize, and its hypervolume reference.

Inside moo_hpo every objective is minimized: a :class:`Maximize` objective is negated at the
boundary (:meth:`Objective.to_internal`), and so is its reference value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_number

__all__ = ["Maximize", "Minimize", "Objective", "objective_from_dict"]


def _check_metric_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{what} expects a metric name (non-empty string); received {name!r}")
    return name


#: The spellings of a direction that ``Objective`` reads, lower-cased, and what each means.
_DIRECTIONS = {"minimize": "minimize", "maximize": "maximize", "min": "minimize", "max": "maximize",
               "minimise": "minimize", "maximise": "maximize"}


@dataclass(frozen=True)
class Objective:
    """A metric to optimize.

    Attributes:
        name: the metric's name, units included (``latency_p99_ms``).
        direction: ``"minimize"`` or ``"maximize"`` (``"min"``, ``"max"`` and the British spellings are read as
            these, in any case).
        ref: the hypervolume reference value in the metric's own units (worst value that still
            counts), or None to let the study derive one.
    """

    name: str
    direction: str
    ref: float | None = None

    def __post_init__(self) -> None:
        _check_metric_name(self.name, type(self).__name__)
        direction = _DIRECTIONS.get(self.direction.strip().lower()) if isinstance(self.direction, str) else None
        if direction is None:
            raise ConfigError(f"direction must be 'minimize' or 'maximize' ('min', 'max'); received {self.direction!r}")
        object.__setattr__(self, "direction", direction)
        if self.ref is not None:
            if not is_number(self.ref) or not math.isfinite(self.ref):
                raise ConfigError(f"ref of objective {self.name!r} must be a finite number; received {self.ref!r}")
            object.__setattr__(self, "ref", float(self.ref))

    @property
    def sign(self) -> float:
        """+1 for minimize, -1 for maximize: ``internal = sign * value``."""
        return 1.0 if self.direction == "minimize" else -1.0

    def to_internal(self, value: float) -> float:
        """The metric value in the internal, minimized convention."""
        return self.sign * value

    def from_internal(self, value: float) -> float:
        """Back from the internal convention to the metric's own units."""
        return self.sign * value

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction, "ref": self.ref}

    def __repr__(self) -> str:
        ref = f", ref={self.ref!r}" if self.ref is not None else ""
        return f"{'Minimize' if self.direction == 'minimize' else 'Maximize'}({self.name!r}{ref})"


def Minimize(name: str, ref: float | None = None) -> Objective:  # noqa: N802 - reads as a spec
    """An objective to minimize.

    Args:
        name: metric name with its unit (``latency_p99_ms``).
        ref: hypervolume reference value (the worst value that still counts), optional.
    """
    return Objective(name, "minimize", ref)


def Maximize(name: str, ref: float | None = None) -> Objective:  # noqa: N802 - reads as a spec
    """An objective to maximize.

    Args:
        name: metric name (``accuracy``).
        ref: hypervolume reference value (the worst value that still counts), optional.
    """
    return Objective(name, "maximize", ref)


def objective_from_dict(data: dict[str, Any]) -> Objective:
    """Rebuild an objective from :meth:`Objective.to_dict`."""
    return Objective(data["name"], data["direction"], data.get("ref"))
