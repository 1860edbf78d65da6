"""The defaults suite: moo_hpo's defaults beside Optuna's GPSampler and TPE, Ax and Sobol, on problems that
were not used to tune moo_hpo, each exact and with noise.

    python -m benchmarks.defaults_suite [--problems mw7 mixed] [--methods ehvi optuna-gp] [--seeds 0 1 2 3 4]
                                        [--noisy] [--budget 40] [--out DIR]
    python -m benchmarks.defaults_suite --summarize [--out DIR]      # the table of the runs in DIR

Problems (:data:`SUITE`) differ in character: constrained ones with several constraints and small feasible
regions (TNK, MW7, MW11), three and four objectives (VehicleSafety, CarSideImpact, DTLZ7), six to eight
variables, objectives of very different scales with heavy tails (``scaled``), a mixed space with a
conditional parameter (``mixed``), and two real tuning tasks on the bundled Adult data replayed from
recorded tables (``adult-mlp``: an MLP's accuracy, fairness gap and size; ``adult-hgb``: a gradient-boosted
model's accuracy and fairness gap under a size bound). BraninCurrin and C2-DTLZ2, which moo_hpo's Bayesian
settings were tuned on, stay in as a control.

Every method sees the configuration a user would write (``mh.Space`` parameters; Optuna through its
``suggest_*`` calls, conditional parameters only while active) and returns the metrics. **Noisy variants**
(``--noisy``) add Gaussian noise to each objective, with a standard deviation of 7.5% of the objective's range
(reference point minus the best known value); constraints stay exact. A method is judged by the **true**
hypervolume of the front it reports (moo_hpo's ``pareto_front()``, Optuna's ``best_trials``, Ax's Pareto
frontier): what a user would deploy, not its luckiest draws. On exact variants that is the hypervolume of
all feasible evaluations. Scores are normalized by the best known hypervolume (the problem's known maximum,
or the best of a long NSGA-II run and of every recorded run): 1 is the best known front.

Methods: ``auto`` and ``ehvi`` as a user gets them (no options; ``auto`` keeps its proposals under 20% of
the study's time, so on these instant functions it takes mostly cheap steps, and with trials of a few
seconds or more it takes ``ehvi``'s full steps), ``optuna-gp`` (GPSampler), ``optuna-tpe`` (TPESampler,
Optuna's default), ``sobol`` (moo_hpo's scrambled Sobol) and ``ax`` (Ax's default generation strategy, told
the noise is zero on exact variants and nothing on noisy ones; every parameter proposed, inactive ones dropped).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import moo_hpo as mh

__all__ = ["SUITE", "SuiteProblem", "get", "run_one", "summarize"]

RESULTS = Path(__file__).parent / "results" / "defaults"
#: noise of a noisy variant: this share of each objective's range (reference point minus best known value)
NOISE_SHARE = 0.075
METHODS = ["auto", "ehvi", "optuna-gp", "optuna-tpe", "sobol"]
#: labelled variants of moo_hpo's optimizers (measured beside the defaults, never instead of them)
VARIANTS: dict[str, tuple[str, Any]] = {
    "ehvi-design-d+1": ("ehvi", lambda p: {"n_init": len(p.space.names) + 1}),  # half the default design
    "ehvi-no-winsorize": ("ehvi", {"winsorize": False}),
    "ehvi-noiseless": ("ehvi", {"noiseless": True}),  # told the metrics are exact
    "ehvi-no-bilog": ("ehvi", {"bilog_constraints": False}),  # constraints modelled in their own units
    "ehvi-log-skewed": ("ehvi", {}),  # the default, shown the skewed objectives on the log scale (LOG_SKEWED)
    # what "auto" ran before its time allowance (ehvi here: 2-4 objectives, budgets under 300): the share alone
    "auto-share-only": ("ehvi", {"time_share": 0.2}),
}
#: ``ehvi-log-skewed``: the objectives that are positive and skewed (sample skewness above 2 over 300 random
#: configurations), which that lab variant sees on the log scale, reference point too. Pareto dominance is the
#: same on either scale, so the front is read in raw units; what changes is the models (a GP of ``log f``) and
#: the hypervolume the acquisition improves (in log units): Ax's ``LogY`` applied by a rule.
LOG_SKEWED = {"scaled": [1], "adult-mlp": [2]}


def _logged(problem: str, method: str) -> list[int]:
    """The objectives (indices) that ``method`` sees on the log scale on ``problem`` (only ``ehvi-log-skewed``)."""
    return LOG_SKEWED.get(problem, []) if method == "ehvi-log-skewed" else []
EXTRA_METHODS = ["ax", "parego", *VARIANTS]


@dataclass
class SuiteProblem:
    """One problem: its space, objectives (minimized), constraints (``g <= 0`` feasible) and reference point.

    Attributes:
        name: the suite's name for it.
        character: what it tests, in a few words.
        space: the search space a user would write.
        ref: reference point, minimization form.
        n_constraints: black-box constraints ``g_j <= 0``.
        evaluate: configuration -> (objectives, constraints), exact.
        budget: evaluations per run.
        max_hv: the known maximum hypervolume, if there is one.
        ideal: the best known value of each objective (for the noise's scale).
    """

    name: str
    character: str
    space: mh.Space
    ref: np.ndarray
    n_constraints: int
    evaluate: Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray]]
    budget: int
    max_hv: float | None = None
    ideal: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_objectives(self) -> int:
        return len(self.ref)

    def study(self, optimizer: str, seed: int) -> mh.Study:
        logged = _logged(self.name, optimizer)
        objectives = [mh.Minimize(f"f{j}", ref=float(math.log(r) if j in logged else r)) for j, r in enumerate(self.ref)]
        constraints = [mh.AtMost(f"g{j}", 0.0) for j in range(self.n_constraints)]
        if optimizer in VARIANTS:
            name, params = VARIANTS[optimizer]
            optimizer = mh.optimizers.make_optimizer(name, params(self) if callable(params) else params)
        return mh.Study(self.space, objectives, constraints, optimizer=optimizer, seed=seed)

    def noise_sd(self) -> np.ndarray:
        ideal = self.ideal if self.ideal is not None else np.zeros(self.n_objectives)
        return NOISE_SHARE * np.maximum(self.ref - ideal, 1e-12)


# ------------------------------------------------------------------------------------------ problems
def _float_space(bounds: np.ndarray) -> mh.Space:
    return mh.Space({f"x{i}": mh.Float(float(lo), float(hi)) for i, (lo, hi) in enumerate(np.asarray(bounds).T)})


def _x(config: dict[str, Any], d: int) -> np.ndarray:
    return np.array([[config[f"x{i}"] for i in range(d)]], dtype=float)


def _botorch(name: str, cls: str, character: str, budget: int, **kwargs: Any) -> SuiteProblem:
    import torch
    from botorch.test_functions import multi_objective as mo

    f = getattr(mo, cls)(**kwargs)  # minimization form
    d = f.dim
    k = int(getattr(f, "num_constraints", 0))

    def evaluate(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        t = torch.as_tensor(_x(config, d), dtype=torch.double)
        with torch.no_grad():
            F = f(t).numpy()[0]
            G = -f.evaluate_slack(t).numpy()[0] if k else np.zeros(0)
        return F, G

    max_hv = getattr(f, "_max_hv", None)
    return SuiteProblem(name, character, _float_space(f.bounds.numpy()), f.ref_point.numpy().astype(float), k,
                        evaluate, budget, max_hv=None if max_hv is None else float(max_hv))


def _pymoo(name: str, key: str, character: str, budget: int, ref: list[float], **kwargs: Any) -> SuiteProblem:
    from pymoo.problems import get_problem

    p = get_problem(key, **kwargs)
    d = p.n_var

    def evaluate(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        F, G = p.evaluate(_x(config, d), return_values_of=["F", "G"])
        return np.asarray(F[0], float), (np.asarray(G[0], float) if G is not None else np.zeros(0))

    return SuiteProblem(name, character, _float_space(np.vstack([p.xl, p.xu])), np.array(ref, float),
                        int(p.n_ieq_constr), evaluate, budget)


def _scaled() -> SuiteProblem:
    """DTLZ2 (7 variables, 3 objectives) seen through monotone maps: one objective in thousandths, one
    exponential (heavy right tail), one in tens of thousands. The Pareto set is DTLZ2's."""
    import torch
    from botorch.test_functions.multi_objective import DTLZ2

    f = DTLZ2(dim=7, num_objectives=3)

    def scale(F: np.ndarray) -> np.ndarray:
        return np.array([1e-3 * F[0], math.exp(4.0 * F[1]), 1e4 * F[2] ** 2])

    def evaluate(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            F = f(torch.as_tensor(_x(config, 7), dtype=torch.double)).numpy()[0]
        return scale(F), np.zeros(0)

    ref = scale(np.array([1.1, 1.1, 1.1]))
    return SuiteProblem("scaled", "3 objectives, 7 variables, scales 1e-3 to 1e4, a heavy-tailed objective",
                        _float_space(np.array([[0.0] * 7, [1.0] * 7])), ref, 0, evaluate, 60,
                        ideal=scale(np.zeros(3)))


def _mixed() -> SuiteProblem:
    """ZDT1-like with a categorical, an integer and a conditional float: the front needs ``kind="b"``,
    ``n=5`` and ``x1..x3 = 0``; kind ``c`` is as good only where its conditional ``shift`` is 0.3."""
    space = mh.Space({
        "x0": mh.Float(0.0, 1.0),
        "x1": mh.Float(0.0, 1.0),
        "x2": mh.Float(0.0, 1.0),
        "x3": mh.Float(1e-4, 1.0, log=True),
        "n": mh.Int(1, 12),
        "kind": mh.Categorical(["a", "b", "c"]),
        "shift": mh.Float(0.0, 1.0, active_if={"kind": "c"}),
    })

    def evaluate(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        penalty = {"a": 0.4, "b": 0.0, "c": 2.0 * (config.get("shift", 0.0) - 0.3) ** 2}[config["kind"]]
        g = 1.0 + 3.0 * (config["x1"] + config["x2"] + config["x3"]) / 3.0 + 0.05 * abs(config["n"] - 5) + penalty
        f1 = config["x0"]
        return np.array([f1, g * (1.0 - math.sqrt(f1 / g))]), np.zeros(0)

    # the front is ZDT1's, f2 = 1 - sqrt(f1); its hypervolume against (1.1, 1.1)
    f1 = np.linspace(0.0, 1.0, 200_001)
    max_hv = float(np.trapezoid(1.1 - (1.0 - np.sqrt(f1)), f1) + 0.1 * 1.1)
    return SuiteProblem("mixed", "mixed space: floats (one log), an integer, a categorical, a conditional float",
                        space, np.array([1.1, 1.1]), 0, evaluate, 50, max_hv=max_hv)


def _adult_mlp() -> SuiteProblem:
    """The demo's Adult MLP, replayed from the recorded learning-curve table at its last epoch: error,
    fairness gap (equalized odds) and model size (KiB, skewed over two orders of magnitude)."""
    from benchmarks.curves_table import CurveTable

    table = CurveTable()
    space = table.parameter_space()
    ids = table.config_ids
    finals = [table.final_metrics(c) for c in ids]
    F_all = np.array([[1.0 - m["accuracy"], m["eo_diff"], m["size_kb"]] for m in finals])
    row = {cid: i for i, cid in enumerate(ids)}

    def evaluate(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return F_all[row[table.nearest(config)]], np.zeros(0)

    # models above the median size, less accurate than 80% or with a gap above 0.25 add nothing
    ref = np.array([0.2, 0.25, float(np.median(F_all[:, 2]))])
    return SuiteProblem("adult-mlp", "real task (replayed): MLP error, eo_diff, size_kb; 7 mixed parameters",
                        space, ref, 0, evaluate, 50, max_hv=_table_hv(F_all, None, ref),
                        ideal=F_all.min(axis=0))


def _adult_hgb() -> SuiteProblem:
    """A scikit-learn gradient-boosted model on Adult, replayed from its recorded table: error and fairness
    gap, under a size bound (at most the table's median size: half the configurations break it)."""
    from benchmarks.sklearn_table import HGBTable

    table = HGBTable.load()
    space = table.parameter_space()
    rows = [table.metrics(i) for i in range(len(table))]
    F_all = np.array([[1.0 - m["accuracy"], m["eo_diff"]] for m in rows])
    size = np.array([m["size_kb"] for m in rows])
    bound = float(np.median(size))
    G_all = (size - bound).reshape(-1, 1)

    def evaluate(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        i = table.nearest(config)
        return F_all[i], G_all[i]

    ref = np.array([0.25, 0.3])
    return SuiteProblem("adult-hgb", f"real task (replayed): gradient boosting error, eo_diff; size_kb <= {bound:.0f}",
                        space, ref, 1, evaluate, 50, max_hv=_table_hv(F_all, G_all, ref),
                        ideal=F_all[(G_all <= 0).all(axis=1)].min(axis=0))


def _table_hv(F: np.ndarray, G: np.ndarray | None, ref: np.ndarray) -> float:
    from moo_hpo.fronts import hypervolume

    feasible = np.ones(len(F), bool) if G is None else (G <= 0).all(axis=1)
    return float(hypervolume(F[feasible], ref, warn=False))


SUITE: dict[str, Callable[[], SuiteProblem]] = {
    # a control: the problems the Bayesian settings were tuned on
    "branincurrin": lambda: _botorch("branincurrin", "BraninCurrin", "control (tuned on): 2 variables", 40),
    "c2dtlz2": lambda: _botorch("c2dtlz2", "C2DTLZ2", "control (tuned on): 4 variables, 1 constraint", 50,
                                dim=4, num_objectives=2),
    # held out from the tuning
    "tnk": lambda: _pymoo("tnk", "tnk", "2 variables, 2 constraints, 5% feasible", 40, [1.2, 1.2]),
    "mw7": lambda: _pymoo("mw7", "mw7", "6 variables, 2 constraints, 0.7% feasible", 60, [1.2, 1.2], n_var=6),
    "mw11": lambda: _pymoo("mw11", "mw11", "6 variables, 4 constraints, 1% feasible", 60, [2.3, 2.3], n_var=6),
    "vehiclesafety": lambda: _botorch("vehiclesafety", "VehicleSafety", "3 objectives, 5 variables", 60),
    "carsideimpact": lambda: _botorch("carsideimpact", "CarSideImpact", "4 objectives, 7 variables", 60),
    "dtlz7": lambda: _pymoo("dtlz7", "dtlz7", "3 objectives, 8 variables, disconnected front", 60,
                            [1.1, 1.1, 30.0], n_var=8, n_obj=3),
    "zdt3": lambda: _pymoo("zdt3", "zdt3", "10 variables, disconnected front", 60, [1.1, 6.0], n_var=10),
    "scaled": _scaled,
    "mixed": _mixed,
    "adult-mlp": _adult_mlp,
    "adult-hgb": _adult_hgb,
}


def get(name: str) -> SuiteProblem:
    """A suite problem by name (see :data:`SUITE`)."""
    if name not in SUITE:
        raise SystemExit(f"unknown problem {name!r}; expected one of {sorted(SUITE)}")
    return SUITE[name]()


# ------------------------------------------------------------------------------------------ running
class _Evaluator:
    """The objective as a method sees it (noisy on noisy variants), with the true values kept aside."""

    def __init__(self, problem: SuiteProblem, noisy: bool, seed: int) -> None:
        self.problem = problem
        self.noisy = noisy
        self.rng = np.random.default_rng([seed, 7919])
        self.sd = problem.noise_sd()
        self.true: list[tuple[np.ndarray, np.ndarray]] = []
        self.seconds = 0.0

    def __call__(self, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        F, G = self.problem.evaluate(config)
        self.true.append((F, G))
        if self.noisy:
            F = F + self.rng.normal(0.0, self.sd)
        self.seconds += time.perf_counter() - t0
        return F, G

    def metrics(self, config: dict[str, Any]) -> dict[str, float]:
        F, G = self(config)
        out = {f"f{j}": float(v) for j, v in enumerate(F)}
        out.update({f"g{j}": float(v) for j, v in enumerate(G)})
        return out


def _true_hv(problem: SuiteProblem, points: list[tuple[np.ndarray, np.ndarray]]) -> float:
    from moo_hpo.fronts import hypervolume

    F = np.array([f for f, g in points if np.all(g <= 0)]).reshape(-1, problem.n_objectives)
    return float(hypervolume(F, problem.ref, warn=False)) if len(F) else 0.0


def _run_moo_hpo(problem: SuiteProblem, method: str, seed: int, ev: _Evaluator) -> list[dict[str, Any]]:
    study = problem.study(method, seed)
    logged = {f"f{j}" for j in _logged(problem.name, method)}

    def metrics(config: dict[str, Any]) -> dict[str, float]:
        return {k: (math.log(v) if k in logged else v) for k, v in ev.metrics(config).items()}

    study.optimize(metrics, n_trials=problem.budget, show_progress=False)
    modes = [t.extra.get("optimizer", {}).get("noise") for t in study.trials]
    ev.noise_modes = {m: modes.count(m) for m in set(modes) if m is not None}  # model steps per noise mode
    if ev.noisy:  # the front by the model's estimates, beside the measured front a user sees by default
        ev.model_front = [m.trial.config for m in study.model_front()]
    return [t.config for t in study.pareto_front()]


def _suggest(trial: Any, space: mh.Space) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in space.names:
        if not space.is_active(name, config):
            continue
        p = space.params[name]
        if isinstance(p, mh.Categorical):
            config[name] = trial.suggest_categorical(name, list(p.choices))
        elif isinstance(p, mh.Int):
            config[name] = trial.suggest_int(name, p.low, p.high, log=p.log, step=p.step)
        else:
            config[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
    return config


def _run_optuna(problem: SuiteProblem, method: str, seed: int, ev: _Evaluator) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    constraints = (lambda t: t.user_attrs["g"]) if problem.n_constraints else None
    cls = optuna.samplers.GPSampler if method == "optuna-gp" else optuna.samplers.TPESampler
    study = optuna.create_study(directions=["minimize"] * problem.n_objectives,
                                sampler=cls(seed=seed, constraints_func=constraints))

    def objective(trial: Any) -> tuple[float, ...]:
        config = _suggest(trial, problem.space)
        trial.set_user_attr("config", config)
        F, G = ev(config)
        trial.set_user_attr("g", [float(v) for v in G])
        return tuple(float(v) for v in F)

    study.optimize(objective, n_trials=problem.budget)
    return [t.user_attrs["config"] for t in study.best_trials]


def _ax_parameter(name: str, p: Any) -> dict[str, Any]:
    """An ``mh.Space`` parameter as Ax's service API writes it (floats, integers, unordered choices)."""
    if isinstance(p, mh.Categorical):
        return {"name": name, "type": "choice", "values": list(p.choices), "is_ordered": False, "sort_values": False}
    if isinstance(p, mh.Int):
        return {"name": name, "type": "range", "bounds": [int(p.low), int(p.high)], "value_type": "int", "log_scale": bool(p.log)}
    return {"name": name, "type": "range", "bounds": [float(p.low), float(p.high)], "value_type": "float", "log_scale": bool(p.log)}


def _run_ax(problem: SuiteProblem, seed: int, ev: _Evaluator) -> list[dict[str, Any]]:
    import logging

    from ax.service.ax_client import AxClient, ObjectiveProperties

    logging.getLogger("ax").setLevel(logging.WARNING)
    client = AxClient(random_seed=seed, verbose_logging=False)
    client.create_experiment(
        parameters=[_ax_parameter(n, p) for n, p in problem.space.params.items()],
        objectives={f"f{j}": ObjectiveProperties(minimize=True, threshold=float(r)) for j, r in enumerate(problem.ref)},
        outcome_constraints=[f"g{j} <= 0.0" for j in range(problem.n_constraints)],
        is_test=True,
    )
    configs: dict[int, dict[str, Any]] = {}
    sem = None if ev.noisy else 0.0
    for _ in range(problem.budget):
        parameters, index = client.get_next_trial()
        # Ax has no conditional parameters: it proposes every one, and the inactive ones are dropped
        config = {k: v for k, v in parameters.items() if problem.space.is_active(k, parameters)}
        configs[index] = config
        F, G = ev(config)
        data = {f"f{j}": (float(v), sem) for j, v in enumerate(F)}
        data.update({f"g{j}": (float(v), 0.0) for j, v in enumerate(G)})
        client.complete_trial(trial_index=index, raw_data=data)
    front = client.get_pareto_optimal_parameters(use_model_predictions=ev.noisy)
    return [configs[i] for i in front]


def run_one(problem: SuiteProblem, method: str, seed: int, noisy: bool) -> dict[str, Any]:
    """Run one method once and return its record (true HV of the reported front, time per evaluation)."""
    import torch

    torch.manual_seed(seed)
    ev = _Evaluator(problem, noisy, seed)
    t0 = time.perf_counter()
    if method in ("optuna-gp", "optuna-tpe"):
        front = _run_optuna(problem, method, seed, ev)
    elif method == "ax":
        front = _run_ax(problem, seed, ev)
    else:
        front = _run_moo_hpo(problem, method, seed, ev)
    wall = time.perf_counter() - t0
    evaluated = list(ev.true)
    reported = [problem.evaluate(c) for c in front]
    by_model = getattr(ev, "model_front", None)
    return {
        "problem": problem.name, "method": method, "seed": seed, "noisy": noisy, "budget": problem.budget,
        "evaluations": len(evaluated),
        "hv_reported": _true_hv(problem, reported),
        "hv_evaluated": _true_hv(problem, evaluated),
        "front_size": len(front),
        "hv_model_front": None if by_model is None else _true_hv(problem, [problem.evaluate(c) for c in by_model]),
        "seconds_per_evaluation": (wall - ev.seconds) / max(len(evaluated), 1),
        "noise_modes": getattr(ev, "noise_modes", None),
        "points": [[*map(float, f), *map(float, g)] for f, g in evaluated] if len(evaluated) <= 200 else None,
    }


def _path(out: Path, problem: str, method: str, seed: int, noisy: bool, budget: int | None = None) -> Path:
    """A run's file; a run with a budget other than its problem's says so in its name (and is not summarized)."""
    tag = f"-budget{budget}" if budget is not None else ""
    return out / f"{problem}{'-noisy' if noisy else ''}{tag}__{method}__{seed}.json"


def best_known(problem: SuiteProblem, records: list[dict[str, Any]], out: Path) -> float:
    """The best known HV: the known maximum, else the best of a long NSGA-II run (cached) and the records."""
    if problem.max_hv is not None:
        return problem.max_hv
    cache = out / f"_best_{problem.name}.json"
    if cache.exists():
        hv = json.loads(cache.read_text())["hv"]
    else:
        hv = _long_nsga2_hv(problem)
        cache.write_text(json.dumps({"hv": hv, "how": "pymoo NSGA-II, population 100, 300 generations, seed 0"}))
    return max([hv] + [r["hv_evaluated"] for r in records] + [r["hv_reported"] for r in records])


def _long_nsga2_hv(problem: SuiteProblem) -> float:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.optimize import minimize

    lows = np.array([p.low for p in problem.space.params.values()], float)
    highs = np.array([p.high for p in problem.space.params.values()], float)
    names = problem.space.names

    class Wrapped(PymooProblem):
        def __init__(self) -> None:
            super().__init__(n_var=len(names), n_obj=problem.n_objectives, n_ieq_constr=problem.n_constraints,
                             xl=lows, xu=highs)

        def _evaluate(self, X: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            res = [problem.evaluate(dict(zip(names, x))) for x in X]
            out["F"] = np.array([r[0] for r in res])
            if problem.n_constraints:
                out["G"] = np.array([r[1] for r in res])

    res = minimize(Wrapped(), NSGA2(pop_size=100), ("n_gen", 300), seed=0, verbose=False, save_history=False)
    pts = [(f, np.zeros(0)) for f in np.atleast_2d(res.F)] if res.F is not None else []
    return _true_hv(problem, pts)


LABELS = {"auto": "`auto`", "ehvi": "`ehvi`", "optuna-gp": "Optuna `GPSampler`", "optuna-tpe": "Optuna TPE (default)",
          "sobol": "Sobol", "ax": "Ax (default)"}


def summarize(out: Path) -> str:
    """The markdown tables of the runs in ``out``: true HV of the reported front over the best known HV,
    median [min, max] over seeds (seeds in the header), and the seconds per evaluation of the model-based
    methods (everything but the objective, median over their runs)."""
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*__*__*.json")) if "-budget" not in p.name.split("__")[0]]
    by_problem: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for r in records:
        by_problem.setdefault((r["problem"], r["noisy"]), []).append(r)
    methods = [m for m in METHODS + EXTRA_METHODS if any(r["method"] == m for r in records)]
    timed = [m for m in methods if m in ("ehvi", "optuna-gp", "ax")]
    tables = []
    for noisy in (False, True):
        keys = sorted((k for k in by_problem if k[1] == noisy), key=lambda k: list(SUITE).index(k[0]))
        if not keys:
            continue
        # on noisy variants, moo_hpo's model_front() beside the reported front where they differ (runs from
        # before pareto_front() judged noisy metrics by the model)
        columns = [(m, "hv_reported") for m in methods]
        if noisy and any(r["noisy"] and r["method"] == "ehvi" and r.get("hv_model_front") not in (None, r["hv_reported"])
                         for r in records):
            columns.insert(2, ("ehvi", "hv_model_front"))
        head = "| problem" + (" (noisy)" if noisy else "") + " | " + " | ".join(
            LABELS.get(m, f"`{m}`") + (", `model_front()`" if key == "hv_model_front" else "") for m, key in columns)
        head += " | s / evaluation (" + ", ".join(LABELS.get(m, m) for m in timed) + ") |"
        lines = [head, "|---|" + "---|" * (len(columns) + 1)]
        for name, _ in keys:
            rows = by_problem[(name, noisy)]
            best = best_known(get(name), [r for (n, _), rs in by_problem.items() if n == name for r in rs], out)
            cells = []
            for m, key in columns:
                vals = [r[key] / best for r in rows if r["method"] == m and r.get(key) is not None]
                cells.append(f"{np.median(vals):.3f} [{min(vals):.3f}, {max(vals):.3f}]" if vals else "-")
            secs = []
            for m in timed:
                ts = [r["seconds_per_evaluation"] for r in rows if r["method"] == m]
                secs.append(f"{np.median(ts):.2f}" if ts else "-")
            lines.append(f"| {name} | " + " | ".join(cells) + " | " + " / ".join(secs) + " |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(SUITE))
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--noisy", action="store_true", help="the noisy variants (default: exact)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--budget", type=int, default=None, help="evaluations per run (default: each problem's)")
    parser.add_argument("--summarize", action="store_true", help="only print the table of the runs in --out")
    args = parser.parse_args(argv)
    known = METHODS + EXTRA_METHODS
    if [m for m in args.methods if m not in known]:
        parser.error(f"unknown method(s) {[m for m in args.methods if m not in known]}; expected some of {known}")
    if args.budget is not None and args.budget < 1:
        parser.error(f"--budget must be at least 1 evaluation; received {args.budget}")
    import torch

    torch.set_num_threads(1)
    if args.summarize and not any(args.out.glob("*__*__*.json")):
        parser.error(f"no runs in {str(args.out)!r} to summarize: the commands without --summarize write one file per "
                     "run there (the shipped benchmarks/results/defaults_suite_*.json is a compact record of them, "
                     "not a folder of runs)")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.summarize:
        for name in args.problems:
            problem = get(name)
            budget = args.budget if args.budget is not None and args.budget != problem.budget else None
            problem.budget = budget or problem.budget
            for method in args.methods:
                for seed in args.seeds:
                    path = _path(args.out, name, method, seed, args.noisy, budget)
                    if path.exists():
                        continue
                    record = run_one(problem, method, seed, args.noisy)
                    path.write_text(json.dumps(record))
                    print(f"{name}{' noisy' if args.noisy else ''} {method} seed {seed}: HV {record['hv_reported']:.4g} "
                          f"({record['seconds_per_evaluation']:.2f} s per evaluation)", flush=True)
    if args.budget is not None and not args.summarize:
        print("(runs with a --budget other than the problem's are saved as <problem>-budget<N>__... and left out of "
              "the table below, which compares runs at the problems' own budgets)")
    print(summarize(args.out))


if __name__ == "__main__":
    main()
