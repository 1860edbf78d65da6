"""The Bayesian-optimization benchmark suite: ehvi / parego / cei beside Ax, Optuna's GPSampler and Sobol.

    python -m benchmarks.bayesian_suite [--problems branincurrin c2dtlz2] [--optimizers ehvi ax] [--seeds 0 1 2]
                                        [--threads 1] [--params '{"mc_samples": 32}']

Budgets follow the targets: BraninCurrin 60, C2-DTLZ2 (4 variables) 60, DTLZ2 (6 variables, 2 objectives)
60, VehicleSafety 80 evaluations, and the constrained single-objective Gramacy problem 40 (for ``cei``);
when named, ZDT1 with 10 variables and DTLZ2 with 12 variables and 3 objectives, 80 each.
Optuna's default sampler (TPE) runs when named (``--optimizers optuna-tpe``).
Every optimizer gets the problem's reference point. Prints the summary table (median and [min, max]).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.problems import get_problem
from benchmarks.runner import run_many
from benchmarks.summarize import load_runs, table

BUDGETS = {"branincurrin": 60, "c2dtlz2": 60, "dtlz2-2d": 60, "vehiclesafety": 80, "gramacy": 40}
# more variables than the target set (run only when named with --problems)
MORE_VARIABLES = {"zdt1-10": 80, "dtlz2-3d": 80}
MULTI = ["ehvi", "parego", "ax", "optuna-gp", "sobol"]
SINGLE = ["cei", "ax", "optuna-gp", "sobol"]
# run only when named: Optuna's default sampler (TPE), what `optuna.create_study()` gives a user
NAMED_ONLY = ["optuna-tpe"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(BUDGETS))
    parser.add_argument("--optimizers", nargs="+", default=None, help="default: all that fit each problem")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bayesian")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument("--params", type=json.loads, default=None, help="moo_hpo optimizer arguments, as JSON")
    args = parser.parse_args()
    budgets = {**BUDGETS, **MORE_VARIABLES}
    unknown = [p for p in args.problems if p not in budgets]
    if unknown:
        parser.error(f"no budget for problem(s) {unknown}; this suite runs {sorted(budgets)}")
    known = sorted({*MULTI, *SINGLE, *NAMED_ONLY})
    if args.optimizers and [o for o in args.optimizers if o not in known]:
        parser.error(f"unknown optimizer(s) {[o for o in args.optimizers if o not in known]}; expected some of {known}")
    import torch

    torch.set_num_threads(args.threads)
    for name in args.problems:
        problem = get_problem(name)
        candidates = SINGLE if problem.n_objectives == 1 else MULTI
        for opt in args.optimizers or candidates:
            if opt in candidates or (args.optimizers and opt in NAMED_ONLY):
                params = args.params if opt in ("ehvi", "parego", "cei") else None
                run_many(problem, opt, budgets[name], args.seeds, args.out, params)
            else:
                print(f"skipping {opt} on {name}: it does not fit a problem of {problem.n_objectives} objective(s)")
    print(table(load_runs(args.out)))


if __name__ == "__main__":
    main()
