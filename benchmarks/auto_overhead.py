"""The optimizer's share of a study's wall time when trials are short: ``auto`` beside Optuna's default.

    python -m benchmarks.auto_overhead [--trial-seconds 0.5 2] [--seeds 0 1 2 3 4] [--trials 40]
                                       [--runners auto optuna-default ehvi] [--json out.jsonl]

A 4-objective study (DTLZ2, 6 variables, BoTorch's reference point) of ``--trials`` trials run with
``Study.optimize`` / Optuna's ``study.optimize`` in one process, one trial at a time. Each trial sleeps
``--trial-seconds`` (the stand-in for training) and then evaluates DTLZ2. Reported per runner:

* ``share``: the time outside the objective (proposing, bookkeeping, storage) as a share of the wall
  time, ``(wall - time in the objective) / wall``; for moo_hpo also the optimizer's own time
  (``Study.optimizer_seconds``, its ask and tell);
* ``HV``: the hypervolume of the feasible points the study measured, over the problem's maximum.

Runners: ``auto`` (moo_hpo's default, nothing set), ``optuna-default`` (``optuna.create_study`` with
no sampler: what Optuna picks for several objectives), and ``ehvi`` (moo_hpo's EHVI named explicitly:
every proposal a full model step, the reference for what the time share costs in hypervolume).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from benchmarks.problems import get_problem
from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers import make_optimizer

PROBLEM = "dtlz2-4d-6"


def _objective(problem, trial_seconds: float, spent: list[float]):
    def evaluate(config: dict) -> dict[str, float]:
        started = time.perf_counter()
        time.sleep(trial_seconds)
        F, G = problem.evaluate(problem.config_to_x(config))
        out = problem.metrics(F[0], G[0])
        spent.append(time.perf_counter() - started)
        return out

    return evaluate


def _hv(problem, F: np.ndarray) -> float:
    from moo_hpo.fronts import hypervolume

    return float(hypervolume(F, problem.ref_point) / problem.max_hv) if len(F) else 0.0


def run_moo_hpo(optimizer: str, trial_seconds: float, n_trials: int, seed: int) -> dict:
    import moo_hpo as mh

    problem = get_problem(PROBLEM)
    study = mh.Study(problem.space(), problem.objectives(), optimizer=optimizer, seed=seed)
    spent: list[float] = []
    started = time.perf_counter()
    study.optimize(_objective(problem, trial_seconds, spent), n_trials=n_trials, show_progress=False)
    wall = time.perf_counter() - started
    F = np.array([[t.metrics[f"f{j}"] for j in range(problem.n_objectives)] for t in study.trials if t.status.value == "complete"])
    return {"wall": wall, "objective": sum(spent), "optimizer": study.optimizer_seconds, "hv": _hv(problem, F),
            "chosen": study.optimizer_info.get("name"),
            "full_steps": sum(1 for t in study.trials if t.extra.get("optimizer", {}).get("effort") == "full")}


def run_optuna_default(trial_seconds: float, n_trials: int, seed: int) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem = get_problem(PROBLEM)
    evaluate = _objective(problem, trial_seconds, spent := [])
    names = [f"f{j}" for j in range(problem.n_objectives)]
    lo, hi = problem.bounds

    def objective(trial):
        config = {f"x{i}": trial.suggest_float(f"x{i}", float(lo[i]), float(hi[i])) for i in range(problem.dim)}
        m = evaluate(config)
        return [m[n] for n in names]

    # Optuna's default sampler (what create_study picks without one: TPESampler() in Optuna 5), seeded
    default = type(optuna.create_study(directions=["minimize"] * len(names)).sampler)
    study = optuna.create_study(directions=["minimize"] * len(names), sampler=default(seed=seed))
    started = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    wall = time.perf_counter() - started
    F = np.array([t.values for t in study.trials if t.values is not None])
    return {"wall": wall, "objective": sum(spent), "optimizer": None, "hv": _hv(problem, F),
            "chosen": type(study.sampler).__name__, "full_steps": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial-seconds", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--runners", nargs="+", default=["auto", "optuna-default", "ehvi"])
    parser.add_argument("--json", default=None, help="append one JSON line per run to this file")
    args = parser.parse_args()
    if args.trials < 1:
        parser.error(f"--trials must be at least 1; received {args.trials}")
    for runner in args.runners:
        if runner not in ("optuna-default", "auto"):
            try:
                make_optimizer(runner)
            except ConfigError as exc:
                parser.error(f"--runners: {exc} (or optuna-default)")
    import torch

    torch.set_num_threads(1)
    rows = []
    for trial_seconds in args.trial_seconds:
        for runner in args.runners:
            for seed in args.seeds:
                if runner == "optuna-default":
                    r = run_optuna_default(trial_seconds, args.trials, seed)
                else:
                    r = run_moo_hpo(runner, trial_seconds, args.trials, seed)
                r.update(runner=runner, trial_seconds=trial_seconds, seed=seed, share=(r["wall"] - r["objective"]) / r["wall"])
                print(json.dumps(r), flush=True)
                rows.append(r)
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps(r) + "\n")
    print()
    print("| trial s | runner | chose | seeds | wall s | share outside the objective | optimizer's own share | HV / max |")
    print("|---:|---|---|---:|---:|---|---|---|")

    def cell(values: list[float], fmt: str) -> str:
        return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}, {max(values):{fmt}}]"

    for trial_seconds in args.trial_seconds:
        for runner in args.runners:
            rs = [r for r in rows if r["runner"] == runner and r["trial_seconds"] == trial_seconds]
            own = cell([r["optimizer"] / r["wall"] for r in rs], ".1%") if rs[0]["optimizer"] is not None else "-"
            print(f"| {trial_seconds:g} | {runner} | {rs[0]['chosen']} | {len(rs)} | {cell([r['wall'] for r in rs], '.1f')} | "
                  f"{cell([r['share'] for r in rs], '.1%')} | {own} | {cell([r['hv'] for r in rs], '.3f')} |")


if __name__ == "__main__":
    main()
