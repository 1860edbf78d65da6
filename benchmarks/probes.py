"""Latency probe repeatability: CPU p50/p99 at batch 1 and 64 for a small MLP and a small CNN.

Each configuration is measured 5 times with a fresh probe call; the table gives the median of the
5 p50 and p99 values, their coefficient of variation (std / mean) across the 5 measurements and the
largest relative difference between the p50s of two consecutive measurements (the probe's
repeatability target: two measurements of one model agree within 10% at p50). On
a machine with an NVIDIA GPU, the same runs on CUDA, plus NVML energy per inference.

    python -m benchmarks.probes [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch

import moo_hpo as mh
from moo_hpo.objectives.energy import available_energy_source


def small_mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def small_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 8 * 8, 10),
    )


MODELS = {"MLP 64-256-256-10": (small_mlp, np.zeros(64, np.float32)), "CNN 2 conv, 32x32x3": (small_cnn, np.zeros((3, 32, 32), np.float32))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="measurements per row, at least 2 (their spread is the point)")
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error(f"--repeats must be at least 2 (the table compares consecutive measurements); received {args.repeats}")
    torch.manual_seed(0)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("| model | device | batch | p50 ms (median) | p50 CV | max consecutive p50 diff | p99 ms (median) | p99 CV | energy J/inference |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (make, example) in MODELS.items():
        model = make().eval()
        for device in devices:
            for batch in (1, 64):
                probe = mh.objectives.Latency(example, batch_size=batch, device=device, threads=1, min_repeats=200)
                runs = [probe.measure(model) for _ in range(args.repeats)]
                p50 = np.array([r["latency_p50_ms"] for r in runs])
                p99 = np.array([r["latency_p99_ms"] for r in runs])
                consecutive = np.abs(np.diff(p50)) / p50[:-1]
                energy = "n/a"
                if device == "cuda" and available_energy_source("cuda") == "nvml":
                    e = mh.objectives.Energy(example, batch_size=batch, device="cuda", min_window_s=2.0).measure(model)
                    energy = f"{e['energy_per_inference_j']:.3g}"
                print(f"| {name} | {runs[0].extra['latency']['device_name'][:40]} | {batch} | {np.median(p50):.4f} | "
                      f"{p50.std() / p50.mean():.3f} | {consecutive.max():.1%} | {np.median(p99):.4f} | {p99.std() / p99.mean():.3f} | {energy} |")
    print(f"\n{args.repeats} measurements each, 1 thread; torch {torch.__version__}, {platform.machine()}; "
          f"energy counter here: {available_energy_source('cuda')} (cuda), {available_energy_source('cpu')} (cpu)")


if __name__ == "__main__":
    main()
