"""Early stopping on real learning curves: moo_hpo's MOASHA beside full training and Syne Tune's MOASHA.

    python -m benchmarks.pruning_suite [--seeds 0 1 2 3 4 5 6 7 8 9] [--budget-trials 40] [--workers 4]
        [--methods random nsga2 random+moasha auto+moasha syne-moasha syne-moasha-ranks]
        [--syne-python /tmp/synevenv/bin/python]
        [--table benchmarks/data/adult_mlp_curves.csv.gz] [--json benchmarks/results/pruning_suite.json]
        [--plot docs/img/pruning_hv.png]

**The simulation.** ``--workers`` simulated workers train configurations of the learning-curve table
(:mod:`benchmarks.curves_table`; by default Adult MLPs, 27 epochs, real per-epoch validation accuracy and
equalized-odds gap, real epoch times). An epoch of a configuration takes its tabulated time (training, plus the evaluation
after it when the method needs a report at that epoch: every epoch with early stopping, the last one
without); results reach the method in simulated-time order, one epoch at a time, so every method sees the
asynchronous arrivals of real workers, and a replay is instant and exact. A worker whose method has
nothing to propose (NSGA-II waiting for the rest of a generation) waits for the next result.

Every method proposes in the table's raw space (``CurveTable.parameter_space()``; for the MLPs width, depth,
lr, weight decay, batch size, dropout, class weight); :meth:`CurveTable.nearest` maps a proposal to the closest
tabulated configuration. Objectives: maximize validation ``accuracy``, minimize validation ``eo_diff``.

``--table benchmarks/data/adult_hgb_curves.csv.gz`` replays a second table instead (:mod:`benchmarks.hgb_curves`:
gradient-boosted trees on the same data, one "epoch" = 10 boosting iterations, 27 of them; proposals in its
six-parameter space), a problem of another kind that the defaults were not chosen on.

**Budget.** ``--budget-trials`` N full-training trials, i.e. ``27 N`` epochs. The full-training methods run N
trials; the early-stopping methods start trials until the simulated workers have trained ``27 N`` epochs in
all, when the run stops (trials still running then are cut, and count as not complete).

**Quality.** The hypervolume of the final-epoch (27) metrics of the COMPLETE trials, against
``DEFAULT_REF`` (accuracy 0.75, eo_diff 0.3), divided by the hypervolume of the table's best possible front
(:func:`best_possible_front`): 1 means the best front any method could find in the table. Recorded after
every completed trial against the cumulative epochs and the simulated wall time.

**Methods** (``--methods``):

* ``random``: moo_hpo's ``random``, full training;
* ``nsga2``: moo_hpo's ``nsga2``, full training, with the population ``optimize(n_trials=N)`` would size
  (16 for N = 40; driven by ask/tell, where the budget is unknown, it would be 40, one generation);
* ``random+moasha``: ``random`` with ``mh.pruners.MOASHA(1, 27, 3)``;
* ``auto+moasha``: ``optimizer="auto"`` with MOASHA, driven by ask/tell as here: the budget is unknown, so
  ``auto`` picks ``nsga2`` (population 40), as documented; with ``optimize(n_trials=K)`` it would pick
  ``nsga2`` for K > 300 and ``ehvi`` for K <= 300 (see the JSON's ``trials`` for the K these runs used);
* ``syne-moasha``: Syne Tune 0.16's MOASHA (random search, its built-in sampler; ``max_t=27``,
  ``grace_period=1``, ``reduction_factor=3``, non-dominated sorting with its epsilon-net), in its own
  environment, driven through ``suggest`` / ``on_trial_result`` by :mod:`benchmarks.syne_tune_peer`;
  skipped with a note when ``--syne-python`` does not exist;
* ``syne-moasha-ranks``: the same with its rung ranking patched (Syne Tune 0.16 reads an argsort as ranks,
  see :func:`benchmarks.syne_tune_peer.RankPriority`): the peer at its best, labelled as patched;
* ``random+moasha-distinct`` (run only when named): a diagnostic written on the public helpers: MOASHA whose rungs
  rank a report identical to an earlier member's behind every distinct report (:class:`DistinctFirstMOASHA`).
  Constant predictors (every person "<=50K": accuracy 0.759, ``eo_diff`` 0) sit on the rung fronts of the first
  epochs; moo_hpo's MOASHA once promoted every copy of that point, and ranks copies last since this row showed
  the gain, so the two now agree.

Settings beside the default, not run unless named: ``random+moasha-3`` (``MOASHA(3, 27, 3)``: the first rung
at epoch 3) and ``random+hyperband`` (``mh.pruners.Hyperband(1, 27, 3)``). A bound, not run unless named:
``random+moasha-oracle``, MOASHA whose rungs rank every report by its configuration's epoch-27 metrics, read
from the table (:class:`OracleMOASHA`): what random search with these rungs reaches when every promotion is
right, so what no pruner can beat without better proposals.

Reported per method: median [min, max] over seeds of the normalized HV at a third, two thirds and all of
the budget of epochs; trials started, complete, pruned and cut; the epochs at which each seed first
reaches the median final HV of full-budget random search (the target: a third of random's epochs or
fewer); and simulated wall time. The JSON (``--json``) keeps every seed's trace; the plot (``--plot``)
shows the median and the min-max band per method against cumulative epochs.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh
from benchmarks.curves_table import DEFAULT_REF, DEFAULT_TABLE, CurveTable, best_possible_front

MAX_EPOCHS = 27
PRUNER = {"min_resource": 1, "max_resource": MAX_EPOCHS, "reduction_factor": 3}
METHODS = ["random", "nsga2", "random+moasha", "auto+moasha", "syne-moasha", "syne-moasha-ranks"]
# beside the default, a bound, and a diagnostic
EXTRA_METHODS = ["random+moasha-3", "random+hyperband", "random+moasha-oracle", "random+moasha-distinct"]
LABELS = {
    "random": "random, full training",
    "nsga2": "nsga2, full training",
    "random+moasha": "random + moo_hpo MOASHA",
    "auto+moasha": "auto (nsga2 via ask/tell) + moo_hpo MOASHA",
    "syne-moasha": "Syne Tune 0.16 MOASHA (random)",
    "syne-moasha-ranks": "Syne Tune 0.16 MOASHA, ranking patched",
    "random+moasha-distinct": "random + MOASHA, repeated reports last (diagnostic)",
    "random+moasha-3": "random + moo_hpo MOASHA(3, 27, 3), first rung at epoch 3",
    "random+hyperband": "random + moo_hpo Hyperband(1, 27, 3)",
    "random+moasha-oracle": "random + MOASHA ranking by the final metrics (a bound, not a pruner)",
}
DEFAULT_SYNE_PYTHON = Path("/tmp/synevenv/bin/python")
SHORT = {"random": "random, full training", "nsga2": "nsga2, full training", "random+moasha": "random + moo_hpo MOASHA",
         "auto+moasha": "auto + moo_hpo MOASHA", "syne-moasha": "Syne Tune MOASHA",
         "syne-moasha-ranks": "Syne Tune MOASHA, ranking patched", "random+moasha-distinct": "MOASHA, repeats last (diagnostic)",
         "random+moasha-3": "MOASHA(3, 27, 3)", "random+hyperband": "Hyperband(1, 27, 3)",
         "random+moasha-oracle": "MOASHA, final-metric ranking (bound)"}
FRACTIONS = (1 / 3, 2 / 3, 1.0)


def objectives() -> list[mh.Objective]:
    return [mh.Maximize("accuracy"), mh.Minimize("eo_diff")]


# ---------------------------------------------------------------------------------------------- methods
class MooHpoMethod:
    """A moo_hpo study driven by ask / report / tell."""

    def __init__(self, table: CurveTable, optimizer: Any, seed: int, pruner: mh.pruners.Pruner | None) -> None:
        self.study = mh.Study(table.parameter_space(), objectives(), optimizer=optimizer, seed=seed, pruner=pruner)
        self.reports = pruner is not None

    def start(self) -> tuple[Any, dict[str, Any]] | None:
        try:
            trial = self.study.ask()
        except mh.MooHpoError as exc:  # NSGA-II: the rest of the generation is still running
            if "nothing to propose" in str(exc):
                return None
            raise
        return trial, trial.config

    def report(self, handle: Any, epoch: int, metrics: Mapping[str, float]) -> bool:
        return self.study.report(handle, epoch, metrics)

    def finish(self, handle: Any, metrics: Mapping[str, float], status: str) -> None:
        if status == "complete":
            self.study.tell(handle, metrics)
        elif status == "pruned":
            self.study.tell(handle, metrics, status="pruned")
        # "cut" (the budget ran out while it trained): left running, as a stopped benchmark leaves it

    def info(self) -> dict[str, Any]:
        info = self.study.optimizer_info
        return {"optimizer": info.get("name"), "params": info.get("params"), "reason": info.get("reason"),
                "optimizer_seconds": round(self.study.optimizer_seconds, 3)}

    def close(self) -> None:
        self.study.close()


class SyneTuneMethod:
    """Syne Tune's MOASHA in its own environment (:mod:`benchmarks.syne_tune_peer`), over pipes."""

    def __init__(self, table: CurveTable, seed: int, python: Path, priority: str = "default") -> None:
        peer = Path(__file__).with_name("syne_tune_peer.py")
        self.proc = subprocess.Popen([str(python), str(peer)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.reports = True
        ready = self._ask({"space": table.parameter_space().to_dict(), "seed": seed, "metrics": ["error", "eo_diff"],
                           "max_t": MAX_EPOCHS, "grace_period": PRUNER["min_resource"],
                           "reduction_factor": PRUNER["reduction_factor"], "priority": priority})
        self.versions = ready["versions"]

    def _ask(self, msg: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Syne Tune peer ended (exit code {self.proc.wait()}); run it by hand to see why")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"Syne Tune peer: {out['error']}")
        return out

    def start(self) -> tuple[Any, dict[str, Any]]:
        s = self._ask({"op": "suggest"})
        return s["trial_id"], s["config"]

    def report(self, handle: Any, epoch: int, metrics: Mapping[str, float]) -> bool:
        m = {"error": 1.0 - metrics["accuracy"], "eo_diff": metrics["eo_diff"]}  # Syne Tune minimises every metric
        return self._ask({"op": "result", "trial_id": handle, "epoch": epoch, "metrics": m})["decision"] == "STOP"

    def finish(self, handle: Any, metrics: Mapping[str, float], status: str) -> None:
        pass  # the peer already removed a stopped trial, as Syne Tune's Tuner does

    def info(self) -> dict[str, Any]:
        return {"versions": self.versions}

    def close(self) -> None:
        try:
            self.num_stopped = self._ask({"op": "close"})["num_stopped"]
        finally:
            self.proc.wait(timeout=30)


class DistinctFirstMOASHA(mh.pruners.Pruner):
    """A diagnostic, not moo_hpo's pruner: :class:`moo_hpo.pruners.MOASHA`'s rule (same rungs; a trial goes on
    when its position ``p`` from 0 in its rung's ranking, moo_hpo's ``rank_order``, has ``p <= n / eta`` of the
    ``n`` trials the rung holds), except that a report identical to an earlier member of the rung ranks
    behind every distinct one, in order of arrival. Written on the public helpers of
    :mod:`moo_hpo.pruners.base`; no constraints (this benchmark has none)."""

    name = "moasha-distinct-first"

    def __init__(self, min_resource: float = 1, max_resource: float = 27, reduction_factor: int = 3) -> None:
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.reduction_factor = reduction_factor

    def setup(self, problem: Any) -> None:
        from moo_hpo.pruners.asha import rung_steps

        super().setup(problem)
        self.rung_steps = rung_steps(self.min_resource, self.max_resource, self.reduction_factor)
        self.rungs: list[dict[int, dict[str, float]]] = [{} for _ in self.rung_steps]

    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Any:
        from moo_hpo.pruners.base import Decision, points, rank_order

        for k, rung_step in enumerate(self.rung_steps):
            if step < rung_step or number in self.rungs[k]:
                continue
            rung = self.rungs[k]
            rung[number] = dict(metrics)
            members = list(rung)
            Y = points(self.problem, [rung[m] for m in members])
            _, first = np.unique(Y, axis=0, return_index=True)
            distinct = np.zeros(len(members), dtype=bool)
            distinct[first] = True  # the first report of each point
            idx = np.flatnonzero(distinct)
            order = [*idx[rank_order(Y[idx], np.zeros(len(idx)))], *np.flatnonzero(~distinct)]
            if order.index(len(members) - 1) > len(members) / self.reduction_factor:
                return Decision(True, f"pruned at rung {k}")
        return Decision(False)


class OracleMOASHA(mh.pruners.MOASHA):
    """A bound, not a pruner: :class:`moo_hpo.pruners.MOASHA` with the same rungs, judging each trial by its
    configuration's epoch-27 metrics from the table instead of the report's (``configs`` maps a trial number to
    its tabulated configuration, filled by :class:`OracleMethod` as trials start)."""

    name = "moasha-oracle"

    def __init__(self, table: CurveTable, configs: dict[int, int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table, self.configs = table, configs

    def decide(self, number: int, step: float, metrics: Mapping[str, float]) -> Any:
        final = self.table.metrics(self.configs[number], MAX_EPOCHS)
        return super().decide(number, step, {"accuracy": final["accuracy"], "eo_diff": final["eo_diff"]})

    def get_params(self) -> dict[str, Any]:
        return {"min_resource": self.min_resource, "max_resource": self.max_resource, "reduction_factor": self.reduction_factor}


class OracleMethod(MooHpoMethod):
    """``random`` with :class:`OracleMOASHA`, telling the pruner which tabulated configuration each trial trains."""

    def __init__(self, table: CurveTable, seed: int) -> None:
        self.table, self.configs = table, {}
        super().__init__(table, "random", seed, pruner=OracleMOASHA(table, self.configs, **PRUNER))

    def start(self) -> tuple[Any, dict[str, Any]] | None:
        got = super().start()
        if got is not None:
            self.configs[got[0].number] = self.table.nearest(got[1])
        return got


def make_method(name: str, table: CurveTable, seed: int, budget_trials: int, syne_python: Path) -> Any:
    from moo_hpo.optimizers.evolutionary import default_pop_size

    if name == "random":
        return MooHpoMethod(table, "random", seed, pruner=None)
    if name == "nsga2":  # the population optimize(n_trials=budget_trials) would give it
        return MooHpoMethod(table, mh.optimizers.NSGA2(pop_size=default_pop_size(budget_trials)), seed, pruner=None)
    if name == "random+moasha":
        return MooHpoMethod(table, "random", seed, pruner=mh.pruners.MOASHA(**PRUNER))
    if name == "auto+moasha":
        return MooHpoMethod(table, "auto", seed, pruner=mh.pruners.MOASHA(**PRUNER))
    if name == "random+moasha-3":
        return MooHpoMethod(table, "random", seed, pruner=mh.pruners.MOASHA(3, MAX_EPOCHS, 3))
    if name == "random+hyperband":
        return MooHpoMethod(table, "random", seed, pruner=mh.pruners.Hyperband(**PRUNER))
    if name == "random+moasha-oracle":
        return OracleMethod(table, seed)
    if name == "random+moasha-distinct":
        return MooHpoMethod(table, "random", seed, pruner=DistinctFirstMOASHA(**PRUNER))
    if name == "syne-moasha":
        return SyneTuneMethod(table, seed, syne_python)
    if name == "syne-moasha-ranks":
        return SyneTuneMethod(table, seed, syne_python, priority="ranks")
    raise SystemExit(f"unknown method {name!r}; expected one of {METHODS + EXTRA_METHODS}")


# ---------------------------------------------------------------------------------------------- simulation
@dataclass
class Run:
    """One method, one seed: its trace and bookkeeping."""

    method: str
    seed: int
    budget_epochs: int
    epochs: int = 0  # epochs trained in all
    started: int = 0
    complete: int = 0
    pruned: int = 0
    cut: int = 0  # still training when the budget ran out
    cut_epochs: int = 0  # the epochs those had trained
    distinct_configs: int = 0  # tabulated configurations trained (several proposals may map to one)
    sim_seconds: float = 0.0  # simulated wall time until the budget was spent
    sim_seconds_at: dict[str, float] = field(default_factory=dict)  # ... until a third, two thirds of it
    run_seconds: float = 0.0  # real time this replay took
    trace: list[tuple[int, float, float]] = field(default_factory=list)  # (cumulative epochs, sim s, normalized HV)
    epochs_of: dict[str, int] = field(default_factory=dict)  # complete and pruned trials by epochs trained
    info: dict[str, Any] = field(default_factory=dict)

    def hv_at(self, epochs: float) -> float:
        """The normalized HV once ``epochs`` epochs were trained in all."""
        hv = 0.0
        for e, _, h in self.trace:
            if e > epochs:
                break
            hv = h
        return hv

    def first_reaching(self, hv: float) -> tuple[int, float] | tuple[None, None]:
        """The cumulative epochs and simulated seconds at which the normalized HV first reached ``hv``."""
        for e, s, h in self.trace:
            if h >= hv - 1e-12:
                return e, s
        return None, None


class Normalizer:
    """The normalized hypervolume of a set of final-epoch points."""

    def __init__(self, table: CurveTable, ref: Mapping[str, float] = DEFAULT_REF) -> None:
        self.ref = np.array([-ref["accuracy"], ref["eo_diff"]])
        self.max_hv = best_possible_front(table, ref)[1]

    def __call__(self, points: list[tuple[float, float]]) -> float:
        from moo_hpo.fronts import hypervolume

        if not points:
            return 0.0
        Y = np.array([[-a, e] for a, e in points])
        return float(hypervolume(Y, self.ref, warn=False) / self.max_hv)


def simulate(table: CurveTable, method: Any, name: str, seed: int, budget_trials: int, n_workers: int = 4,
             normalizer: Normalizer | None = None, full_training: bool | None = None) -> Run:
    """Replay one run of ``method`` on the table with ``n_workers`` simulated asynchronous workers.

    A method with ``reports`` (early stopping) gets a report after every epoch, pays an evaluation after
    every epoch, and runs until ``27 * budget_trials`` epochs are trained; one without trains
    ``budget_trials`` trials to the end, paying one evaluation after the last epoch.
    """
    normalizer = normalizer or Normalizer(table)
    budget = MAX_EPOCHS * budget_trials
    reports = bool(method.reports) if full_training is None else not full_training
    run = Run(method=name, seed=seed, budget_epochs=budget)
    wall = time.perf_counter()
    heap: list[tuple[float, int, int]] = []  # (simulated time the next epoch ends, sequence, worker)
    running: dict[int, list[Any]] = {}  # worker -> [handle, config_id, epochs trained]
    idle = list(range(n_workers))
    points: list[tuple[float, float]] = []
    configs: set[int] = set()
    seq = 0
    now = 0.0
    run.trace.append((0, 0.0, 0.0))

    def epoch_cost(cid: int, epoch: int) -> float:
        return table.epoch_seconds(cid, epoch, include_eval=reports or epoch == MAX_EPOCHS)

    def schedule(worker: int) -> None:
        nonlocal seq
        _, cid, done = running[worker]
        heapq.heappush(heap, (now + epoch_cost(cid, done + 1), seq, worker))
        seq += 1

    def fill_idle() -> None:
        while idle:
            if reports and run.epochs >= budget or not reports and run.started >= budget_trials:
                return
            got = method.start()
            if got is None:  # nothing to propose until a running trial finishes
                return
            handle, config = got
            cid = table.nearest(config)
            configs.add(cid)
            worker = idle.pop(0)
            running[worker] = [handle, cid, 0]
            run.started += 1
            schedule(worker)

    def finish(worker: int, status: str, metrics: Mapping[str, float] | None) -> None:
        handle, _, done = running.pop(worker)
        if status == "cut":
            run.cut_epochs += done
        else:
            method.finish(handle, metrics, status)
            run.epochs_of[str(done)] = run.epochs_of.get(str(done), 0) + 1
        idle.append(worker)

    fill_idle()
    while heap:
        now, _, worker = heapq.heappop(heap)
        state = running[worker]
        state[2] += 1
        handle, cid, epoch = state
        run.epochs += 1
        for f in FRACTIONS:
            if run.epochs == math.ceil(f * budget):
                run.sim_seconds_at[f"{f:.3f}"] = now
        full = table.metrics(cid, epoch)
        metrics = {"accuracy": full["accuracy"], "eo_diff": full["eo_diff"]}
        stop = method.report(handle, epoch, metrics) if reports else False
        if epoch == MAX_EPOCHS:
            finish(worker, "complete", metrics)
            run.complete += 1
            points.append((metrics["accuracy"], metrics["eo_diff"]))
            run.trace.append((run.epochs, now, normalizer(points)))
        elif stop:
            finish(worker, "pruned", metrics)
            run.pruned += 1
        else:
            schedule(worker)
        if run.epochs >= budget:
            for w in sorted(running):  # the budget is spent: cut what still trains
                finish(w, "cut", None)
                run.cut += 1
            heap.clear()
            break
        fill_idle()
    if run.trace[-1][0] != run.epochs:  # the trace ends at the budget
        run.trace.append((run.epochs, now, run.trace[-1][2]))
    run.sim_seconds = now
    run.distinct_configs = len(configs)
    run.info = method.info()
    method.close()
    run.run_seconds = time.perf_counter() - wall
    return run


# ---------------------------------------------------------------------------------------------- summary
def _mmm(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def summarize(runs: list[Run], budget_trials: int) -> dict[str, Any]:
    """Per method: medians and ranges over seeds, and the target checks."""
    budget = MAX_EPOCHS * budget_trials
    by: dict[str, list[Run]] = {}
    for r in runs:
        by.setdefault(r.method, []).append(r)
    target = statistics.median(r.hv_at(budget) for r in by["random"]) if "random" in by else None
    out: dict[str, Any] = {"budget_epochs": budget, "budget_trials": budget_trials,
                           "random_median_final_hv": target, "methods": {}}
    for name, rs in by.items():
        reach = [r.first_reaching(target)[0] if target is not None else None for r in rs]
        reached = [e for e in reach if e is not None]
        row = {
            "label": LABELS.get(name, name),
            "seeds": [r.seed for r in rs],
            "hv": {f"{f:.3f}": [r.hv_at(f * budget) for r in rs] for f in FRACTIONS},
            "started": [r.started for r in rs],
            "complete": [r.complete for r in rs],
            "pruned": [r.pruned for r in rs],
            "cut": [r.cut for r in rs],
            "distinct_configs": [r.distinct_configs for r in rs],
            "sim_seconds": [round(r.sim_seconds, 1) for r in rs],
            "sim_seconds_at": {f"{f:.3f}": [round(r.sim_seconds_at.get(f"{f:.3f}", math.nan), 1) for r in rs] for f in FRACTIONS},
            "sim_seconds_to_target": [round(s, 1) if (s := r.first_reaching(target)[1]) is not None else None for r in rs]
            if target is not None else None,
            "epochs_to_target": reach,
            "seeds_reaching_target": len(reached),
            # the median over all seeds, a seed that never reached it counting as beyond the budget
            "median_epochs_to_target": (statistics.median([e if e is not None else math.inf for e in reach])
                                        if reach and target is not None else None),
            "run_seconds": [round(r.run_seconds, 2) for r in rs],
            "info": rs[0].info,
        }
        out["methods"][name] = row
    for peer in ("syne-moasha", "syne-moasha-ranks"):  # moo_hpo's MOASHA against the peer's, both random search
        if "random+moasha" in by and peer in by:
            out[f"moo_hpo_vs_{peer}"] = compare(by["random+moasha"], by[peer], budget)
    return out


def compare(ours: list[Run], theirs: list[Run], budget: int) -> dict[str, Any]:
    """Seed by seed, at equal epochs: our normalized HV minus theirs at a third, two thirds and all of the
    budget, and the difference of the mean HV over the whole budget (the area under the curve / budget)."""
    a, b = {r.seed: r for r in ours}, {r.seed: r for r in theirs}
    seeds = sorted(set(a) & set(b))
    cmp: dict[str, Any] = {"seeds": seeds}

    def tally(diffs: list[float]) -> dict[str, Any]:
        return {"median_difference": statistics.median(diffs), "moo_hpo_ahead": sum(d > 1e-12 for d in diffs),
                "level": sum(abs(d) <= 1e-12 for d in diffs), "peer_ahead": sum(d < -1e-12 for d in diffs),
                "differences": [round(d, 4) for d in diffs]}

    for f in FRACTIONS:
        cmp[f"{f:.3f}"] = tally([a[s].hv_at(f * budget) - b[s].hv_at(f * budget) for s in seeds])
    grid = np.arange(0, budget + 1)
    cmp["mean_over_the_budget"] = tally([float(np.mean([a[s].hv_at(e) for e in grid]) - np.mean([b[s].hv_at(e) for e in grid]))
                                         for s in seeds])
    return cmp


def table_markdown(summary: dict[str, Any]) -> str:
    budget = summary["budget_epochs"]
    lines = [
        f"| method | HV at {budget // 3} epochs | HV at {2 * budget // 3} | HV at {budget} | trials (complete / pruned) "
        f"| epochs to random's median final HV ({summary['random_median_final_hv']:.3f}) | simulated wall (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["methods"].values():
        hv = [row["hv"][f"{f:.3f}"] for f in FRACTIONS]
        reach = [e for e in row["epochs_to_target"] if e is not None]
        med = row["median_epochs_to_target"]
        med_text = "not reached" if med is None or med == math.inf else f"{med:g}"
        n = len(row["seeds"])
        if not reach:
            reach_text = f"not reached (0/{n} seeds)"
        elif med_text == "not reached":
            reach_text = f"median not reached; {len(reach)}/{n} seeds at {min(reach)}-{max(reach)}"
        else:
            reach_text = f"{med_text} [{min(reach)}, {max(reach)}], {len(reach)}/{n} seeds"
        trials = (f"{statistics.median(row['started']):g} ({statistics.median(row['complete']):g} / "
                  f"{statistics.median(row['pruned']):g})")
        lines.append(f"| {row['label']} | {_mmm(hv[0])} | {_mmm(hv[1])} | {_mmm(hv[2])} | {trials} | {reach_text} "
                     f"| {_mmm(row['sim_seconds'], 0)} |")
    return "\n".join(lines)


def plot(runs: list[Run], budget_trials: int, path: Path, subject: str = "Adult MLPs") -> None:
    """One panel per method: the median normalized HV over seeds against cumulative epochs, the band between
    the seeds' min and max (light) and quartiles (darker); random search's median in grey in every panel, its
    median final HV dashed, a third of the budget dotted.

    Args:
        runs: every method's runs.
        budget_trials: the budget in full-training trials.
        path: the PNG to write.
        subject: what the table trains, for the title (:func:`plot_subject`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = MAX_EPOCHS * budget_trials
    grid = np.arange(0, budget + 1, 3)
    colors = {"random": "#7f7f7f", "nsga2": "#8c564b", "random+moasha": "#1f77b4", "auto+moasha": "#2ca02c",
              "syne-moasha": "#d62728", "syne-moasha-ranks": "#ff7f0e", "random+moasha-distinct": "#9467bd"}
    names = [m for m in [*METHODS, *sorted({r.method for r in runs} - set(METHODS))] if any(r.method == m for r in runs)]
    curves = {name: np.array([[r.hv_at(e) for e in grid] for r in runs if r.method == name]) for name in names}
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.3 * nrows + 0.5), sharex=True, sharey=True, squeeze=False)
    target = float(np.median(curves["random"][:, -1])) if "random" in curves else None
    for ax, name in zip(axes.flat, names, strict=False):
        H, c = curves[name], colors.get(name, "#17becf")
        ax.fill_between(grid, H.min(axis=0), H.max(axis=0), color=c, alpha=0.15, step="post", lw=0)
        ax.fill_between(grid, np.percentile(H, 25, axis=0), np.percentile(H, 75, axis=0), color=c, alpha=0.3, step="post", lw=0)
        if "random" in curves and name != "random":
            ax.plot(grid, np.median(curves["random"], axis=0), color="#7f7f7f", lw=1.0, drawstyle="steps-post")
        ax.plot(grid, np.median(H, axis=0), color=c, lw=1.8, drawstyle="steps-post")
        if target is not None:
            ax.axhline(target, color="k", lw=0.6, ls="--")
        ax.axvline(budget / 3, color="k", lw=0.6, ls=":")
        ax.set_title(SHORT.get(name, name), fontsize=7.5)
        ax.grid(alpha=0.3, lw=0.4)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("epochs trained, all trials", fontsize=7.5)
    for ax in axes[:, 0]:
        ax.set_ylabel("HV / best in the table", fontsize=7.5)
    axes[0, 0].set_xlim(0, budget)
    axes[0, 0].set_ylim(0, 1.02)
    seeds = len({r.seed for r in runs})
    fig.suptitle(f"{subject}, accuracy vs. equalized-odds gap, {seeds} seeds: median, quartiles and range.\nGrey: random "
                 f"search's median; dashed: its final median; dotted: a third of the {budget} epochs", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_subject(table: CurveTable) -> str:
    """The plot title's subject, from the table's sidecar.

    Args:
        table: the replayed table.

    Returns:
        "Adult gradient-boosted trees (epoch = N iterations)" for a boosting-stage table (its sidecar names
        ``iterations_per_step``), "Adult MLPs" otherwise.
    """
    per_step = table.info.get("iterations_per_step")
    return f"Adult gradient-boosted trees (epoch = {per_step} iterations)" if per_step else "Adult MLPs"


def _commit() -> str:
    """The checkout's commit, with ``+changes`` when moo_hpo/ or benchmarks/ differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "moo_hpo", "benchmarks"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def runs_from_json(summary: dict[str, Any]) -> list[Run]:
    """The runs of a saved summary (``--json``), enough for :func:`plot` and :func:`summarize`."""
    runs = []
    for key, trace in summary["traces"].items():
        name, seed = key.rsplit("/", 1)
        run = Run(method=name, seed=int(seed), budget_epochs=summary["budget_epochs"],
                  trace=[(int(e), float(t), float(h)) for e, t, h in trace])
        i = summary["methods"][name]["seeds"].index(int(seed))
        for attr in ("started", "complete", "pruned", "cut", "distinct_configs", "sim_seconds", "run_seconds"):
            setattr(run, attr, summary["methods"][name][attr][i])
        run.sim_seconds_at = {f: v[i] for f, v in summary["methods"][name]["sim_seconds_at"].items()}
        run.epochs, run.epochs_of, run.info = summary["budget_epochs"], summary["epochs_of"][key], summary["methods"][name]["info"]
        runs.append(run)
    return runs


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--budget-trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS + EXTRA_METHODS)
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--syne-python", type=Path, default=Path(os.environ.get("SYNE_PYTHON", DEFAULT_SYNE_PYTHON)))
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "pruning_suite.json")
    parser.add_argument("--plot", type=Path, default=None, help="write the HV-vs-epochs plot here (PNG)")
    parser.add_argument("--from-json", type=Path, default=None, help="print the table and draw the plot of a saved run")
    args = parser.parse_args(argv)
    for option, value in (("--workers", args.workers), ("--budget-trials", args.budget_trials)):
        if value < 1:
            parser.error(f"{option} must be at least 1; received {value}")
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(table_markdown(summarize(runs_from_json(saved), saved["budget_trials"])))
        if args.plot:
            plot(runs_from_json(saved), saved["budget_trials"], args.plot, plot_subject(CurveTable(saved["table"]["path"])))
        return

    import torch

    torch.set_num_threads(1)
    table = CurveTable(args.table)
    if table.n_epochs != MAX_EPOCHS:
        raise SystemExit(f"{args.table} has {table.n_epochs} epochs per configuration; the suite's rungs expect {MAX_EPOCHS}")
    normalizer = Normalizer(table)
    methods = list(args.methods)
    if "syne-moasha" in methods and not args.syne_python.exists():
        print(f"skipping syne-moasha: no {args.syne_python} (see benchmarks/syne_tune_peer.py)", file=sys.stderr)
        methods.remove("syne-moasha")
    started = time.perf_counter()
    runs: list[Run] = []
    for seed in args.seeds:  # seeds outermost, so a slow spell of the machine hits every method
        for name in methods:
            method = make_method(name, table, seed, args.budget_trials, args.syne_python)
            run = simulate(table, method, name, seed, args.budget_trials, args.workers, normalizer)
            runs.append(run)
            print(f"{name:14s} seed {seed}: HV {run.hv_at(run.budget_epochs):.4f}, {run.started} trials "
                  f"({run.complete} complete, {run.pruned} pruned, {run.cut} cut), {run.epochs} epochs, "
                  f"{run.sim_seconds:.0f} simulated s, {run.run_seconds:.1f} s", file=sys.stderr, flush=True)
    summary = summarize(runs, args.budget_trials)
    summary.update({
        "table": {"path": str(args.table), "configs": len(table), "epochs": table.n_epochs,
                  "best_possible_hv": normalizer.max_hv, "ref": DEFAULT_REF},
        "workers": args.workers, "pruner": PRUNER, "seeds": args.seeds,
        "versions": {"moo_hpo": getattr(mh, "__version__", "unknown"), "moo_hpo_commit": _commit(),
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "command": "python -m benchmarks.pruning_suite " + " ".join(sys.argv[1:] if argv is None else argv),
        "run_seconds": round(time.perf_counter() - started, 1),
        "load_average": list(os.getloadavg()),
        "traces": {f"{r.method}/{r.seed}": [[e, round(s, 2), round(h, 5)] for e, s, h in r.trace] for r in runs},
        "epochs_of": {f"{r.method}/{r.seed}": r.epochs_of for r in runs},
    })
    print()
    print(table_markdown(summary))
    for peer in ("syne-moasha", "syne-moasha-ranks"):
        if f"moo_hpo_vs_{peer}" in summary:
            print(f"\nrandom + moo_hpo MOASHA minus {LABELS[peer]}, seed by seed at equal epochs "
                  "(median difference; seeds moo_hpo ahead / level / peer ahead):")
            for key, c in summary[f"moo_hpo_vs_{peer}"].items():
                if key != "seeds":
                    print(f"  {key}: {c['median_difference']:+.4f}; {c['moo_hpo_ahead']} / {c['level']} / {c['peer_ahead']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=None, default=float) + "\n")
        print(f"\nwrote {args.json} ({args.json.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)
    if args.plot:
        plot(runs, args.budget_trials, args.plot, plot_subject(table))
        print(f"wrote {args.plot} ({args.plot.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)
    print(f"\n{summary['run_seconds']:.0f} s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
