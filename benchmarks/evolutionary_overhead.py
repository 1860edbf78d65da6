"""Optimizer overhead per evaluation: a study's ask + tell (in memory) beside pymoo's ask/tell called directly.

    python -m benchmarks.evolutionary_overhead [--seeds 0 1 ... 9] [--budget 5000]

For moo_hpo the timed part is ``study.ask()`` and ``study.tell(trial, metrics)`` (the optimizer, the trial
records, the in-memory store); for pymoo it is its ``ask``/``tell`` and the evaluator's bookkeeping, as
in ``benchmarks/peers.py``. The objective (BoTorch's ZDT1 / DTLZ2) and its conversions are not timed.
Seeds alternate between the two, after an untimed warm-up of each, so a slow spell of the shared machine
hits both. Printed: the median [min, max] of each, the ratio of the medians, the median of the per-seed
ratios (each seed's two runs are adjacent in time, so a slow spell cancels out) and the ratio of the
fastest runs (as ``timeit`` reports: noise only ever adds time). The evolutionary suite times the whole
``Study.optimize`` loop instead (executor, callbacks).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.problems import get_problem
from benchmarks.runner import run_one

CASES = [("zdt1", "nsga2", 100), ("dtlz2-3d", "nsga3", 92)]


def study_ms_per_eval(problem_name: str, optimizer: str, pop_size: int, budget: int, seed: int) -> float:
    """Milliseconds of ``ask`` + ``tell`` per evaluation of a study with the in-memory store."""
    problem = get_problem(problem_name)
    study = problem.study(optimizer, {"pop_size": pop_size}, seed)
    objective = 0.0
    start = time.perf_counter()
    for _ in range(budget):
        trial = study.ask()
        t0 = time.perf_counter()
        F, G = problem.evaluate(problem.config_to_x(trial.config))
        metrics = problem.metrics(F[0], G[0])
        objective += time.perf_counter() - t0
        study.tell(trial, metrics)
    return 1000 * (time.perf_counter() - start - objective) / budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--budget", type=int, default=5000)
    args = parser.parse_args()
    print(
        "| problem | optimizer | moo_hpo ask+tell ms/eval | pymoo direct ms/eval | ratio of medians "
        "| median per-seed ratio | ratio of fastest |"
    )
    print("|---|---|---|---|---:|---:|---:|")
    for problem_name, optimizer, pop_size in CASES:
        problem = get_problem(problem_name)
        params = {"pop_size": pop_size}
        study_ms_per_eval(problem_name, optimizer, pop_size, 3 * pop_size, 10_000)  # warm-up
        run_one(problem, f"pymoo-{optimizer}", 3 * pop_size, 10_000, params)
        ours, theirs = [], []
        for seed in args.seeds:
            ours.append(study_ms_per_eval(problem_name, optimizer, pop_size, args.budget, seed))
            theirs.append(run_one(problem, f"pymoo-{optimizer}", args.budget, seed, params)["optimizer_ms_per_eval"])
        a, b = statistics.median(ours), statistics.median(theirs)
        paired = statistics.median(x / y for x, y in zip(ours, theirs, strict=True))
        print(
            f"| {problem_name} | {optimizer} | {a:.3f} [{min(ours):.3f}, {max(ours):.3f}] | "
            f"{b:.3f} [{min(theirs):.3f}, {max(theirs):.3f}] | {a / b:.2f} | {paired:.2f} | "
            f"{min(ours) / min(theirs):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
