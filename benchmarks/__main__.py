"""Benchmark command line.

    python -m benchmarks run --problem zdt1 --optimizer nsga2 --budget 5000 --seeds 0 1 2 3 4 [--param pop_size=100]
    python -m benchmarks summarize [--results benchmarks/results] [--plot docs/hv.png]

Optimizers: any moo_hpo name (``nsga2``, ``nsga3``, ``spea2``, ``sobol`` ...) or a peer:
``pymoo-nsga2``, ``pymoo-nsga3``, ``optuna-nsga2``, ``optuna-nsga3``, ``optuna-tpe``, ``optuna-gp``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.problems import PROBLEMS, get_problem
from benchmarks.runner import run_many
from benchmarks.summarize import load_runs, plot, table

DEFAULT_RESULTS = Path(__file__).parent / "results"


def _param(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="moo_hpo benchmark harness")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one optimizer on one problem")
    run.add_argument("--problem", required=True, choices=sorted(PROBLEMS))
    run.add_argument("--optimizer", required=True)
    run.add_argument("--budget", type=int, required=True)
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    run.add_argument("--param", type=_param, action="append", default=[], help="optimizer argument, e.g. pop_size=100")
    run.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    summ = sub.add_parser("summarize", help="median / min-max table and plots")
    summ.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    summ.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "run":
        run_many(get_problem(args.problem), args.optimizer, args.budget, args.seeds, args.out, dict(args.param))
    else:
        runs = load_runs(args.results)
        print(table(runs))
        if args.plot:
            plot(runs, args.plot)
            print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
