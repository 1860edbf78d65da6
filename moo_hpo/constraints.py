"""Constraints: bounds on named metrics, hard or soft, with one sign convention.

A constraint turns a metric value into a *constraint value* ``g``: ``g <= 0`` is feasible and
``g > 0`` says by how much (in the metric's units) the bound is broken.

* **hard** (default): a trial with ``g > 0`` is infeasible. It never enters the Pareto front, and
  when the metric is measured before training (size, latency) the candidate is not trained at all.
* **soft** (``soft=True``): the trial stays feasible; the optimizer sees each objective increased
  by ``penalty * max(g, 0)`` (internal, minimized convention), while the stored metrics stay raw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_number

__all__ = ["AtLeast", "AtMost", "Constraint", "constraint_from_dict"]


def _short(value: float) -> str:
    """A bound as short as it reads exactly (``500``, ``0.05``, ``0.1234567``): ``:g`` alone rounds to 6 digits."""
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


@dataclass(frozen=True)
class Constraint:
    """A bound on a metric.

    Attributes:
        name: the metric's name (``size_kb``).
        kind: ``"at_most"`` (value <= bound) or ``"at_least"`` (value >= bound).
        bound: the bound in the metric's units.
        soft: penalize instead of rejecting.
        penalty: weight of the penalty of a soft constraint, per unit of violation.
    """

    name: str
    kind: str
    bound: float
    soft: bool = False
    penalty: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"a constraint expects a metric name (non-empty string); received {self.name!r}")
        if self.kind not in ("at_most", "at_least"):
            raise ConfigError(f"constraint kind must be 'at_most' or 'at_least'; received {self.kind!r}")
        if not is_number(self.bound) or not math.isfinite(self.bound):
            raise ConfigError(f"bound of constraint on {self.name!r} must be a finite number; received {self.bound!r}")
        if not is_number(self.penalty) or not 0 < self.penalty < math.inf:
            raise ConfigError(f"penalty of constraint on {self.name!r} must be a positive, finite number; received {self.penalty!r}")
        if not isinstance(self.soft, (bool, np.bool_)):
            raise ConfigError(f"soft of constraint on {self.name!r} must be True or False; received {self.soft!r}")
        object.__setattr__(self, "bound", float(self.bound))
        object.__setattr__(self, "penalty", float(self.penalty))
        object.__setattr__(self, "soft", bool(self.soft))

    @property
    def hard(self) -> bool:
        """True for a hard constraint."""
        return not self.soft

    def value(self, metric: float) -> float:
        """The constraint value ``g`` of a metric value: ``g <= 0`` means satisfied."""
        return metric - self.bound if self.kind == "at_most" else self.bound - metric

    def is_satisfied(self, metric: float) -> bool:
        """True when the metric value satisfies the bound."""
        return self.value(metric) <= 0.0

    def describe(self) -> str:
        """Human-readable form, e.g. ``size_kb <= 500``."""
        op = "<=" if self.kind == "at_most" else ">="
        return f"{self.name} {op} {_short(self.bound)}" + (" (soft)" if self.soft else "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "bound": self.bound, "soft": self.soft, "penalty": self.penalty}

    def __repr__(self) -> str:
        cls = "AtMost" if self.kind == "at_most" else "AtLeast"
        soft = f", soft=True, penalty={_short(self.penalty)}" if self.soft else ""
        return f"{cls}({self.name!r}, {_short(self.bound)}{soft})"


def AtMost(name: str, bound: float, soft: bool = False, penalty: float = 1.0) -> Constraint:  # noqa: N802
    """Require ``metric <= bound``.

    Args:
        name: metric name (``size_kb``).
        bound: the largest allowed value.
        soft: penalize the optimizer's view instead of rejecting the trial.
        penalty: penalty weight per unit of violation (soft constraints only).
    """
    _check_penalty_is_soft(name, soft, penalty)
    made = Constraint(name, "at_most", bound, soft, penalty)
    if made.bound < 0:
        from moo_hpo.objectives.fairness import FAIRNESS_METRICS, gap_parts

        base = gap_parts(name)[1]
        if base in FAIRNESS_METRICS:  # fairlearn's gaps and ratios are never negative
            from moo_hpo.user_warnings import warn

            advice = (f"a ratio is fairer the higher it is: AtLeast({name!r}, {_short(-made.bound)}) keeps the fairer "
                      "models" if base.endswith("_ratio") else f"AtMost({name!r}, {_short(-made.bound)}) bounds its size")
            warn(f"AtMost({name!r}, {_short(made.bound)}): a fairness {'ratio' if base.endswith('_ratio') else 'gap'} "
                 f"is never below 0, so no trial can meet this bound; {advice}")
    return made


def AtLeast(name: str, bound: float, soft: bool = False, penalty: float = 1.0) -> Constraint:  # noqa: N802
    """Require ``metric >= bound``.

    Args:
        name: metric name (``accuracy``).
        bound: the smallest allowed value.
        soft: penalize the optimizer's view instead of rejecting the trial.
        penalty: penalty weight per unit of violation (soft constraints only).
    """
    _check_penalty_is_soft(name, soft, penalty)
    return Constraint(name, "at_least", bound, soft, penalty)


def _check_penalty_is_soft(name: str, soft: bool, penalty: float) -> None:
    """A penalty weighs a soft constraint's violation; on a hard one it would be ignored in silence.

    (Checked where users write constraints, not when a stored study is read back.)

    Raises:
        ConfigError: for ``penalty`` other than its default on a hard constraint.
    """
    if soft is False and penalty != 1.0:
        raise ConfigError(
            f"penalty={penalty!r} of constraint on {name!r} applies to soft constraints only; pass soft=True "
            "(a hard constraint rejects the trial, with no penalty)"
        )


def constraint_from_dict(data: dict[str, Any]) -> Constraint:
    """Rebuild a constraint from :meth:`Constraint.to_dict`."""
    return Constraint(data["name"], data["kind"], data["bound"], data.get("soft", False), data.get("penalty", 1.0))
