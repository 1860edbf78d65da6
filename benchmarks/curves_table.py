"""Replay the tabulated learning curves of ``benchmarks/data/adult_mlp_curves.csv.gz`` (see
:mod:`benchmarks.learning_curves`), or of another table in its format such as the boosting-stage curves of
``benchmarks/data/adult_hgb_curves.csv.gz`` (:mod:`benchmarks.hgb_curves`): early-stopping benchmarks without
training anything.

    from benchmarks.curves_table import CurveTable, best_possible_front

    table = CurveTable()                      # the shipped table
    space = table.space()                     # one Categorical "config_id" over the tabulated ids
    m = table.metrics(17, epoch=3)            # {"accuracy": ..., "eo_diff": ..., "holdout_accuracy": ..., ...}
    cost = table.epoch_seconds(17, 3)         # training seconds of that epoch
    cid = table.nearest({"width": 64, "depth": 2, "lr": 1e-3, ...})  # a config dict -> the closest tabulated id
    front, hv = best_possible_front(table)    # the best any optimizer can reach at the last epoch

Two ways to let an optimizer propose: from ``table.space()`` (a single categorical ``config_id``, how tabular
benchmarks are usually replayed), or from ``table.parameter_space()`` (the raw MLP parameters the table was
drawn from) with :meth:`CurveTable.nearest` mapping each proposal to a tabulated configuration.

Metrics per (configuration, epoch): ``accuracy`` and ``eo_diff`` (validation), ``holdout_accuracy`` and
``holdout_eo_diff`` (held-out test split), ``size_kb``, and where the table has them ``train_loss`` and
``param_count``; times ``train_seconds`` and ``eval_seconds`` are separate (:meth:`CurveTable.epoch_seconds`).
A table's parameters are the names of its sidecar's ``space`` (without a sidecar: the MLP table's).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh

__all__ = ["DEFAULT_REF", "DEFAULT_TABLE", "PARAMS", "CurveTable", "best_possible_front"]

DEFAULT_TABLE = Path(__file__).parent / "data" / "adult_mlp_curves.csv.gz"
PARAMS = ["width", "depth", "lr", "weight_decay", "batch_size", "dropout", "class_weight"]
METRICS = ["accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "train_loss", "param_count", "size_kb"]
#: reference point of :func:`best_possible_front`: accuracy 0.75 (just below the 0.759 of predicting "<=50K" for
#: everyone; 98% of the MLP table's configurations are above it at epoch 27, all of the boosted trees') and
#: eo_diff 0.3 (97% of the MLPs below it, all of the boosted trees)
DEFAULT_REF = {"accuracy": 0.75, "eo_diff": 0.3}


class CurveTable:
    """The learning-curve table: configurations, per-epoch metrics and epoch times.

    Args:
        path: the gzipped CSV (default: the shipped table); its JSON sidecar, if beside it, gives the space.

    Attributes:
        frame: every row, indexed by ``(config_id, epoch)``.
        param_names: the configuration's parameters (the sidecar's space; without a sidecar, the MLP table's).
        metric_names: the per-epoch metrics the table has (:meth:`metrics` returns these).
        params: the raw parameter table, one row per configuration (index ``config_id``), with
            ``param_count`` and ``size_kb`` where the table has them (at epoch 1).
        config_ids: the tabulated ids, ascending.
        n_epochs: epochs per configuration (every configuration has all of them).
        info: the sidecar's contents (empty without one).
    """

    def __init__(self, path: str | Path = DEFAULT_TABLE) -> None:
        import pandas as pd

        self.path = Path(path)
        df = pd.read_csv(self.path)
        sidecar = self.path.with_name(self.path.name.removesuffix(".gz").removesuffix(".csv") + ".json")
        self.info: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        self.param_names: list[str] = list(self.info["space"]["params"]) if "space" in self.info else list(PARAMS)
        self.metric_names = [m for m in METRICS if m in df.columns]
        missing = [c for c in ["config_id", "epoch", *self.param_names, "accuracy", "eo_diff", "train_seconds",
                               "eval_seconds"] if c not in df.columns]
        if missing:
            raise ValueError(f"{self.path}: the table lacks the columns {missing}")
        self.frame = df.set_index(["config_id", "epoch"]).sort_index()
        extra = [c for c in ("param_count", "size_kb") if c in df.columns]
        self.params = df[df["epoch"] == 1].set_index("config_id")[[*self.param_names, *extra]].sort_index()
        self.config_ids: list[int] = [int(i) for i in self.params.index]
        self.n_epochs = int(df["epoch"].max())
        # fast lookups: one (n_configs, n_epochs) array per column
        self._pos = {cid: i for i, cid in enumerate(self.config_ids)}
        self._arrays = {c: self.frame[c].to_numpy().reshape(len(self.config_ids), -1)
                        for c in [*self.metric_names, "train_seconds", "eval_seconds"]}
        if self._arrays["accuracy"].shape[1] != self.n_epochs:  # pragma: no cover - a broken table
            raise ValueError(f"{self.path}: every configuration needs epochs 1..{self.n_epochs}")

    def __len__(self) -> int:
        return len(self.config_ids)

    def __repr__(self) -> str:
        return f"CurveTable({str(self.path)!r}: {len(self)} configurations x {self.n_epochs} epochs)"

    # ------------------------------------------------------------------ configurations and spaces
    def configs(self) -> list[dict[str, Any]]:
        """Every tabulated configuration as a moo_hpo config dict (with its ``config_id``)."""
        return [{"config_id": cid, **self.config(cid)} for cid in self.config_ids]

    def config(self, config_id: int) -> dict[str, Any]:
        """The parameters of one configuration."""
        row = self.params.loc[self._check(config_id), self.param_names]
        return {k: (int(v) if k in self._int_params() else float(v)) for k, v in row.items()}

    def _int_params(self) -> set[str]:
        if not hasattr(self, "_ints"):
            sp = self.parameter_space()
            self._ints = {n for n, p in sp.params.items()
                          if isinstance(p, mh.Int) or (isinstance(p, mh.Categorical)
                                                       and all(isinstance(c, int) for c in p.choices))}
        return self._ints

    def space(self) -> mh.Space:
        """A space with one categorical parameter ``config_id`` over the tabulated ids."""
        return mh.Space({"config_id": mh.Categorical(list(self.config_ids))})

    def parameter_space(self) -> mh.Space:
        """The raw space the configurations were drawn from (from the sidecar; else the MLP generator's)."""
        if "space" in self.info:
            return mh.Space.from_dict(self.info["space"])
        from benchmarks.learning_curves import space

        return space()

    def nearest(self, config: Mapping[str, Any]) -> int:
        """The id of the tabulated configuration closest to ``config`` (parameter names as in :attr:`params`).

        Distance: Euclidean in the parameter space's unit cube (log scales where the space has them), plus 1 for
        a different ``batch_size``. A ``config_id`` key, if present, wins.
        """
        if "config_id" in config:
            return self._check(int(config["config_id"]))
        sp = self.parameter_space()
        missing = [p for p in sp.names if p not in config]
        if missing:
            raise KeyError(f"config lacks {missing}; expected the parameters {sp.names}")
        numeric = [n for n in sp.names if not isinstance(sp.params[n], mh.Categorical)]
        cols = [sp.names.index(n) for n in numeric]
        U = sp.to_unit(self._table_configs())[:, cols]
        u = sp.to_unit([{k: config[k] for k in sp.names}])[0, cols]
        d = ((U - u) ** 2).sum(axis=1)
        for n in sp.names:
            if n not in numeric:
                d += (self.params[n].to_numpy() != config[n]).astype(float)
        return self.config_ids[int(np.argmin(d))]

    def _table_configs(self) -> list[dict[str, Any]]:
        if not hasattr(self, "_configs_cache"):
            self._configs_cache = [self.config(cid) for cid in self.config_ids]
        return self._configs_cache

    # ------------------------------------------------------------------ lookups
    def metrics(self, config_id: int, epoch: int) -> dict[str, float]:
        """The metrics after ``epoch`` (1-based) epochs of training."""
        i, j = self._pos[self._check(config_id)], self._epoch(epoch)
        return {m: (int(self._arrays[m][i, j]) if m == "param_count" else float(self._arrays[m][i, j]))
                for m in self.metric_names}

    def final_metrics(self, config_id: int) -> dict[str, float]:
        """The metrics after the last epoch."""
        return self.metrics(config_id, self.n_epochs)

    def epoch_seconds(self, config_id: int, epoch: int, include_eval: bool = False) -> float:
        """The training time of one epoch (plus its evaluation with ``include_eval``)."""
        i, j = self._pos[self._check(config_id)], self._epoch(epoch)
        return float(self._arrays["train_seconds"][i, j] + (self._arrays["eval_seconds"][i, j] if include_eval else 0.0))

    def seconds_until(self, config_id: int, epoch: int, include_eval: bool = False) -> float:
        """The training time of epochs ``1..epoch`` together (plus their evaluations with ``include_eval``)."""
        i, j = self._pos[self._check(config_id)], self._epoch(epoch)
        t = self._arrays["train_seconds"][i, : j + 1].sum()
        if include_eval:
            t += self._arrays["eval_seconds"][i, : j + 1].sum()
        return float(t)

    def curve(self, config_id: int, metric: str = "accuracy") -> np.ndarray:
        """One metric over epochs ``1..n_epochs``."""
        return self._arrays[metric][self._pos[self._check(config_id)]].copy()

    def at_epoch(self, epoch: int, metric: str) -> np.ndarray:
        """One metric of every configuration (in :attr:`config_ids` order) after ``epoch`` epochs."""
        return self._arrays[metric][:, self._epoch(epoch)].copy()

    def _check(self, config_id: Any) -> int:
        cid = int(config_id)
        if cid not in self._pos:
            raise KeyError(f"no configuration {config_id!r} in the table (ids {self.config_ids[0]}..{self.config_ids[-1]})")
        return cid

    def _epoch(self, epoch: int) -> int:
        if not 1 <= int(epoch) <= self.n_epochs:
            raise ValueError(f"epoch must be in 1..{self.n_epochs}; received {epoch!r}")
        return int(epoch) - 1


def best_possible_front(table: CurveTable | None = None, ref: Mapping[str, float] = DEFAULT_REF,
                        epoch: int | None = None) -> tuple[Any, float]:
    """The Pareto front of final accuracy (max) vs. ``eo_diff`` (min) over every tabulated configuration.

    Args:
        table: the table (default: the shipped one).
        ref: reference point ``{"accuracy": ..., "eo_diff": ...}`` of the hypervolume.
        epoch: the epoch whose metrics count (default: the last).

    Returns:
        ``(front, hv)``: the front's configurations (a DataFrame indexed by ``config_id`` with ``accuracy`` and
        ``eo_diff``, by accuracy ascending) and its hypervolume against ``ref`` (in accuracy x eo_diff units).
    """
    import pandas as pd

    from moo_hpo.fronts import hypervolume, pareto_mask

    table = CurveTable() if table is None else table
    e = table.n_epochs if epoch is None else epoch
    acc, eo = table.at_epoch(e, "accuracy"), table.at_epoch(e, "eo_diff")
    Y = np.column_stack([-acc, eo])  # moo_hpo minimises: accuracy negated
    mask = pareto_mask(Y)
    front = pd.DataFrame({"accuracy": acc[mask], "eo_diff": eo[mask]},
                         index=pd.Index(np.asarray(table.config_ids)[mask], name="config_id")).sort_values("accuracy")
    hv = hypervolume(Y[mask], [-ref["accuracy"], ref["eo_diff"]], warn=False)
    return front, hv
