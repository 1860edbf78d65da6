"""Bayesian optimizers with and without the failure model, on problems where part of the space fails.

    python -m benchmarks.failure_model [--problems branincurrin c2dtlz2] [--optimizer ehvi] [--seeds 0 1 2 3 4]
                                       [--params '{"noiseless": true}'] [--threads 1] [--ax | --only-ax]

Every evaluation whose first variable lies in the upper ``--failing`` share of its range raises (as a
training run that runs out of memory above some model size would), so that part of the space never
returns a value. ``ehvi`` (or ``--optimizer``) runs with ``model_failures=True`` (the default: a GP learns where trials fail
and candidates are weighed by the probability that they do not) and with ``model_failures=False``
(failed trials are only left out); with ``--ax``, Ax 1.3.1's default generation strategy too, told
of each failure with ``log_trial_failure``. Reported per seed: failed trials out of the budget, the final
hypervolume of the successful feasible trials (the problem's reference point; for the single-objective
Gramacy problem, 2 minus the best feasible value) and the optimizer's
seconds per trial (everything but the objective function).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time

import numpy as np

from benchmarks.problems import get_problem
from moo_hpo.fronts import hypervolume

BUDGETS = {"branincurrin": 40, "c2dtlz2": 60, "gramacy": 40}
DEFAULT_PROBLEMS = ["branincurrin", "c2dtlz2"]


def run(problem_name: str, seed: int, failing: float, params: dict, optimizer: str = "ehvi") -> dict[str, float]:
    """One study; returns failed trials, final hypervolume and optimizer seconds per trial."""
    problem = get_problem(problem_name)
    lo, hi = problem.bounds
    threshold = hi[0] - failing * (hi[0] - lo[0])
    study = problem.study(optimizer, params, seed)
    objective_seconds = 0.0
    points: list[np.ndarray] = []

    def evaluate(config: dict) -> dict[str, float]:
        nonlocal objective_seconds
        t0 = time.perf_counter()
        x = problem.config_to_x(config)
        if x[0] > threshold:
            objective_seconds += time.perf_counter() - t0
            raise RuntimeError("out of memory")
        F, G = problem.evaluate(x)
        if np.all(G <= 0):
            points.append(F[0])
        objective_seconds += time.perf_counter() - t0
        return problem.metrics(F[0], G[0])

    budget = BUDGETS[problem_name]
    t0 = time.perf_counter()
    study.optimize(evaluate, n_trials=budget, show_progress=False)
    wall = time.perf_counter() - t0
    failed = sum(t.status.value == "failed" for t in study.trials)
    hv = hypervolume(np.array(points), problem.ref_point) if points else 0.0
    return {"failed": failed, "budget": budget, "hv": float(hv), "s_per_trial": (wall - objective_seconds) / budget}


def run_ax(problem_name: str, seed: int, failing: float) -> dict[str, float]:
    """Ax 1.3's default generation strategy on the same problem; a failing evaluation is logged to Ax
    as a failed trial (``log_trial_failure``)."""
    from ax.service.ax_client import AxClient, ObjectiveProperties

    logging.getLogger("ax").setLevel(logging.WARNING)
    problem = get_problem(problem_name)
    lo, hi = problem.bounds
    threshold = hi[0] - failing * (hi[0] - lo[0])
    client = AxClient(random_seed=seed, verbose_logging=False)
    client.create_experiment(
        parameters=[{"name": f"x{i}", "type": "range", "bounds": [float(a), float(b)], "value_type": "float"}
                    for i, (a, b) in enumerate(problem.bounds.T)],
        objectives={f"f{j}": ObjectiveProperties(minimize=True, threshold=float(r)) for j, r in enumerate(problem.ref_point)},
        outcome_constraints=[f"g{j} <= 0.0" for j in range(problem.n_constraints)],
        is_test=True,
    )
    budget = BUDGETS[problem_name]
    failed, points, optimizer_seconds = 0, [], 0.0
    for _ in range(budget):
        t0 = time.perf_counter()
        parameters, index = client.get_next_trial()
        optimizer_seconds += time.perf_counter() - t0
        x = np.array([parameters[f"x{i}"] for i in range(problem.dim)])
        t0 = time.perf_counter()
        if x[0] > threshold:
            failed += 1
            client.log_trial_failure(trial_index=index)
        else:
            F, G = problem.evaluate(x)
            if np.all(G <= 0):
                points.append(F[0])
            data = {f"f{j}": (float(v), 0.0) for j, v in enumerate(F[0])}
            data.update({f"g{j}": (float(v), 0.0) for j, v in enumerate(G[0])})
            client.complete_trial(trial_index=index, raw_data=data)
        optimizer_seconds += time.perf_counter() - t0
    hv = hypervolume(np.array(points), problem.ref_point) if points else 0.0
    return {"failed": failed, "budget": budget, "hv": float(hv), "s_per_trial": optimizer_seconds / budget}


def _print_row(name: str, label: str, rows: list[dict[str, float]]) -> None:
    failed = [r["failed"] for r in rows]
    hvs = [r["hv"] for r in rows]
    print(
        f"| {name} | {rows[0]['budget']} | {label} | {' '.join(map(str, failed))} | "
        f"{statistics.median(failed):g} | {' '.join(f'{h:.4g}' for h in hvs)} | {statistics.median(hvs):.4g} | "
        f"{statistics.median(r['s_per_trial'] for r in rows):.2f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=DEFAULT_PROBLEMS, choices=list(BUDGETS))
    parser.add_argument("--optimizer", default="ehvi", choices=["ehvi", "parego", "cei"], help="cei: single-objective problems (gramacy)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--failing", type=float, default=0.5, help="share of the first variable's range that fails")
    parser.add_argument("--params", type=json.loads, default={"noiseless": True}, help="optimizer arguments, as JSON")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ax", action="store_true", help="also run Ax 1.3.1 (failed trials logged as failures)")
    parser.add_argument("--only-ax", action="store_true", help="run Ax 1.3.1 only")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    logging.getLogger("moo_hpo").setLevel(logging.ERROR)
    print("| problem | budget | optimizer | failed trials per seed | median failed | final HV per seed | median HV | optimizer s/trial (median) |")
    print("|---|---:|---|---|---:|---|---:|---:|")
    for name in args.problems:
        if not args.only_ax:
            for model_failures in (True, False):
                rows = [run(name, s, args.failing, {**args.params, "model_failures": model_failures}, args.optimizer) for s in args.seeds]
                _print_row(name, f"{args.optimizer} {json.dumps({**args.params, 'model_failures': model_failures})}", rows)
        if args.ax or args.only_ax:
            _print_row(name, "ax", [run_ax(name, s, args.failing) for s in args.seeds])


if __name__ == "__main__":
    main()
