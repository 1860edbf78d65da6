"""A table of real learning curves (MLPs on the bundled Adult data) for replaying early-stopping benchmarks.

    python -m benchmarks.learning_curves --configs 300 --epochs 27 --seed 0 \\
        --out benchmarks/data/adult_mlp_curves.csv.gz

Draws ``--configs`` configurations of an MLP from :func:`space` (scrambled Sobol, seeded by ``--seed``; the
first ``n`` points do not depend on ``--configs``, so a larger table extends a smaller one), trains each for
``--epochs`` epochs on one CPU thread and records, after every epoch, one row:

* the configuration: ``width``, ``depth``, ``lr``, ``weight_decay``, ``batch_size``, ``dropout``,
  ``class_weight``, and its model size ``param_count`` / ``size_kb`` (fp32 bytes / 1024, as
  :class:`moo_hpo.objectives.ModelSize` counts);
* validation figures ``accuracy`` and ``eo_diff`` (fairlearn's equalized-odds difference by sex, decision
  threshold 0.5), and the same on the held-out test split: ``holdout_accuracy``, ``holdout_eo_diff``;
* ``train_loss`` (the epoch's mean training loss), ``train_seconds`` (the epoch's training time) and
  ``eval_seconds`` (the time to score both splits after it).

The data are :class:`moo_hpo.demo.AdultMLP`'s: training and validation rows from Adult's training file,
held-out test rows from its test file, preprocessing fitted on the training rows. ``eo_diff`` is computed
with numpy (the same definition as fairlearn's ``equalized_odds_difference``, 30x faster); fairlearn itself
checks it at every configuration's last epoch.

Resumable: rows go to ``<out>.partial.csv`` configuration by configuration; a rerun with the same settings
skips the configurations already there, and the gzipped table is written at the end (with a JSON sidecar
beside it: command, seed, space, data sizes, versions, machine, generation time). One process, one thread.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh

PARAMS = ["width", "depth", "lr", "weight_decay", "batch_size", "dropout", "class_weight"]
METRICS = ["accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "train_loss", "train_seconds", "eval_seconds"]
COLUMNS = ["config_id", "epoch", *PARAMS, "param_count", "size_kb", *METRICS]
DEFAULT_OUT = Path(__file__).parent / "data" / "adult_mlp_curves.csv.gz"


def space() -> mh.Space:
    """The MLP search space of the table."""
    return mh.Space({
        "width": mh.Int(8, 256, log=True),
        "depth": mh.Int(1, 4),
        "lr": mh.Float(1e-4, 3e-2, log=True),
        "weight_decay": mh.Float(1e-6, 1e-2, log=True),
        "batch_size": mh.Categorical([64, 128, 256, 512]),
        "dropout": mh.Float(0.0, 0.5),
        "class_weight": mh.Float(1.0, 4.0),
    })


def draw_configs(n: int, seed: int, sp: mh.Space | None = None) -> list[dict[str, Any]]:
    """The first ``n`` points of the scrambled Sobol sequence seeded with ``seed``, as configurations.

    Args:
        n: how many configurations.
        seed: the Sobol scrambling seed.
        sp: the space (default: :func:`space`).

    Returns:
        ``n`` configuration dicts of ``sp``.
    """
    from scipy.stats import qmc

    sp = space() if sp is None else sp
    U = qmc.Sobol(sp.dim, scramble=True, seed=seed).random_base2(max(0, math.ceil(math.log2(max(n, 1)))))[:n]
    return sp.from_unit(U)


def eo_diff(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> float:
    """Equalized-odds difference: the larger of the between-group spreads of TPR and FPR (fairlearn's)."""
    tpr, fpr = [], []
    for g in np.unique(groups):
        m = groups == g
        pos, neg = m & (y == 1), m & (y == 0)
        tpr.append(pred[pos].mean() if pos.any() else 0.0)
        fpr.append(pred[neg].mean() if neg.any() else 0.0)
    return float(max(max(tpr) - min(tpr), max(fpr) - min(fpr)))


def build(config: dict[str, Any], n_in: int) -> Any:
    """The MLP: ``depth`` hidden layers of ``width`` units (ReLU, then dropout), one logit out."""
    import torch

    layers: list[Any] = []
    for _ in range(config["depth"]):
        layers += [torch.nn.Linear(n_in, config["width"]), torch.nn.ReLU()]
        if config["dropout"] > 0:
            layers.append(torch.nn.Dropout(config["dropout"]))
        n_in = config["width"]
    return torch.nn.Sequential(*layers, torch.nn.Linear(n_in, 1))


def _sig(x: float, digits: int = 6) -> str:
    return f"{x:.{digits}g}"


def train_config(task: Any, config_id: int, config: dict[str, Any], epochs: int, seed: int,
                 check_fairlearn: bool = True) -> list[dict[str, Any]]:
    """Train one configuration for ``epochs`` epochs; one row per epoch."""
    import torch

    torch.manual_seed(seed * 1_000_003 + config_id)
    model = build(config, task.X_train.shape[1])
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(float(config["class_weight"])))
    x, y = torch.as_tensor(task.X_train), torch.as_tensor(task.y_train, dtype=torch.float32)
    splits = {"": (torch.as_tensor(task.X_valid), task.y_valid, np.asarray(task.sex_valid)),
              "holdout_": (torch.as_tensor(task.X_test), task.y_test, np.asarray(task.sex_test))}
    rows = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for idx in torch.randperm(len(x)).split(int(config["batch_size"])):
            opt.zero_grad()
            loss = loss_fn(model(x[idx]).squeeze(1), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        trained = time.perf_counter()
        model.eval()
        row: dict[str, Any] = {"config_id": config_id, "epoch": epoch, **config, "param_count": n_params,
                               "size_kb": n_params * 4 / 1024}
        preds = {}
        with torch.no_grad():
            for prefix, (X, yy, sex) in splits.items():
                pred = (torch.sigmoid(model(X).squeeze(1)).numpy() >= 0.5).astype(int)  # as the probes: p >= 0.5
                row[f"{prefix}accuracy"] = float((pred == yy).mean())
                row[f"{prefix}eo_diff"] = eo_diff(yy, pred, sex)
                preds[prefix] = (yy, pred, sex)
        row["train_loss"] = total / count
        row["train_seconds"] = trained - started
        row["eval_seconds"] = time.perf_counter() - trained
        rows.append(row)
    if check_fairlearn:  # the numpy eo_diff is fairlearn's; checked outside the timed evaluation
        from fairlearn.metrics import equalized_odds_difference

        for prefix, (yy, pred, sex) in preds.items():
            ref = float(equalized_odds_difference(yy, pred, sensitive_features=sex))
            if abs(ref - rows[-1][f"{prefix}eo_diff"]) > 1e-9:
                raise AssertionError(f"config {config_id}: eo_diff {rows[-1][f'{prefix}eo_diff']} != fairlearn's {ref}")
    return rows


def format_row(row: dict[str, Any], columns: list[str] = COLUMNS) -> list[str]:
    """One table row as CSV fields: times to 4 significant digits, other floats to 6.

    Args:
        row: the row's values by column.
        columns: the table's columns, in order.

    Returns:
        The fields, in ``columns`` order.
    """
    out = []
    for c in columns:
        v = row[c]
        if c in ("train_seconds", "eval_seconds"):
            out.append(_sig(v, 4))
        elif isinstance(v, (float, np.floating)):
            out.append(_sig(float(v), 6))
        else:
            out.append(str(v))
    return out


def _settings(args: argparse.Namespace, task: Any) -> dict[str, Any]:
    return {"seed": args.seed, "epochs": args.epochs, "space": space().to_dict(),
            "data": {"n_train": task.n_train, "n_valid": task.n_valid, "n_test": task.n_test, "data_seed": task.seed,
                     "features": int(task.X_train.shape[1])}}


def read_partial(path: Path, epochs: int, columns: list[str] = COLUMNS) -> dict[int, list[list[str]]]:
    """Complete configurations already in a partial table (a half-written one is dropped).

    Args:
        path: the partial CSV (missing: nothing done yet).
        epochs: the epochs (steps) a complete configuration has, ``1..epochs``.
        columns: the header the file must have.

    Returns:
        The complete configurations' rows (CSV fields) by ``config_id``.

    Raises:
        SystemExit: for a file with another header.
    """
    by_id: dict[int, list[list[str]]] = {}
    if not path.exists():
        return by_id
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != columns:
            raise SystemExit(f"{path}: unexpected columns {header}; expected {columns} (remove it to start over)")
        for row in reader:
            if len(row) == len(columns):
                by_id.setdefault(int(row[0]), []).append(row)
    return {k: v for k, v in by_id.items() if sorted(int(r[1]) for r in v) == list(range(1, epochs + 1))}


def write_rows(path: Path, columns: list[str], done: dict[int, list[list[str]]], ids: list[int] | None = None,
               gzipped: bool = False) -> None:
    """Write a table: the header, then the rows of ``ids`` (default: every id of ``done``) by id and epoch.

    Args:
        path: where to write; a gzipped table goes to ``<path>.tmp`` first and replaces ``path`` when complete.
        columns: the header.
        done: rows by ``config_id`` (as :func:`read_partial` returns them).
        ids: the configurations to write, in this order.
        gzipped: gzip at the highest level.
    """
    target = Path(f"{path}.tmp") if gzipped else path
    with (gzip.open(target, "wt", newline="", compresslevel=9) if gzipped else target.open("w", newline="")) as f:
        w = csv.writer(f)
        w.writerow(columns)
        for cid in sorted(done) if ids is None else ids:
            w.writerows(sorted(done[cid], key=lambda r: int(r[1])))
    if gzipped:
        os.replace(target, path)


_ADULT: Any = None


def adult_task() -> Any:
    """The Adult splits of the learning-curve tables, prepared once per process.

    Returns:
        A :class:`moo_hpo.demo.AdultMLP` with 8,000 training, 4,000 validation and 4,000 held-out rows.
    """
    global _ADULT
    if _ADULT is None:
        from moo_hpo.demo import AdultMLP

        _ADULT = AdultMLP(n_train=8000, n_valid=4000, n_test=4000, seed=0)
    return _ADULT


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--n-valid", type=int, default=4000)
    parser.add_argument("--n-test", type=int, default=4000)
    parser.add_argument("--progress-every", type=int, default=5)
    args = parser.parse_args(argv)

    import sklearn
    import torch

    from moo_hpo.demo import AdultMLP

    torch.set_num_threads(1)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # torch already ran parallel work in this process: it keeps its interop pool
            pass
    session_start = time.perf_counter()
    task = AdultMLP(n_train=args.n_train, n_valid=args.n_valid, n_test=args.n_test, seed=0)
    settings = _settings(args, task)
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial, partial_meta = Path(f"{out}.partial.csv"), Path(f"{out}.partial.json")
    sidecar = out.with_name(out.name.removesuffix(".gz").removesuffix(".csv") + ".json")

    meta: dict[str, Any] = {"settings": settings, "sessions": []}
    if partial_meta.exists():
        meta = json.loads(partial_meta.read_text())
        if meta["settings"] != settings:
            raise SystemExit(f"{partial} was made with other settings ({partial_meta}); remove both to start over")
    elif sidecar.exists() and out.exists():  # extend a finished table made with the same settings
        old = json.loads(sidecar.read_text())
        if {k: old.get(k) for k in settings} == settings:
            meta = {"settings": settings, "sessions": old.get("sessions", [])}
            with gzip.open(out, "rt", newline="") as src, partial.open("w", newline="") as dst:
                dst.write(src.read())
    done = read_partial(partial, args.epochs)
    write_rows(partial, COLUMNS, done)  # rewrite: complete configurations only
    session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "configs_before": len(done),
               "load_average_at_start": list(os.getloadavg())}
    meta["sessions"].append(session)
    partial_meta.write_text(json.dumps(meta, indent=1))

    configs = draw_configs(args.configs, args.seed)
    todo = [i for i in range(args.configs) if i not in done]
    print(f"{len(done)} of {args.configs} configurations already in {partial}; training {len(todo)} "
          f"({args.epochs} epochs each, n_train={task.n_train}, one thread)", file=sys.stderr, flush=True)
    for k, cid in enumerate(todo, 1):
        rows = train_config(task, cid, configs[cid], args.epochs, args.seed)
        with partial.open("a", newline="") as f:
            csv.writer(f).writerows(format_row(r) for r in rows)
        session["seconds"] = round(time.perf_counter() - session_start, 1)
        session["configs_trained"] = k
        partial_meta.write_text(json.dumps(meta, indent=1))
        if k % args.progress_every == 0 or k == len(todo):
            el = time.perf_counter() - session_start
            left = el / k * (len(todo) - k)
            last = rows[-1]
            print(f"[{k}/{len(todo)}] config {cid}: acc {last['accuracy']:.4f} eo {last['eo_diff']:.3f} "
                  f"({sum(r['train_seconds'] for r in rows):.1f} s training); {el / 60:.1f} min so far, "
                  f"~{left / 60:.1f} min left", file=sys.stderr, flush=True)

    session["load_average_at_end"] = list(os.getloadavg())
    session["seconds"] = round(time.perf_counter() - session_start, 1)
    done = read_partial(partial, args.epochs)
    keep = sorted(c for c in done if c < args.configs)
    if len(keep) < args.configs:
        raise SystemExit(f"only {len(keep)} of {args.configs} configurations are complete in {partial}")
    write_rows(out, COLUMNS, done, keep, gzipped=True)
    table_seconds = sum(float(r[COLUMNS.index(c)]) for cid in keep for r in done[cid] for c in ("train_seconds", "eval_seconds"))
    info = {
        "description": "Learning curves of MLPs on the Adult census data (moo_hpo.demo.AdultMLP splits): one row per "
                       "(config_id, epoch); validation and held-out accuracy and equalized-odds difference by sex "
                       "(threshold 0.5), epoch training and evaluation seconds, model size.",
        "command": "python -m benchmarks.learning_curves " + " ".join(
            [f"--configs {args.configs}", f"--epochs {args.epochs}", f"--seed {args.seed}", f"--out {out}"]
            + ([f"--n-train {args.n_train}"] if args.n_train != 8000 else [])),
        "configs": len(keep),
        "columns": COLUMNS,
        **settings,
        "sampling": "scrambled Sobol (scipy.stats.qmc.Sobol, seed=seed) mapped by Space.from_unit, first `configs` points",
        "training": "AdamW, BCEWithLogitsLoss(pos_weight=class_weight), shuffled mini-batches, torch.manual_seed("
                    "seed * 1000003 + config_id) before building; torch.set_num_threads(1)",
        "size_kb": "param_count * 4 / 1024 (fp32)",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "sklearn": sklearn.__version__, "moo_hpo": getattr(mh, "__version__", "unknown")},
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "threads_used": 1, "platform": platform.platform()},
        "generation_seconds": round(sum(s.get("seconds", 0.0) for s in meta["sessions"]), 1),
        "train_and_eval_seconds_in_table": round(table_seconds, 1),
        "sessions": meta["sessions"],
    }
    sidecar.write_text(json.dumps(info, indent=1) + "\n")
    partial.unlink()
    partial_meta.unlink()
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, {len(keep)} configurations) and {sidecar}; "
          f"{info['generation_seconds'] / 60:.1f} min in all", file=sys.stderr)


if __name__ == "__main__":
    main()
