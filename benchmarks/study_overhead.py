"""Per-trial overhead of the study loop: ask + tell + SQLite commit, beside Optuna's own loop.

Both run a trivial two-objective function over a two-parameter space with their random sampler,
so the time measured is the library's own: proposing, recording and committing each trial.

Usage:
    python benchmarks/study_overhead.py [--trials 1000 10000] [--optuna-trials 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import moo_hpo as mh


def trivial(config: dict) -> dict:
    return {"f1": config["x"] ** 2, "f2": (config["x"] - config["y"]) ** 2}


def run_moo_hpo(n: int, storage: str | None) -> float:
    space = mh.Space({"x": mh.Float(-1.0, 1.0), "y": mh.Float(-1.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer="random", storage=storage, seed=0)
    t0 = time.perf_counter()
    study.optimize(trivial, n_trials=n, show_progress=False)
    elapsed = time.perf_counter() - t0
    assert study.count("complete") == n
    study.close()
    return elapsed


def run_optuna(n: int, storage: str) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        directions=["minimize", "minimize"], storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )

    def objective(trial):
        x = trial.suggest_float("x", -1.0, 1.0)
        y = trial.suggest_float("y", -1.0, 1.0)
        return x**2, (x - y) ** 2

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--optuna-trials", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    logging.getLogger("moo_hpo").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.trials:
            for label, storage in (("moo_hpo, SQLite", f"{tmp}/m{n}.db"), ("moo_hpo, in memory", None)):
                secs = run_moo_hpo(n, storage)
                rows.append({"library": label, "trials": n, "seconds": secs, "ms_per_trial": 1000 * secs / n})
                print(f"{label:22s} {n:>6d} trials  {1000 * secs / n:8.3f} ms/trial", flush=True)
        for n in args.optuna_trials:
            secs = run_optuna(n, f"sqlite:///{tmp}/o{n}.db")
            rows.append({"library": "Optuna, SQLite", "trials": n, "seconds": secs, "ms_per_trial": 1000 * secs / n})
            print(f"{'Optuna, SQLite':22s} {n:>6d} trials  {1000 * secs / n:8.3f} ms/trial", flush=True)
    print()
    print("| library | trials | ms per trial |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['library']} | {r['trials']:,} | {r['ms_per_trial']:.3f} |")
    print(f"\n{platform.processor() or platform.machine()}, Python {platform.python_version()}, moo_hpo {mh.__version__}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
