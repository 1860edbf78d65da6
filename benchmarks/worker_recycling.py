"""What ``max_trials_per_worker`` gives back and what it costs, on local worker processes.

Two objectives, two workers:

* **leak**: each trial keeps 40 MB in a module-level list (what a library's cache or a user's global does); the
  trial reports its process's resident memory. Figure: the largest resident memory a trial saw.
* **torch**: each trial imports torch and fits a small MLP for a few hundred steps (about 0.3 s of work). Figure:
  the study's wall time, which pays a fresh worker's start (Python, moo_hpo, torch) per recycled worker.

Run: ``python -m benchmarks.worker_recycling [--trials 12]``; it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

import moo_hpo as mh

_KEPT: list[bytearray] = []


def leaking(config: dict) -> dict:
    import psutil

    _KEPT.append(bytearray(40 * 2**20))
    return {"a": config["x"], "rss_mb": psutil.Process().memory_info().rss / 2**20}


def torch_fit(config: dict) -> dict:
    import torch

    torch.manual_seed(0)
    x = torch.randn(512, 20)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=config["x"] * 0.01 + 1e-3)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return {"a": loss.item()}


def run(fn, n_trials: int, per_worker: int | None) -> tuple[float, mh.Study]:
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    started = time.perf_counter()
    study.optimize(fn, n_trials=n_trials, n_workers=2, max_trials_per_worker=per_worker, show_progress=False)
    return time.perf_counter() - started, study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    print("| max_trials_per_worker | leak: largest resident memory (MB) | torch: study wall time (s) |")
    print("|---|---:|---:|")
    for per_worker in (None, 4, 1):
        _, leak = run(leaking, args.trials, per_worker)
        seconds, _ = run(torch_fit, args.trials, per_worker)
        rss = max(t.metrics["rss_mb"] for t in leak.trials)
        print(f"| {per_worker} | {rss:.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
