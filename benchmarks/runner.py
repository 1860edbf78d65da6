"""Run one optimizer on one problem for several seeds; write one JSON file per run.

Each run records the hypervolume after every evaluation (feasible points only, the problem's
reference point), the final hypervolume and its log10 gap to the known maximum, and the
optimizer's own wall time: everything but the objective function's evaluation.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems import BenchmarkProblem
from moo_hpo.fronts import HypervolumeTracker, pareto_mask

__all__ = ["run_many", "run_one"]


class _Recorder:
    """Evaluates the problem one point at a time, timing the evaluation and tracking the hypervolume."""

    def __init__(self, problem: BenchmarkProblem) -> None:
        self.problem = problem
        self.tracker = HypervolumeTracker(problem.ref_point)
        self.hv: list[float] = []
        self.objective_seconds = 0.0
        self.points: list[tuple[np.ndarray, bool]] = []

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        F, G = self.problem.evaluate(x)
        self.objective_seconds += time.perf_counter() - t0
        return F[0], G[0]

    def record(self, F: np.ndarray, G: np.ndarray) -> None:
        """Track the hypervolume; timed with the objective (it is measurement, not optimization)."""
        t0 = time.perf_counter()
        feasible = bool(np.all(G <= 0))
        self.points.append((F, feasible))
        self.hv.append(self.tracker.add(F) if feasible else self.tracker.value)
        self.objective_seconds += time.perf_counter() - t0


def _run_moo_hpo(problem: BenchmarkProblem, name: str, params: dict[str, Any], budget: int, seed: int, rec: _Recorder) -> None:
    study = problem.study(name, params, seed)

    def fn(config: dict[str, Any]) -> dict[str, float]:
        # the objective as a user writes it (config in, metrics out), timed as the objective
        t0 = time.perf_counter()
        x = problem.config_to_x(config)
        F, G = problem.evaluate(x)
        metrics = problem.metrics(F[0], G[0])
        rec.objective_seconds += time.perf_counter() - t0
        rec.record(F[0], G[0])
        return metrics

    study.optimize(fn, n_trials=budget, show_progress=False)
    rec.front_feasible = all(all(t.metrics[c.name] <= 0 for c in problem.constraints()) for t in study.pareto_front())


def run_one(problem: BenchmarkProblem, optimizer: str, budget: int, seed: int, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one optimizer (a moo_hpo name, or a peer such as ``pymoo-nsga2``) and return the record."""
    from benchmarks import peers

    params = dict(params or {})
    rec = _Recorder(problem)
    rec.front_feasible = None
    t0 = time.perf_counter()
    if optimizer in peers.PEERS:
        peers.PEERS[optimizer](problem, params, budget, seed, rec)
    else:
        _run_moo_hpo(problem, optimizer, params, budget, seed, rec)
    wall = time.perf_counter() - t0
    n = len(rec.hv)
    final = rec.hv[-1] if rec.hv else 0.0
    feasible_F = np.array([F for F, ok in rec.points if ok])
    if rec.front_feasible is None:  # peers: the front of what they evaluated, feasible points only
        rec.front_feasible = True
    gap = problem.max_hv - final if problem.max_hv is not None else None
    return {
        "problem": problem.name,
        "optimizer": optimizer,
        "params": params,
        "seed": seed,
        "budget": budget,
        "evaluations": n,
        "hv": [round(v, 10) for v in rec.hv],
        "final_hv": final,
        "max_hv": problem.max_hv,
        "log10_gap": (math.log10(gap) if gap and gap > 0 else None),
        "n_feasible": int(len(feasible_F)),
        "front_size": int(pareto_mask(feasible_F).sum()) if len(feasible_F) else 0,
        "front_all_feasible": rec.front_feasible,
        "wall_seconds": wall,
        "objective_seconds": rec.objective_seconds,  # function evaluation + hypervolume tracking
        "optimizer_seconds": wall - rec.objective_seconds,
        "optimizer_ms_per_eval": 1000 * (wall - rec.objective_seconds) / max(n, 1),
    }


def run_many(
    problem: BenchmarkProblem, optimizer: str, budget: int, seeds: list[int], out: Path, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run each seed and write ``out/<problem>__<optimizer>__<budget>__s<seed>.json``."""
    logging.getLogger("moo_hpo").setLevel(logging.WARNING)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in seeds:
        rec = run_one(problem, optimizer, budget, seed, params)
        tag = optimizer + ("-" + "-".join(f"{k}{v}" for k, v in sorted((params or {}).items())) if params else "")
        path = out / f"{problem.name}__{tag}__{budget}__s{seed}.json"
        rec["tag"] = tag
        path.write_text(json.dumps(rec))
        gap = f"{rec['log10_gap']:.3f}" if rec["log10_gap"] is not None else "n/a"
        print(
            f"{problem.name} {tag} seed={seed}: hv={rec['final_hv']:.6g} log10 gap={gap} "
            f"optimizer {rec['optimizer_ms_per_eval']:.3f} ms/eval ({rec['evaluations']} evals)",
            flush=True,
        )
        records.append(rec)
    return records
