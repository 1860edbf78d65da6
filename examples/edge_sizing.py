"""Edge-deployment sizing: the most accurate small CNN that fits a device budget.

A CNN for scikit-learn's bundled 8x8 digits is searched over depth, width, kernel size and weight
precision (fp32, or int8 with weights quantized per tensor after training) under two hard device
limits: ``size_kb <= 20`` and ``latency_p99_ms <= 2`` (CPU, batch 1, one thread). Size and latency
need no training, so they are measured on the freshly built model, and a candidate that cannot fit
is never trained. The script prints the front and how many trainings that check saved, then sizes the
result for two devices (``mh.size_for_devices``) and writes ``sizing.csv``, ``report.html`` and the study
(``study.db``, for ``moo-hpo sizing``) to ``--out`` (default: a new temporary folder).

    python examples/edge_sizing.py [--trials 40] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import moo_hpo as mh
from moo_hpo.reports.sizing import write_csv

MAX_SIZE_KB = 20.0
MAX_P99_MS = 2.0
#: the devices to size for; the study skips, before training, what none of them can take (mh.device_constraints)
DEVICES = [mh.DeviceProfile("mcu", max_size_kb=MAX_SIZE_KB, max_latency_ms=MAX_P99_MS),
           mh.DeviceProfile("tiny-mcu", max_size_kb=4.0, max_latency_ms=0.5)]

digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # (n, 1, 8, 8)
X_train, X_val, y_train, y_val = train_test_split(X, digits.target, test_size=0.3, stratify=digits.target, random_state=0)

space = mh.Space(
    {
        "depth": mh.Int(1, 3),
        "width": mh.Int(4, 64, log=True),
        "kernel": mh.Categorical([3, 5]),
        "precision": mh.Categorical(["fp32", "int8"]),
        "lr": mh.Float(3e-3, 3e-2, log=True),
    }
)


def build(config: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    channels, size = 1, 8
    for i in range(config["depth"]):
        layers += [torch.nn.Conv2d(channels, config["width"], config["kernel"], padding="same"), torch.nn.ReLU()]
        channels = config["width"]
        if i < 2:  # 8 -> 4 -> 2
            layers.append(torch.nn.MaxPool2d(2))
            size //= 2
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(channels * size * size, 10))
    model.moo_hpo_precision = config["precision"]  # ModelSize counts size_kb at the deployed precision
    return model


def quantize_weights_int8(model: torch.nn.Module) -> None:
    """Symmetric per-tensor int8 weight quantization (weights rounded to 255 levels, in place)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                scale = m.weight.abs().max() / 127.0
                m.weight.copy_(torch.round(m.weight / scale).clamp(-127, 127) * scale)


def fit(model: torch.nn.Module, config: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    x, y = torch.as_tensor(X_train), torch.as_tensor(y_train)
    for _epoch in range(15):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    if config["precision"] == "int8":
        quantize_weights_int8(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for sizing.csv and report.html")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="moo_hpo_edge_"))
    study = mh.Study(
        space,
        objectives=[mh.Maximize("accuracy", ref=0.0), mh.Minimize("size_kb", ref=MAX_SIZE_KB), mh.Minimize("latency_p99_ms", ref=MAX_P99_MS)],
        constraints=mh.device_constraints(DEVICES),  # size_kb <= 20, latency_p99_ms <= 2: the loosest budgets
        optimizer="sobol",
        seed=args.seed,
        name="edge-sizing",
        storage=out / "study.db",
    )
    probes = [
        mh.objectives.ModelSize(precisions=["int8"]),
        mh.objectives.Latency(X_val[0], batch_size=1, threads=1, min_repeats=100, max_repeats=500),
        mh.objectives.Accuracy(X_val, y_val),
    ]
    t0 = time.perf_counter()
    study.optimize(fit, build=build, probes=probes, n_trials=args.trials)
    elapsed = time.perf_counter() - t0
    skipped = study.count("infeasible_skipped")
    print(f"\n{len(study.trials)} candidates in {elapsed:.0f} s: {study.count('complete')} trained, "
          f"{skipped} never trained because size or latency already broke the budget "
          f"(the pre-training check saved {skipped} trainings).")
    print(f"Feasible: {study.n_feasible}. Pareto front (accuracy, size_kb, latency_p99_ms):")
    for t in sorted(study.pareto_front(), key=lambda t: -t.metrics["accuracy"]):
        print(f"  #{t.number:3d} acc={t.metrics['accuracy']:.3f} size={t.metrics['size_kb']:6.2f} KB "
              f"p99={t.metrics['latency_p99_ms']:.3f} ms  {t.config}")
    if study.n_feasible:
        best = study.recommend("best", objective="accuracy")
        print(f"Most accurate model that fits: trial #{best.trial.number} ({best.reason})")
    sizing = mh.size_for_devices(study, DEVICES)  # per device: the most accurate trial that fits
    for r in sizing:
        print(f"{r.profile.name}: " + (f"trial #{r.best.number}, {r.reason}" if r.best else r.reason))
    write_csv(sizing, out / "sizing.csv")
    mh.report(study, devices=sizing).save(out / "report.html")  # with a "Device sizing" section
    print(f"sizing: {out / 'sizing.csv'}\nreport: {out / 'report.html'}")


if __name__ == "__main__":
    main()
