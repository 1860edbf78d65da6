"""A second table of real learning curves: gradient-boosted trees on the bundled Adult data, by boosting stage.

    python -m benchmarks.hgb_curves --configs 300 --steps 27 --iterations-per-step 10 --seed 0 \\
        --processes 2 --out benchmarks/data/adult_hgb_curves.csv.gz

The early-stopping benchmark (:mod:`benchmarks.pruning_suite`) replays :mod:`benchmarks.learning_curves`' MLP
table by default; this one gives it a problem of another kind to replay with ``--table``. Each of ``--configs``
configurations of :class:`sklearn.ensemble.HistGradientBoostingClassifier` (:func:`space`, scrambled Sobol seeded
by ``--seed``; the first ``n`` points do not depend on ``--configs``) is trained with ``warm_start=True``, as a
user reporting intermediate results would train it: ``--steps`` calls of ``fit``, each adding
``--iterations-per-step`` boosting iterations; after each step, one row:

* the configuration: ``learning_rate``, ``max_leaf_nodes``, ``min_samples_leaf``, ``l2_regularization``,
  ``max_features``, ``class_weight_pos`` (the sample weight of the positive class; negatives weigh 1);
* ``epoch`` (the step, 1-based: the column name the replay reads), ``size_kb`` (``len(pickle.dumps(model)) /
  1024`` after the step);
* validation ``accuracy`` and ``eo_diff`` (equalized-odds difference by sex on ``model.predict`` labels, as
  :func:`benchmarks.learning_curves.eo_diff`, checked against fairlearn at the last step), the same on the
  held-out test split (``holdout_accuracy``, ``holdout_eo_diff``);
* ``train_seconds`` (that step's ``fit`` call) and ``eval_seconds`` (predicting both splits after it).

The data are :class:`moo_hpo.demo.AdultMLP`'s splits (8,000 training, 4,000 validation, 4,000 held-out rows).
Every process trains on one thread. Rows go to ``<out>.partial.csv`` configuration by configuration (a rerun
with the same settings skips those already there); the gzipped table and a JSON sidecar (command, settings,
versions, machine, generation time) are written at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh

PARAMS = ["learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization", "max_features", "class_weight_pos"]
INT_PARAMS = ("max_leaf_nodes", "min_samples_leaf")
METRICS = ["accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "train_seconds", "eval_seconds"]
COLUMNS = ["config_id", "epoch", *PARAMS, "size_kb", *METRICS]
DEFAULT_OUT = Path(__file__).parent / "data" / "adult_hgb_curves.csv.gz"


def space() -> mh.Space:
    """The HistGradientBoostingClassifier search space of the table: :func:`benchmarks.sklearn_table.space`
    without ``max_iter``, which is the fidelity here.

    Returns:
        The space over the six raw parameters.
    """
    from benchmarks.sklearn_table import space as hgb_space

    return mh.Space({name: p for name, p in hgb_space().params.items() if name != "max_iter"})


def draw_configs(n: int, seed: int) -> list[dict[str, Any]]:
    """The first ``n`` points of the scrambled Sobol sequence seeded with ``seed``, as configurations.

    Args:
        n: how many configurations.
        seed: the Sobol scrambling seed.

    Returns:
        ``n`` configuration dicts of :func:`space`.
    """
    from benchmarks.learning_curves import draw_configs as draw

    return draw(n, seed, space())


def train_config(job: tuple[int, dict[str, Any], int, int, int]) -> list[dict[str, Any]]:
    """Train one configuration step by step; one row per step.

    Args:
        job: ``(config_id, config, steps, iterations_per_step, seed)``.

    Returns:
        The configuration's rows, steps ``1..steps``.

    Raises:
        AssertionError: when the numpy ``eo_diff`` differs from fairlearn's at the last step.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from benchmarks.learning_curves import adult_task, eo_diff

    config_id, config, steps, per_step, seed = job
    task = adult_task()
    model = HistGradientBoostingClassifier(
        learning_rate=float(config["learning_rate"]), max_iter=per_step, max_leaf_nodes=int(config["max_leaf_nodes"]),
        min_samples_leaf=int(config["min_samples_leaf"]), l2_regularization=float(config["l2_regularization"]),
        max_features=float(config["max_features"]), early_stopping=False, warm_start=True,
        random_state=seed * 1_000_003 + config_id)
    weight = np.where(task.y_train == 1, float(config["class_weight_pos"]), 1.0)
    splits = {"": (task.X_valid, task.y_valid, np.asarray(task.sex_valid)),
              "holdout_": (task.X_test, task.y_test, np.asarray(task.sex_test))}
    rows, preds = [], {}
    with threadpool_limits(limits=1):
        for step in range(1, steps + 1):
            model.max_iter = step * per_step
            started = time.perf_counter()
            model.fit(task.X_train, task.y_train, sample_weight=weight)
            trained = time.perf_counter()
            row: dict[str, Any] = {"config_id": config_id, "epoch": step, **config}
            for prefix, (X, y, sex) in splits.items():
                pred = np.asarray(model.predict(X)).astype(int)
                row[f"{prefix}accuracy"] = float((pred == y).mean())
                row[f"{prefix}eo_diff"] = eo_diff(y, pred, sex)
                preds[prefix] = (y, pred, sex)
            row["train_seconds"] = trained - started
            row["eval_seconds"] = time.perf_counter() - trained
            row["size_kb"] = len(pickle.dumps(model)) / 1024
            rows.append(row)
    from fairlearn.metrics import equalized_odds_difference

    for prefix, (y, pred, sex) in preds.items():
        ref = float(equalized_odds_difference(y, pred, sensitive_features=sex))
        if abs(ref - rows[-1][f"{prefix}eo_diff"]) > 1e-9:
            raise AssertionError(f"config {config_id}: eo_diff {rows[-1][f'{prefix}eo_diff']} != fairlearn's {ref}")
    return rows


def main(argv: list[str] | None = None) -> None:
    """Generate the table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--configs", type=int, default=300)
    parser.add_argument("--steps", type=int, default=27)
    parser.add_argument("--iterations-per-step", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1, help="worker processes, one thread each")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--progress-every", type=int, default=10)
    args = parser.parse_args(argv)
    if args.configs < 1 or args.steps < 1 or args.iterations_per_step < 1 or args.processes < 1:
        raise SystemExit("--configs, --steps, --iterations-per-step and --processes must be at least 1")

    import multiprocessing

    import scipy
    import sklearn

    from benchmarks.learning_curves import _cpu_model, format_row, read_partial, write_rows

    started = time.perf_counter()
    settings = {"seed": args.seed, "steps": args.steps, "iterations_per_step": args.iterations_per_step,
                "space": space().to_dict()}
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial, partial_meta = Path(f"{out}.partial.csv"), Path(f"{out}.partial.json")
    meta: dict[str, Any] = {"settings": settings, "seconds": 0.0}
    if partial_meta.exists():
        meta = json.loads(partial_meta.read_text())
        if meta["settings"] != settings:
            raise SystemExit(f"{partial} was made with other settings ({partial_meta}); remove both to start over")
    done = read_partial(partial, args.steps, COLUMNS)
    write_rows(partial, COLUMNS, done)  # rewrite: complete configurations only
    partial_meta.write_text(json.dumps(meta, indent=1))
    before = float(meta["seconds"])

    configs = draw_configs(args.configs, args.seed)
    jobs = [(i, configs[i], args.steps, args.iterations_per_step, args.seed) for i in range(args.configs) if i not in done]
    print(f"{len(done)} of {args.configs} configurations already in {partial}; training {len(jobs)} "
          f"({args.steps} steps of {args.iterations_per_step} iterations, {args.processes} processes, one thread each)",
          file=sys.stderr, flush=True)
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        for k, rows in enumerate(pool.imap_unordered(train_config, jobs), 1):
            with partial.open("a", newline="") as f:
                csv.writer(f).writerows(format_row(r, COLUMNS) for r in rows)
            meta["seconds"] = round(before + time.perf_counter() - started, 1)
            partial_meta.write_text(json.dumps(meta, indent=1))
            if k % args.progress_every == 0 or k == len(jobs):
                el = time.perf_counter() - started
                last = rows[-1]
                print(f"[{k}/{len(jobs)}] config {last['config_id']}: acc {last['accuracy']:.4f} eo {last['eo_diff']:.3f}; "
                      f"{el / 60:.1f} min so far, ~{el / k * (len(jobs) - k) / 60:.1f} min left", file=sys.stderr, flush=True)

    done = read_partial(partial, args.steps, COLUMNS)
    keep = sorted(c for c in done if c < args.configs)
    if len(keep) < args.configs:
        raise SystemExit(f"only {len(keep)} of {args.configs} configurations are complete in {partial}")
    write_rows(out, COLUMNS, done, keep, gzipped=True)
    info = {
        "description": "Learning curves of HistGradientBoostingClassifier on the Adult census data (moo_hpo.demo."
                       "AdultMLP splits), by boosting stage: one row per (config_id, epoch = step of "
                       f"{args.iterations_per_step} iterations); validation and held-out accuracy and equalized-odds "
                       "difference by sex (model.predict labels), step training and evaluation seconds, model size.",
        "command": f"python -m benchmarks.hgb_curves --configs {args.configs} --steps {args.steps} --iterations-per-step "
                   f"{args.iterations_per_step} --seed {args.seed} --processes {args.processes} --out {out}",
        "configs": len(keep),
        "columns": COLUMNS,
        "epochs": args.steps,
        **settings,
        "sampling": "scrambled Sobol (scipy.stats.qmc.Sobol, seed=seed) mapped by Space.from_unit, first `configs` points",
        "training": "HistGradientBoostingClassifier(warm_start=True, early_stopping=False, random_state=seed * 1000003 "
                    "+ config_id), max_iter raised by iterations_per_step before each fit; sample_weight = "
                    "class_weight_pos for positives, 1 for negatives; one thread per process (threadpoolctl)",
        "size_kb": "len(pickle.dumps(model)) / 1024 after the step",
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                     "sklearn": sklearn.__version__, "moo_hpo": getattr(mh, "__version__", "unknown")},
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "processes": args.processes, "threads_per_process": 1,
                    "platform": platform.platform()},
        "generation_seconds": meta["seconds"],
    }
    sidecar = out.with_name(out.name.removesuffix(".gz").removesuffix(".csv") + ".json")
    sidecar.write_text(json.dumps(info, indent=1) + "\n")
    partial.unlink()
    partial_meta.unlink()
    print(f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB, {len(keep)} configurations) and {sidecar}; "
          f"{meta['seconds'] / 60:.1f} min in all", file=sys.stderr)


if __name__ == "__main__":
    main()
