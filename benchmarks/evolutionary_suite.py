"""The evolutionary benchmark suite: moo_hpo's NSGA-II/III beside pymoo direct and Optuna, 5 seeds.

    python -m benchmarks.evolutionary_suite [--out benchmarks/results/evolutionary] [--seeds 0 1 2 3 4]

Runs ZDT1 (30 variables, 5,000 evaluations, population 100), DTLZ2 (12 variables, 3 objectives,
5,000 evaluations, population 92) and C2-DTLZ2 (4 variables, constrained, 2,000 evaluations), then
prints the summary table and writes the hypervolume plot next to the results.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.problems import get_problem
from benchmarks.runner import run_many, run_one
from benchmarks.summarize import load_runs, plot, table

SUITE = [
    ("zdt1", 5000, {"pop_size": 100}, ["nsga2", "pymoo-nsga2", "optuna-nsga2"]),
    ("dtlz2-3d", 5000, {"pop_size": 92}, ["nsga3", "pymoo-nsga3", "optuna-nsga3"]),
    ("c2dtlz2", 2000, {"pop_size": 40}, ["nsga2", "pymoo-nsga2", "optuna-nsga2"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "evolutionary")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    for problem, budget, params, optimizers in SUITE:
        p = get_problem(problem)
        for name in optimizers:  # untimed warm-up: imports and first-call costs hit no timed run
            run_one(p, name, 3 * params["pop_size"], 10_000, params)
        for seed in args.seeds:  # seeds interleaved, so a slow spell of the machine hits every optimizer
            for name in optimizers:
                run_many(p, name, budget, [seed], args.out, params)
    runs = load_runs(args.out)
    print(table(runs))
    plot(runs, args.out / "hypervolume.png")


if __name__ == "__main__":
    main()
