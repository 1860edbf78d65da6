"""Early stopping for real: Adult MLPs trained in two worker processes, random search with and without MOASHA.

    python -m benchmarks.pruning_real [--trials 24] [--seed 0] [--workers 2] [--equal-epochs]
                                      [--epoch-shares 0.333] [--json benchmarks/results/pruning_real.json]

Not a replay: each trial builds and trains the MLP of :mod:`benchmarks.learning_curves` (same space, same
data: ``moo_hpo.demo.AdultMLP`` with 8,000 training, 4,000 validation rows; AdamW, one torch thread per
worker) for up to 27 epochs, in ``study.optimize(..., n_workers=2)``. Two studies of the same seed, so
``random`` proposes the same configurations in both:

* **full training**: every trial trains 27 epochs and is evaluated once, at the end;
* **MOASHA**: ``pruner=mh.pruners.MOASHA(1, 27, 3)``; the objective evaluates after every epoch,
  ``trial.report(epoch, {"accuracy": ..., "eo_diff": ...})``, and stops when ``trial.should_prune()``;
* with ``--equal-epochs``, MOASHA again, starting trials until its finished ones have trained as many epochs
  as full training did (the same first configurations, then more; the running ones finish); with
  ``--epoch-shares``, the same until they have trained those shares of full training's epochs.

Reported for each: the study's wall time (worker start-up included), epochs trained, trials complete and
pruned, and the normalized hypervolume of the complete trials' validation accuracy (max) and ``eo_diff``
(min) against ``DEFAULT_REF``, divided by the best front of the learning-curve table (the same space and
data, 300 other configurations, so a real run can exceed 1); then the wall time saved.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh
from benchmarks.curves_table import DEFAULT_REF, DEFAULT_TABLE, CurveTable, best_possible_front

EPOCHS = 27


def train(config: dict[str, Any], trial: mh.Trial, reports: bool) -> dict[str, float]:
    """Train one MLP for up to 27 epochs; with ``reports``, evaluate and report after every epoch and stop
    when the pruner says so, otherwise evaluate once after the last epoch."""
    import torch

    from benchmarks.learning_curves import adult_task, build, eo_diff

    torch.set_num_threads(1)
    task = adult_task()
    torch.manual_seed(trial.seed if trial.seed is not None else trial.number)
    model = build(config, task.X_train.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(float(config["class_weight"])))
    x, y = torch.as_tensor(task.X_train), torch.as_tensor(task.y_train, dtype=torch.float32)
    X_valid, y_valid, sex = torch.as_tensor(task.X_valid), task.y_valid, np.asarray(task.sex_valid)

    def evaluate() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            pred = (torch.sigmoid(model(X_valid).squeeze(1)).numpy() >= 0.5).astype(int)
        model.train()
        return {"accuracy": float((pred == y_valid).mean()), "eo_diff": eo_diff(y_valid, pred, sex)}

    metrics: dict[str, float] = {}
    epoch = 0
    for epoch in range(1, EPOCHS + 1):
        model.train()
        for idx in torch.randperm(len(x)).split(int(config["batch_size"])):
            opt.zero_grad()
            loss_fn(model(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
        if reports:
            metrics = evaluate()
            trial.report(epoch, metrics)
            if trial.should_prune():
                break
    if not reports:
        metrics = evaluate()
    return {**metrics, "epochs": float(epoch)}


def _epochs(trial: mh.Trial) -> int:
    return int(trial.metrics.get("epochs", len(trial.reports)))


def _share_key(share: float) -> str:
    """The results' key of a MOASHA study given ``share`` of full training's epochs."""
    return "moasha_equal_epochs" if share == 1.0 else f"moasha_{share:g}_of_epochs"


def run(pruned: bool, n_trials: int | None, seed: int, workers: int, max_hv: float,
        epoch_budget: int | None = None) -> dict[str, Any]:
    """One study: ``n_trials`` trials, or with ``epoch_budget`` trials until the finished ones trained that many
    epochs (no trial starts after; the running ones finish, so ``hv_at_epoch_budget`` counts only the trials
    complete when the ``epoch_budget``-th epoch of all was reported)."""
    from benchmarks.learning_curves import space

    study = mh.Study(space(), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random", seed=seed,
                     pruner=mh.pruners.MOASHA(1, EPOCHS, 3) if pruned else None)

    def stop_when_spent(study: mh.Study, trial: mh.Trial) -> None:
        finished = [t for t in study.trials if t.status.value in ("complete", "pruned")]
        if epoch_budget is not None and sum(map(_epochs, finished)) >= epoch_budget:
            study.stop("epoch budget spent")

    load = os.getloadavg()[0]
    started = time.perf_counter()
    study.optimize(functools.partial(train, reports=pruned), n_trials=None if epoch_budget else n_trials,
                   n_workers=workers, show_progress=False, callbacks=[stop_when_spent])
    wall = time.perf_counter() - started
    from moo_hpo.fronts import hypervolume

    ref = [-DEFAULT_REF["accuracy"], DEFAULT_REF["eo_diff"]]

    def normalized_hv(trials: list[mh.Trial]) -> float:
        Y = np.array([[-t.metrics["accuracy"], t.metrics["eo_diff"]] for t in trials]).reshape(-1, 2)
        return float(hypervolume(Y, ref, warn=False) / max_hv) if len(Y) else 0.0

    complete = [t for t in study.trials if t.status is mh.TrialStatus.COMPLETE]
    hv = normalized_hv(complete)
    hv_at_budget = None
    if epoch_budget is not None:  # the trials complete when the epoch_budget-th epoch of all was reported
        times = sorted(r["at"] for t in study.trials for r in t.reports)
        deadline = times[min(epoch_budget, len(times)) - 1]
        hv_at_budget = normalized_hv([t for t in complete if t.reports and t.reports[-1]["at"] <= deadline])
    epochs = sum(_epochs(t) for t in study.trials if t.status.value in ("complete", "pruned"))
    out = {
        "pruner": "MOASHA(1, 27, 3)" if pruned else None, "trials": len(study.trials), "complete": len(complete),
        "pruned": study.count("pruned"), "failed": study.count("failed"), "epochs": epochs, "wall_seconds": round(wall, 1),
        "hv": round(hv, 4), "hv_at_epoch_budget": None if hv_at_budget is None else round(hv_at_budget, 4),
        "epoch_budget": epoch_budget, "load_average_before": round(load, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "configs": [t.config for t in study.trials],
        "final": [{"number": t.number, "status": t.status.value, "epochs": t.metrics.get("epochs"),
                   "accuracy": t.metrics.get("accuracy"), "eo_diff": t.metrics.get("eo_diff")} for t in study.trials],
    }
    study.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "pruning_real.json")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="the table whose best front normalizes the HV")
    parser.add_argument("--equal-epochs", action="store_true",
                        help="also run MOASHA until it has trained as many epochs as full training")
    parser.add_argument("--epoch-shares", type=float, nargs="+", default=[],
                        help="also run MOASHA until it has trained these shares of full training's epochs")
    args = parser.parse_args(argv)
    for option, value in (("--trials", args.trials), ("--workers", args.workers)):
        if value < 1:
            parser.error(f"{option} must be at least 1; received {value}")
    max_hv = best_possible_front(CurveTable(args.table), DEFAULT_REF)[1]
    results = {}
    shares = list(dict.fromkeys(([1.0] if args.equal_epochs else []) + args.epoch_shares))
    runs = [("full", False, None), ("moasha", True, None)] + [(_share_key(x), True, x) for x in shares]
    for key, pruned, share in runs:
        budget = math.ceil(share * results["full"]["epochs"]) if share else None
        r = run(pruned, args.trials, args.seed, args.workers, max_hv, epoch_budget=budget)
        results[key] = r
        at_budget = "" if budget is None else f" ({r['hv_at_epoch_budget']:.4f} at epoch {budget})"
        print(f"{key}: {r['wall_seconds']} s wall, {r['epochs']} epochs, {r['trials']} trials, "
              f"{r['complete']} complete / {r['pruned']} pruned, HV {r['hv']:.4f}{at_budget} (load {r['load_average_before']} -> "
              f"{r['load_average_after']})", file=sys.stderr, flush=True)
    full, moasha = results["full"], results["moasha"]
    same = full["configs"] == moasha["configs"]
    summary = {
        "trials": args.trials, "seed": args.seed, "workers": args.workers, "same_configurations": same,
        "wall_saved_seconds": round(full["wall_seconds"] - moasha["wall_seconds"], 1),
        "wall_saved_share": round(1 - moasha["wall_seconds"] / full["wall_seconds"], 3),
        "epochs_saved_share": round(1 - moasha["epochs"] / full["epochs"], 3),
        "cpu_count": os.cpu_count(), "versions": {"moo_hpo": getattr(mh, "__version__", "unknown"), "python": sys.version.split()[0]},
        "command": "python -m benchmarks.pruning_real " + " ".join(sys.argv[1:] if argv is None else argv),
        **results,
    }
    print("| random search, 24 trials | wall (s) | epochs | complete / pruned | HV / table's best |".replace("24", str(args.trials)))
    print("|---|---:|---:|---|---:|")
    labels = {"full": "full training", "moasha": "MOASHA (1, 27, 3)"}
    labels.update({_share_key(x): f"MOASHA (1, 27, 3), {'all' if x == 1.0 else f'{x:g}'} of full training's epochs"
                   for x in shares})
    for key, r in results.items():
        print(f"| {labels[key]} | {r['wall_seconds']} | {r['epochs']} | {r['complete']} / {r['pruned']} | {r['hv']:.3f} |")
    print(f"\nwall time saved: {summary['wall_saved_seconds']} s ({summary['wall_saved_share']:.0%}); epochs saved "
          f"{summary['epochs_saved_share']:.0%}; same configurations in both: {same}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
