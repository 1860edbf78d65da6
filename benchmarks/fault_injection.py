"""Kill a running study with SIGKILL at random moments and check that nothing told is lost.

Each round starts (or resumes) one study in a child process, lets it run for a random 0.3-2.5 s and
SIGKILLs it. A callback in the child appends every trial number to a side log after ``tell`` has
returned (so after the trial was committed); after each kill the script opens the store and checks
that every logged trial is there, finished, that trial numbers are dense, and how long the resume takes.

    python -m benchmarks.fault_injection --rounds 30                  # in-process, local workers, Dask
    python -m benchmarks.fault_injection --rounds 10 --modes workers

Prints one row per mode: rounds, trials told, trials found, trials lost (must be 0), interrupted
trials, and the median / worst time to reopen the study.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import os, random, sys, time
    import moo_hpo as mh

    db, log, n_workers, address = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    def objective(config):
        time.sleep(random.random() * 0.02)
        return {"a": config["x"], "b": (1 - config["x"]) ** 2 + config["y"]}

    def remember(study, trial):
        with open(log, "a") as f:  # after tell returned: the trial is committed
            f.write(f"{trial.number}\\n")
            f.flush()
            os.fsync(f.fileno())

    space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", storage=db, seed=0)
    where = {"executor": address} if address != "-" else {"n_workers": n_workers}
    study.optimize(objective, n_trials=100_000, callbacks=[remember], show_progress=False, **where)
    """
)


def run_mode(mode: str, rounds: int, seed: int) -> dict[str, object]:
    """Kill a study of ``mode`` ("inprocess", "workers" or "dask") ``rounds`` times; return the tallies."""
    import moo_hpo as mh

    rng = random.Random(seed)
    workers = 1 if mode == "inprocess" else 2
    cluster = None
    address = "-"
    if mode == "dask":  # the cluster outlives the study's process, as a real one does
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        address = cluster.scheduler_address
    folder = Path(tempfile.mkdtemp(prefix=f"moo_hpo_faults_{mode}_"))
    db, log, script = folder / "study.db", folder / "told.log", folder / "child.py"
    script.write_text(CHILD)
    reopen: list[float] = []
    for _ in range(rounds):
        child = subprocess.Popen([sys.executable, str(script), str(db), str(log), str(workers), address])
        time.sleep(rng.uniform(0.3, 2.5))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if not db.exists():
            continue
        t0 = time.perf_counter()
        study = mh.Study.load(db)  # writable: resumes like the next round will
        reopen.append(time.perf_counter() - t0)
        numbers = [t.number for t in study.trials]
        assert numbers == list(range(len(numbers))), "trial numbers are not dense"
        study.close()
    if cluster is not None:
        cluster.close()
    study = mh.Study.load(db, read_only=True)
    stored = {t.number: t for t in study.trials}
    told = [int(line) for line in log.read_text().split()] if log.exists() else []
    lost = [n for n in told if n not in stored or stored[n].status is not mh.TrialStatus.COMPLETE]
    return {
        "mode": mode,
        "rounds": rounds,
        "told": len(told),
        "found": sum(1 for t in stored.values() if t.status is mh.TrialStatus.COMPLETE),
        "lost": len(lost),
        "interrupted": study.count("interrupted"),
        "reopen_median_ms": 1000 * statistics.median(reopen) if reopen else float("nan"),
        "reopen_max_ms": 1000 * max(reopen) if reopen else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="kills per mode")
    parser.add_argument("--modes", nargs="+", default=["inprocess", "workers", "dask"], choices=["inprocess", "workers", "dask"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| execution | kills | trials told | complete in the store | lost | interrupted | reopen median (ms) | reopen max (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode in args.modes:
        r = run_mode(mode, args.rounds, args.seed)
        print(
            f"| {r['mode']} | {r['rounds']} | {r['told']} | {r['found']} | {r['lost']} | {r['interrupted']} | "
            f"{r['reopen_median_ms']:.1f} | {r['reopen_max_ms']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
