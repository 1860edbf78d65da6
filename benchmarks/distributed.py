"""Studies on a Dask cluster: throughput, overhead per trial, and wall-clock to quality.

    python -m benchmarks.distributed                   # all four parts (about 8 minutes)
    python -m benchmarks.distributed --parts throughput

* **latency**: the study's own overhead per trial through Dask: trials one after another on one worker with
  a no-op objective, beside a bare Dask task round trip on the same cluster.
* **throughput**: an objective that sleeps 1 s, 64 trials, random search, on a ``LocalCluster`` of 1, 2,
  4 and 8 single-threaded worker processes. Trials per second (target: at least 0.85 x workers), the
  set-up before the first trial (checking the workers, sending the objective), and the study's own
  overhead per trial once trials run (time from the first proposal to the last result x workers /
  trials - 1 s: proposing, sending, scheduling, telling and committing).
* **quality**: ``ehvi`` (defaults) on BraninCurrin with an objective that takes 2 s, 60 trials, 1 vs 4
  workers: hypervolume against wall time and against trials.
* **peers**: Optuna with several processes on one journal-file storage, same sleeping objective and
  trial count: trials per second and overhead per trial.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np

SLEEP = 1.0
N_TRIALS = 64


def _sleeper(config):
    time.sleep(SLEEP)
    return {"a": config["x"], "b": 1 - config["x"]}


def throughput(workers: list[int]) -> None:
    import distributed

    import moo_hpo as mh

    print("| workers | trials | wall (s) | trials / s | x workers | set-up (s) | overhead per trial (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for k in workers:
        cluster = distributed.LocalCluster(n_workers=k, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
            t0 = time.perf_counter()
            study.optimize(_sleeper, n_trials=N_TRIALS, executor=client, show_progress=False)
            wall = time.perf_counter() - t0
        finally:
            client.close()
            cluster.close()
        rate = N_TRIALS / wall
        first = min(t.started_at for t in study.trials)
        running = max(t.finished_at for t in study.trials) - first  # from the first proposal to the last result
        setup = wall - running  # connecting, checking the workers, sending the objective
        overhead = 1000 * (running * k / N_TRIALS - SLEEP)
        print(f"| {k} | {N_TRIALS} | {wall:.1f} | {rate:.2f} | {rate / k:.2f} | {setup:.2f} | {overhead:.1f} |", flush=True)


def _noop(config):
    return {"a": config["x"], "b": 1 - config["x"]}


def _identity(x):
    return x


def latency(n: int = 300) -> None:
    """The study's own overhead through Dask: its trials one after another on one worker (no-op objective,
    SQLite store) beside a bare Dask task round trip, on the same cluster."""
    import distributed

    import moo_hpo as mh

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    folder = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        for i in range(n):
            client.submit(_identity, i, pure=False).result()
        bare = (time.perf_counter() - t0) / n
        study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random",
                         seed=0, storage=folder / "s.db")
        study.optimize(_noop, n_trials=n, executor=client, show_progress=False)
        first = min(t.started_at for t in study.trials)
        per_trial = (max(t.finished_at for t in study.trials) - first) / n
        study.close()
    finally:
        client.close()
        cluster.close()
    print("| sequential, one worker | ms per task or trial |")
    print("|---|---:|")
    print(f"| bare Dask task round trip (submit, run, result) | {1000 * bare:.2f} |")
    print(f"| moo_hpo trial through Dask (ask, submit, run, tell, SQLite commit) | {1000 * per_trial:.2f} |")
    print(f"| the study's own overhead (difference) | {1000 * (per_trial - bare):.2f} |", flush=True)


def _branin_currin(seconds: float):
    from benchmarks.problems import get_problem

    problem = get_problem("branincurrin")

    def objective(config):
        time.sleep(seconds)
        F, _ = problem.evaluate(np.array([[config["x0"], config["x1"]]]))
        return {"f0": float(F[0, 0]), "f1": float(F[0, 1])}

    return problem, objective


def quality(n_trials: int, seconds: float, seed: int) -> None:
    import distributed

    from moo_hpo.fronts import hypervolume_history

    print("| workers | trials | wall (s) | final HV | HV after 25% / 50% / 75% of the trials | wall to reach the 1-worker final HV (s) |")
    print("|---:|---:|---:|---:|---|---:|")
    rows = {}
    for k in (1, 4):
        problem, objective = _branin_currin(seconds)
        cluster = distributed.LocalCluster(n_workers=k, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            study = problem.study("ehvi", seed=seed)
            t0 = time.time()
            study.optimize(objective, n_trials=n_trials, executor=client, show_progress=False)
        finally:
            client.close()
            cluster.close()
        order = sorted(study.trials, key=lambda t: t.finished_at)
        Y = study.problem.objective_matrix(order)
        ok = np.isfinite(Y).all(axis=1)
        hv = hypervolume_history(np.where(ok[:, None], Y, 0.0), problem.ref_point, ok)
        times = np.array([t.finished_at - t0 for t in order])
        rows[k] = (hv, times)
    target = rows[1][0][-1]
    for k, (hv, times) in rows.items():
        reach = times[np.argmax(hv >= target)] if np.any(hv >= target) else float("nan")
        quarters = " / ".join(f"{hv[int(q * len(hv)) - 1]:.2f}" for q in (0.25, 0.5, 0.75))
        print(f"| {k} | {len(hv)} | {times[-1]:.1f} | {hv[-1]:.3f} | {quarters} | {reach:.1f} |", flush=True)


def _optuna_worker(storage_path: str, n_trials: int) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(storage_path))
    study = optuna.load_study(study_name="bench", storage=storage)

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        time.sleep(SLEEP)
        return x, 1 - x

    study.optimize(objective, n_trials=n_trials)


def peers(workers: list[int]) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    print("| library | processes | trials | wall (s) | trials / s | x processes | overhead per trial (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in workers:
        path = str(Path(tempfile.mkdtemp()) / "journal.log")
        storage = JournalStorage(JournalFileBackend(path))
        optuna.create_study(study_name="bench", storage=storage, directions=["minimize", "minimize"],
                            sampler=optuna.samplers.RandomSampler(seed=0))
        t0 = time.perf_counter()
        procs = [mp.get_context("spawn").Process(target=_optuna_worker, args=(path, N_TRIALS // k)) for _ in range(k)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        wall = time.perf_counter() - t0
        rate = N_TRIALS / wall
        print(f"| Optuna {optuna.__version__}, journal file | {k} | {N_TRIALS} | {wall:.1f} | {rate:.2f} | {rate / k:.2f} | "
              f"{1000 * (wall * k / N_TRIALS - SLEEP):.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = ["latency", "throughput", "quality", "peers"]
    parser.add_argument("--parts", nargs="+", default=parts, choices=parts)
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--quality-trials", type=int, default=60)
    parser.add_argument("--quality-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if "latency" in args.parts:
        latency()
    if "throughput" in args.parts:
        throughput(args.workers)
    if "quality" in args.parts:
        quality(args.quality_trials, args.quality_seconds, args.seed)
    if "peers" in args.parts:
        peers(args.workers)


if __name__ == "__main__":
    main()
