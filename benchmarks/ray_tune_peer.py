"""Ray Tune beside moo_hpo + Dask on the throughput benchmark of ``benchmarks/distributed.py``.

Ray is not a moo_hpo dependency; run this in an environment of its own:

    python -m venv /tmp/rayvenv && /tmp/rayvenv/bin/pip install "ray[tune]"
    /tmp/rayvenv/bin/python benchmarks/ray_tune_peer.py

An objective that sleeps 1 s, 64 trials of random search (Ray Tune's default search), two objectives
reported, on a local Ray cluster with 1, 2, 4 and 8 concurrent trials: trials per second and the time per
trial beyond the sleep.
"""

from __future__ import annotations

import time

SLEEP, N_TRIALS = 1.0, 64


def objective(config):
    time.sleep(SLEEP)
    return {"a": config["x"], "b": 1 - config["x"]}


def main() -> None:
    import ray
    from ray import tune

    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    print("| library | concurrent trials | trials | wall (s) | trials / s | x concurrency | time per trial beyond the sleep (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in (1, 2, 4, 8):
        tuner = tune.Tuner(
            tune.with_resources(objective, {"cpu": 1}),
            param_space={"x": tune.uniform(0, 1)},
            tune_config=tune.TuneConfig(num_samples=N_TRIALS, max_concurrent_trials=k),
            run_config=tune.RunConfig(verbose=0),
        )
        t0 = time.perf_counter()
        tuner.fit()
        wall = time.perf_counter() - t0
        rate = N_TRIALS / wall
        print(f"| Ray {ray.__version__} Tune | {k} | {N_TRIALS} | {wall:.1f} | {rate:.2f} | {rate / k:.2f} | "
              f"{1000 * (wall * k / N_TRIALS - SLEEP):.1f} |", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
