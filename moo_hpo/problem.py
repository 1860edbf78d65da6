"""The study's definition as optimizers and analyses see it: arrays in the internal convention.

Internal convention (one for all of moo_hpo): every objective is minimized (``Maximize`` metrics are
negated) and a constraint value ``g <= 0`` is feasible. Adapters to pymoo or BoTorch convert from
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from functools import cached_property

import numpy as np

from moo_hpo.analysis import ReferencePoint
from moo_hpo.constraints import Constraint
from moo_hpo.exceptions import ConfigError
from moo_hpo.objectives.specs import Objective
from moo_hpo.space import Space
from moo_hpo.trial import Trial, TrialStatus
from moo_hpo.user_warnings import warn

__all__ = ["Problem", "definition_difference"]


@dataclass(frozen=True)
class Problem:
    """Space, objectives and constraints of a study, with the conversions every optimizer needs.

    Attributes:
        space: the search space.
        objectives: the objectives, in order.
        constraints: every constraint (hard and soft).
        seed: the study's seed.
        budget: the number of trials the study expects to run, when known (a hint).
        reference: the hypervolume reference point policy (:class:`moo_hpo.analysis.ReferencePoint`);
            a study shares its own with its optimizers, a problem built alone gets a fresh one.
    """

    space: Space
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    seed: int = 0
    budget: int | None = None
    reference: ReferencePoint = field(default=None, compare=False, repr=False)  # type: ignore[assignment]
    _signs: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.objectives:
            raise ConfigError("a study expects at least one objective (mh.Minimize or mh.Maximize); received none")
        names = [o.name for o in self.objectives]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"objective metric names must be unique; received {dupes} more than once")
        object.__setattr__(self, "_signs", np.array([o.sign for o in self.objectives]))
        if self.reference is None:
            object.__setattr__(self, "reference", ReferencePoint(self.objectives))

    def warn_contradictions(self) -> None:
        """Warn when the hard constraints on one metric leave no value feasible (``<= a`` and ``>= b > a``);
        a study calls it once, when it is defined."""
        for name in {c.name for c in self.constraints}:
            upper = min((c.bound for c in self.hard_constraints if c.name == name and c.kind == "at_most"), default=np.inf)
            lower = max((c.bound for c in self.hard_constraints if c.name == name and c.kind == "at_least"), default=-np.inf)
            for kind, word, tightest in (("at_most", "<=", min), ("at_least", ">=", max)):
                bounds = [c.bound for c in self.hard_constraints if c.name == name and c.kind == kind]
                if len(bounds) > 1:
                    warn(
                        f"{len(bounds)} hard constraints bound {name!r} {word} ({', '.join(f'{b:g}' for b in bounds)}): "
                        f"only the tightest, {tightest(bounds):g}, decides; keep that one"
                    )
            if lower > upper:
                warn(
                    f"the hard constraints on {name!r} contradict each other: it must be <= {upper:g} and >= {lower:g}, "
                    "so no trial can be feasible"
                )

    @property
    def n_objectives(self) -> int:
        return len(self.objectives)

    @cached_property
    def hard_constraints(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.hard)

    @cached_property
    def soft_constraints(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.soft)

    @cached_property
    def required_metrics(self) -> tuple[str, ...]:
        """Every metric an objective or constraint names, each once, in order."""
        return tuple(dict.fromkeys([o.name for o in self.objectives] + [c.name for c in self.constraints]))

    def objective_matrix(self, trials: Sequence[Trial], penalized: bool = False) -> np.ndarray:
        """Objective values, internal convention, shape ``(n, m)``; NaN where a metric is missing.

        Args:
            trials: the trials.
            penalized: add the soft-constraint penalties (what optimizers see).
        """
        Y = np.array(
            [[t.metrics.get(o.name, np.nan) for o in self.objectives] for t in trials], dtype=float
        ).reshape(len(trials), self.n_objectives)
        Y = Y * self._signs
        if penalized and self.soft_constraints:
            Y = Y + self.soft_penalty(trials)[:, None]
        return Y

    def soft_penalty(self, trials: Sequence[Trial]) -> np.ndarray:
        """Sum of ``penalty * max(g, 0)`` over soft constraints, shape ``(n,)``."""
        total = np.zeros(len(trials))
        for c in self.soft_constraints:
            g = np.array([c.value(t.metrics.get(c.name, np.nan)) for t in trials], dtype=float)
            total += c.penalty * np.maximum(np.nan_to_num(g, nan=0.0), 0.0)
        return total

    def constraint_matrix(self, trials: Sequence[Trial]) -> np.ndarray:
        """Hard-constraint values ``g`` (``<= 0`` feasible), shape ``(n, k_hard)``; NaN where missing."""
        hard = self.hard_constraints
        return np.array(
            [[c.value(t.metrics.get(c.name, np.nan)) for c in hard] for t in trials], dtype=float
        ).reshape(len(trials), len(hard))

    def violation(self, trials: Sequence[Trial]) -> np.ndarray:
        """Total hard violation ``sum(max(g, 0))`` per trial; ``inf`` where a hard metric is missing."""
        G = self.constraint_matrix(trials)
        v = np.maximum(G, 0.0).sum(axis=1)
        v[np.isnan(G).any(axis=1)] = np.inf
        return v

    def is_feasible(self, trial: Trial) -> bool:
        """Complete and within every hard constraint."""
        if trial.status is not TrialStatus.COMPLETE:
            return False
        for c in self.hard_constraints:
            value = trial.metrics.get(c.name)
            if value is None or not c.is_satisfied(value):
                return False
        return True


def definition_difference(stored: Any, given: Any) -> str:
    """What differs between a stored part of a study's definition and the given one: parameter by parameter for
    spaces (``Space.to_dict()``), else both whole.

    Args:
        stored: the stored part (a space's dict, or the objectives' / constraints' list).
        given: the same part as given now.

    Returns:
        A phrase for an error message.
    """
    from moo_hpo.params import same_definition

    if isinstance(stored, dict) and isinstance(given, dict) and "params" in stored and "params" in given:
        old, new = stored["params"], given["params"]
        parts = [f"parameter {n!r} is {old[n]} stored, {new[n]} given" for n in old if n in new and not same_definition(old[n], new[n])]
        parts += [f"parameter {n!r} is only stored" for n in old if n not in new]
        parts += [f"parameter {n!r} is only given" for n in new if n not in old]
        if stored.get("rules") != given.get("rules"):
            parts.append(f"rules {stored.get('rules')} stored, {given.get('rules')} given")
        if parts:
            return "; ".join(parts)
    named = lambda items: isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)  # noqa: E731
    if named(stored) and named(given) and [i["name"] for i in stored] == [i["name"] for i in given]:
        parts = [f"{a['name']!r}: {k} {a.get(k)!r} stored, {b.get(k)!r} given" for a, b in zip(stored, given, strict=True)
                 for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
        if parts:  # objectives or constraints of the same names: the fields that differ
            return "; ".join(parts)
    return f"stored {stored!r}, given {given!r}"
