"""Benchmark problems in minimization form, with reference points and known maximum hypervolumes.

The functions, reference points and maximum hypervolumes are BoTorch's test functions
(``botorch.test_functions.multi_objective``), evaluated in their minimization form. Constraints are
given as ``g <= 0`` feasible (BoTorch's slack ``s >= 0`` becomes ``g = -s``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import moo_hpo as mh

__all__ = ["PROBLEMS", "BenchmarkProblem", "get_problem"]


@dataclass
class BenchmarkProblem:
    """A test problem: bounds, objectives, constraints, reference point and maximum hypervolume."""

    name: str
    bounds: np.ndarray  # (2, d)
    ref_point: np.ndarray  # minimization form
    max_hv: float | None
    n_constraints: int
    _fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

    @property
    def dim(self) -> int:
        return self.bounds.shape[1]

    @property
    def n_objectives(self) -> int:
        return len(self.ref_point)

    def evaluate(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objectives ``(n, m)`` and constraint values ``(n, k)`` (``<= 0`` feasible) at points ``(n, d)``."""
        return self._fn(np.atleast_2d(np.asarray(X, dtype=float)))

    # -- as a moo_hpo study
    def space(self) -> mh.Space:
        return mh.Space({f"x{i}": mh.Float(float(lo), float(hi)) for i, (lo, hi) in enumerate(self.bounds.T)})

    def objectives(self) -> list[mh.Objective]:
        return [mh.Minimize(f"f{j}", ref=float(r)) for j, r in enumerate(self.ref_point)]

    def constraints(self) -> list[mh.Constraint]:
        return [mh.AtMost(f"g{j}", 0.0) for j in range(self.n_constraints)]

    def study(self, optimizer: str, params: dict[str, Any] | None = None, seed: int = 0) -> mh.Study:
        """An in-memory study of this problem with the named moo_hpo optimizer and its arguments."""
        return mh.Study(
            self.space(),
            self.objectives(),
            self.constraints(),
            optimizer="auto" if optimizer == "auto" and not params else mh.optimizers.make_optimizer(optimizer, params or {}),
            seed=seed,
        )

    def config_to_x(self, config: dict[str, Any]) -> np.ndarray:
        return np.array([config[f"x{i}"] for i in range(self.dim)])

    def metrics(self, F: np.ndarray, G: np.ndarray) -> dict[str, float]:
        out = {f"f{j}": float(v) for j, v in enumerate(F)}
        out.update({f"g{j}": float(v) for j, v in enumerate(G)})
        return out


def _botorch(cls_name: str, **kwargs: Any) -> BenchmarkProblem:
    import torch
    from botorch.test_functions import multi_objective as mo

    f = getattr(mo, cls_name)(**kwargs)
    k = getattr(f, "num_constraints", 0)

    def fn(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = torch.as_tensor(X, dtype=torch.double)
        with torch.no_grad():
            F = f(t).numpy()
            G = -f.evaluate_slack(t).numpy() if k else np.zeros((len(X), 0))
        return F, G

    return BenchmarkProblem(
        name="",
        bounds=f.bounds.numpy().astype(float),
        ref_point=f.ref_point.numpy().astype(float),
        max_hv=float(f._max_hv) if getattr(f, "_max_hv", None) is not None else None,
        n_constraints=k,
        _fn=fn,
    )


def _gramacy() -> BenchmarkProblem:
    """Gramacy et al. (2016): minimize x1 + x2 under two black-box constraints; optimum 0.5998.

    Single objective: the "hypervolume" is ``ref - best feasible value`` with ``ref = 2``, so the
    maximum is ``2 - 0.5998``.
    """
    import torch
    from botorch.test_functions.synthetic import ConstrainedGramacy

    f = ConstrainedGramacy()

    def fn(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = torch.as_tensor(X, dtype=torch.double)
        with torch.no_grad():
            return f(t).numpy().reshape(-1, 1), -f.evaluate_slack(t).numpy()

    return BenchmarkProblem(name="", bounds=f.bounds.numpy().astype(float), ref_point=np.array([2.0]),
                            max_hv=2.0 - f._optimal_value, n_constraints=2, _fn=fn)


PROBLEMS: dict[str, Callable[[], BenchmarkProblem]] = {
    "gramacy": _gramacy,
    "zdt1": lambda: _botorch("ZDT1", dim=30),
    "zdt1-10": lambda: _botorch("ZDT1", dim=10),
    "zdt2": lambda: _botorch("ZDT2", dim=30),
    "zdt3": lambda: _botorch("ZDT3", dim=30),
    "dtlz2-2d": lambda: _botorch("DTLZ2", dim=6, num_objectives=2),
    "dtlz2-3d": lambda: _botorch("DTLZ2", dim=12, num_objectives=3),
    "dtlz2-3d-6": lambda: _botorch("DTLZ2", dim=6, num_objectives=3),
    "dtlz2-4d-6": lambda: _botorch("DTLZ2", dim=6, num_objectives=4),
    "c2dtlz2": lambda: _botorch("C2DTLZ2", dim=4, num_objectives=2),
    "branincurrin": lambda: _botorch("BraninCurrin"),
    "vehiclesafety": lambda: _botorch("VehicleSafety"),
    "carsideimpact": lambda: _botorch("CarSideImpact"),
}


def get_problem(name: str) -> BenchmarkProblem:
    """A problem by name (see :data:`PROBLEMS`)."""
    if name not in PROBLEMS:
        raise SystemExit(f"unknown problem {name!r}; expected one of {sorted(PROBLEMS)}")
    p = PROBLEMS[name]()
    p.name = name
    return p
