"""Seconds per suggestion of the Bayesian optimizers at about a given number of observations.

    python -m benchmarks.bo_suggestion_speed [--optimizers ehvi parego] [--observations 100] [--threads 1]
                                             [--params '{"noiseless": true}']

The problem is DTLZ2 with 6 variables and 3 objectives (BoTorch's test function). Each optimizer
gets an initial design of ``--observations`` Sobol points (``n_init``), then proposes ``--asks``
suggestions one at a time, each result told before the next ask, as in a sequential study. The
first model-based ask also imports BoTorch and fits every GP from scratch; it is reported apart
from the median of the later ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from benchmarks.problems import get_problem


def measure(
    optimizer: str, observations: int, asks: int, seed: int, params: dict | None = None
) -> tuple[float, list[float]]:
    """Seconds of the first model-based ask and of each later one."""
    problem = get_problem("dtlz2-3d-6")
    study = problem.study(optimizer, {**(params or {}), "n_init": observations}, seed)

    def evaluate(config: dict) -> dict[str, float]:
        F, G = problem.evaluate(problem.config_to_x(config))
        return problem.metrics(F[0], G[0])

    study.optimize(evaluate, n_trials=observations, show_progress=False)
    times = []
    for _ in range(asks + 1):
        t0 = time.perf_counter()
        trial = study.ask()
        times.append(time.perf_counter() - t0)
        study.tell(trial, evaluate(trial.config))
    return times[0], times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizers", nargs="+", default=["ehvi", "parego"])
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--asks", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", type=json.loads, default=None, help="optimizer arguments, as JSON")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print("| optimizer | arguments | observations | torch threads | first ask s | later asks s, median [min, max] |")
    print("|---|---|---:|---:|---:|---|")
    for name in args.optimizers:
        first, later = measure(name, args.observations, args.asks, args.seed, args.params)
        print(
            f"| {name} | {json.dumps(args.params or {})} | {args.observations} | {args.threads} | {first:.2f} | "
            f"{statistics.median(later):.2f} [{min(later):.2f}, {max(later):.2f}] |",
            flush=True,
        )


if __name__ == "__main__":
    main()
