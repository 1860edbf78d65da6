"""A recorded table of a real scikit-learn tuning task: gradient-boosted trees on the bundled Adult data.

    OMP_NUM_THREADS=1 python -m benchmarks.sklearn_table --configs 256 --seed 0 \\
        --out benchmarks/data/adult_hgb_table.csv.gz

Draws ``--configs`` configurations of :class:`sklearn.ensemble.HistGradientBoostingClassifier` from
:func:`space` (scrambled Sobol, ``scipy.stats.qmc.Sobol`` seeded by ``--seed``; the first ``n`` points do not
depend on ``--configs``), trains each once on one thread and records one row per configuration:

* the configuration: ``learning_rate``, ``max_iter``, ``max_leaf_nodes``, ``min_samples_leaf``,
  ``l2_regularization``, ``max_features`` and ``class_weight_pos`` (the sample weight of the positive class;
  negatives weigh 1);
* validation figures ``accuracy`` and ``eo_diff`` (fairlearn's ``equalized_odds_difference`` by sex, on the
  labels of ``model.predict``, as :class:`moo_hpo.objectives.Accuracy` and
  :class:`moo_hpo.objectives.FairnessGap` measure a scikit-learn model without a threshold), and the same on the
  held-out test split: ``holdout_accuracy``, ``holdout_eo_diff``;
* ``size_kb`` (``len(pickle.dumps(model)) / 1024``), ``fit_seconds`` (the ``fit`` call) and ``predict_ms`` (the
  median of 20 timed ``predict`` calls on one validation row, after 3 untimed ones).

The data are :class:`moo_hpo.demo.AdultMLP`'s (8,000 training and 4,000 validation rows from Adult's training
file, 4,000 held-out rows from its test file, one-hot and scaled with preprocessing fitted on the training
rows), so the splits are the demo's. The gzipped table gets a JSON sidecar beside it (command, seed, space,
data sizes, versions, generation time).

Replay it with :class:`HGBTable`::

    from benchmarks.sklearn_table import HGBTable

    table = HGBTable.load()                  # the shipped table
    space = table.parameter_space()          # the raw HGB parameters the table was drawn from
    row = table.nearest(space.sample(1, seed=0)[0])  # a proposal -> the closest tabulated row
    m = table.metrics(row)                   # {"accuracy": ..., "eo_diff": ..., "size_kb": ..., ...}
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import pickle
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh

__all__ = ["COLUMNS", "DEFAULT_TABLE", "METRICS", "PARAMS", "HGBTable", "draw_configs", "evaluate_config", "space"]

DEFAULT_TABLE = Path(__file__).parent / "data" / "adult_hgb_table.csv.gz"
PARAMS = ["learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "l2_regularization", "max_features",
          "class_weight_pos"]
INT_PARAMS = ("max_iter", "max_leaf_nodes", "min_samples_leaf")
METRICS = ["accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "size_kb", "fit_seconds", "predict_ms"]
COLUMNS = ["config_id", *PARAMS, *METRICS]
WARMUP_CALLS = 3
TIMED_CALLS = 20


def space() -> mh.Space:
    """The HistGradientBoostingClassifier search space of the table.

    Returns:
        The space over the seven raw parameters.
    """
    return mh.Space({
        "learning_rate": mh.Float(0.01, 0.5, log=True),
        "max_iter": mh.Int(10, 300, log=True),
        "max_leaf_nodes": mh.Int(4, 128, log=True),
        "min_samples_leaf": mh.Int(2, 200, log=True),
        "l2_regularization": mh.Float(1e-6, 10.0, log=True),
        "max_features": mh.Float(0.2, 1.0),
        "class_weight_pos": mh.Float(1.0, 4.0),
    })


def draw_configs(n: int, seed: int) -> list[dict[str, Any]]:
    """The first ``n`` points of the scrambled Sobol sequence seeded with ``seed``, as configurations.

    Args:
        n: how many configurations.
        seed: the Sobol scrambling seed.

    Returns:
        ``n`` configuration dicts of :func:`space`.
    """
    from scipy.stats import qmc

    sp = space()
    U = qmc.Sobol(sp.dim, scramble=True, seed=seed).random_base2(max(0, math.ceil(math.log2(max(n, 1)))))[:n]
    return sp.from_unit(U)


def build(config: Mapping[str, Any], random_state: int) -> Any:
    """The classifier of one configuration (early stopping off: every model runs its ``max_iter`` iterations).

    Args:
        config: a configuration of :func:`space`.
        random_state: seed of the feature subsampling.

    Returns:
        An unfitted ``HistGradientBoostingClassifier``.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=float(config["learning_rate"]),
        max_iter=int(config["max_iter"]),
        max_leaf_nodes=int(config["max_leaf_nodes"]),
        min_samples_leaf=int(config["min_samples_leaf"]),
        l2_regularization=float(config["l2_regularization"]),
        max_features=float(config["max_features"]),
        early_stopping=False,
        random_state=random_state,
    )


def evaluate_config(task: Any, config_id: int, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Train one configuration and measure it.

    Args:
        task: a :class:`moo_hpo.demo.AdultMLP` (its prepared splits).
        config_id: the configuration's row id (seeds the model with ``seed * 1000003 + config_id``).
        config: the configuration.
        seed: the table's seed.

    Returns:
        One table row (a dict over :data:`COLUMNS`).
    """
    from fairlearn.metrics import equalized_odds_difference

    model = build(config, random_state=seed * 1_000_003 + config_id)
    weight = np.where(task.y_train == 1, float(config["class_weight_pos"]), 1.0)
    started = time.perf_counter()
    model.fit(task.X_train, task.y_train, sample_weight=weight)
    fit_seconds = time.perf_counter() - started

    row: dict[str, Any] = {"config_id": config_id, **{p: config[p] for p in PARAMS}}
    for prefix, (X, y, sex) in {"": (task.X_valid, task.y_valid, task.sex_valid),
                                "holdout_": (task.X_test, task.y_test, task.sex_test)}.items():
        pred = np.asarray(model.predict(X))
        row[f"{prefix}accuracy"] = float((pred == y).mean())
        row[f"{prefix}eo_diff"] = float(equalized_odds_difference(y, pred, sensitive_features=sex))
    row["size_kb"] = len(pickle.dumps(model)) / 1024
    row["fit_seconds"] = fit_seconds

    x1 = task.X_valid[:1]
    for _ in range(WARMUP_CALLS):
        model.predict(x1)
    times = []
    for _ in range(TIMED_CALLS):
        t0 = time.perf_counter_ns()
        model.predict(x1)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    row["predict_ms"] = float(np.median(times))
    return row


def _format(row: Mapping[str, Any]) -> list[str]:
    out = []
    for c in COLUMNS:
        v = row[c]
        if c in ("fit_seconds", "predict_ms"):
            out.append(f"{v:.4g}")
        elif isinstance(v, (float, np.floating)):
            out.append(f"{float(v):.6g}")
        else:
            out.append(str(int(v)))
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar beside a table: ``x.csv.gz`` -> ``x.json``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".gz").removesuffix(".csv") + ".json")


def main(argv: list[str] | None = None) -> None:
    """Generate the table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--configs", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--progress-every", type=int, default=16)
    args = parser.parse_args(argv)

    import csv

    import scipy
    import sklearn
    from threadpoolctl import threadpool_limits

    from moo_hpo.demo import AdultMLP

    started = time.perf_counter()
    task = AdultMLP(n_train=8000, n_valid=4000, n_test=4000, seed=0)
    configs = draw_configs(args.configs, args.seed)
    rows = []
    with threadpool_limits(limits=1):  # one OpenMP / BLAS thread, whatever OMP_NUM_THREADS says
        for cid, config in enumerate(configs):
            rows.append(evaluate_config(task, cid, config, args.seed))
            if (cid + 1) % args.progress_every == 0 or cid + 1 == len(configs):
                el = time.perf_counter() - started
                print(f"[{cid + 1}/{len(configs)}] acc {rows[-1]['accuracy']:.4f} eo {rows[-1]['eo_diff']:.3f} "
                      f"fit {rows[-1]['fit_seconds']:.2f} s; {el / 60:.1f} min so far", file=sys.stderr, flush=True)
    generation_seconds = time.perf_counter() - started

    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{out}.tmp")
    with gzip.open(tmp, "wt", newline="", compresslevel=9) as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(_format(r) for r in rows)
    os.replace(tmp, out)
    info = {
        "description": "HistGradientBoostingClassifier on the Adult census data (moo_hpo.demo.AdultMLP splits): one "
                       "row per configuration; validation and held-out accuracy and equalized-odds difference by sex "
                       "(model.predict labels), pickled model size, fit time and batch-1 predict latency.",
        "command": f"python -m benchmarks.sklearn_table --configs {args.configs} --seed {args.seed} --out {out}",
        "configs": len(rows),
        "columns": COLUMNS,
        "seed": args.seed,
        "space": space().to_dict(),
        "data": {"n_train": task.n_train, "n_valid": task.n_valid, "n_test": task.n_test, "data_seed": task.seed,
                 "features": int(task.X_train.shape[1]),
                 "preprocessing": "moo_hpo.demo.AdultMLP: StandardScaler on numeric, most-frequent imputation and "
                                  "one-hot on categorical columns, fitted on the training rows; float32"},
        "sampling": "scrambled Sobol (scipy.stats.qmc.Sobol, seed=seed) mapped by Space.from_unit, first `configs` points",
        "training": "HistGradientBoostingClassifier(early_stopping=False, random_state=seed * 1000003 + config_id), "
                    "sample_weight = class_weight_pos for positives, 1 for negatives; one thread (threadpoolctl)",
        "size_kb": "len(pickle.dumps(model)) / 1024",
        "predict_ms": f"median of {TIMED_CALLS} model.predict calls on one validation row after {WARMUP_CALLS} warm-ups",
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
                     "sklearn": sklearn.__version__, "moo_hpo": getattr(mh, "__version__", "unknown")},
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "threads_used": 1, "platform": platform.platform()},
        "generation_seconds": round(generation_seconds, 1),
        "fit_seconds_in_table": round(sum(r["fit_seconds"] for r in rows), 1),
    }
    sidecar = sidecar_path(out)
    sidecar.write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB, {len(rows)} configurations) and {sidecar}; "
          f"{generation_seconds / 60:.1f} min in all", file=sys.stderr)


class HGBTable:
    """The recorded HGB table: one row of parameters and metrics per configuration.

    Args:
        frame: the table, indexed by ``config_id``.
        info: the sidecar's contents (empty without one).
        path: where it was read from.

    Attributes:
        frame: every row, indexed by ``config_id`` (ascending).
        config_ids: the tabulated ids, ascending.
        info: the sidecar's contents.
    """

    def __init__(self, frame: Any, info: Mapping[str, Any] | None = None, path: str | Path | None = None) -> None:
        self.frame = frame.sort_index()
        self.info: dict[str, Any] = dict(info or {})
        self.path = None if path is None else Path(path)
        self.config_ids: list[int] = [int(i) for i in self.frame.index]
        self._pos = {cid: i for i, cid in enumerate(self.config_ids)}
        self._unit: np.ndarray | None = None

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TABLE) -> HGBTable:
        """Read a table (default: the shipped one) and its JSON sidecar, if beside it.

        Args:
            path: the gzipped CSV.

        Returns:
            The table.
        """
        import pandas as pd

        path = Path(path)
        frame = pd.read_csv(path).set_index("config_id")
        sidecar = sidecar_path(path)
        info = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        return cls(frame, info, path)

    def __len__(self) -> int:
        return len(self.config_ids)

    def __repr__(self) -> str:
        return f"HGBTable({str(self.path)!r}: {len(self)} configurations)"

    def config(self, config_id: int) -> dict[str, Any]:
        """The parameters of one configuration (integers as ``int``, the rest as ``float``)."""
        row = self.frame.loc[self._check(config_id), PARAMS]
        return {k: (int(v) if k in INT_PARAMS else float(v)) for k, v in row.items()}

    def configs(self) -> list[dict[str, Any]]:
        """Every tabulated configuration as a config dict (with its ``config_id``)."""
        return [{"config_id": cid, **self.config(cid)} for cid in self.config_ids]

    def space(self) -> mh.Space:
        """A space with one categorical parameter ``config_id`` over the tabulated ids."""
        return mh.Space({"config_id": mh.Categorical(list(self.config_ids))})

    def parameter_space(self) -> mh.Space:
        """The raw HGB space the configurations were drawn from (from the sidecar; else the generator's)."""
        if "space" in self.info:
            return mh.Space.from_dict(self.info["space"])
        return space()

    def nearest(self, config: Mapping[str, Any]) -> int:
        """The id of the tabulated configuration closest to ``config``.

        Distance: Euclidean in the parameter space's unit cube (log scales where the space has them). A
        ``config_id`` key, if present, wins.

        Args:
            config: a configuration with every parameter of :meth:`parameter_space`.

        Returns:
            The closest tabulated ``config_id``.

        Raises:
            KeyError: for a missing parameter or an unknown ``config_id``.
        """
        if "config_id" in config:
            return self._check(int(config["config_id"]))
        sp = self.parameter_space()
        missing = [p for p in sp.names if p not in config]
        if missing:
            raise KeyError(f"config lacks {missing}; expected the parameters {sp.names}")
        if self._unit is None:
            self._unit = sp.to_unit([self.config(cid) for cid in self.config_ids])
        u = sp.to_unit([{k: config[k] for k in sp.names}])[0]
        return self.config_ids[int(np.argmin(((self._unit - u) ** 2).sum(axis=1)))]

    def metrics(self, row_id: int) -> dict[str, float]:
        """The recorded metrics of one configuration.

        Args:
            row_id: a tabulated ``config_id``.

        Returns:
            ``{"accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "size_kb", "fit_seconds",
            "predict_ms"}`` as floats.
        """
        row = self.frame.loc[self._check(row_id), METRICS]
        return {m: float(v) for m, v in row.items()}

    def _check(self, config_id: Any) -> int:
        cid = int(config_id)
        if cid not in self._pos:
            raise KeyError(f"no configuration {config_id!r} in the table (ids {self.config_ids[0]}..{self.config_ids[-1]})")
        return cid


if __name__ == "__main__":
    main()
