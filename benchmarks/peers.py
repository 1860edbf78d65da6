"""Peer optimizers behind the benchmark runner: pymoo called directly, Optuna's samplers and Ax.

Each adapter evaluates the same problem one point at a time through the runner's recorder, so
hypervolume traces and the optimizer-only wall time are measured the same way for every library.
Install the peers with ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.problems import BenchmarkProblem
from moo_hpo.optimizers.evolutionary import default_pop_size, reference_directions

__all__ = ["PEERS"]


def _pymoo(kind: str) -> Callable[..., None]:
    def run(problem: BenchmarkProblem, params: dict[str, Any], budget: int, seed: int, rec: Any) -> None:
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem
        from pymoo.core.termination import NoTermination
        from pymoo.problems.static import StaticProblem

        pop_size = int(params.get("pop_size", default_pop_size(budget)))
        k = max(problem.n_constraints, 1)
        pm = Problem(n_var=problem.dim, n_obj=problem.n_objectives, n_ieq_constr=k, xl=problem.bounds[0], xu=problem.bounds[1])
        if kind == "nsga2":
            from pymoo.algorithms.moo.nsga2 import NSGA2

            alg = NSGA2(pop_size=pop_size)
        else:
            from pymoo.algorithms.moo.nsga3 import NSGA3

            alg = NSGA3(ref_dirs=reference_directions(problem.n_objectives, pop_size, seed=seed), pop_size=pop_size)
        alg.setup(pm, termination=NoTermination(), seed=seed, verbose=False)
        done = 0
        while done < budget:
            pop = alg.ask()
            X = pop.get("X")
            F = np.empty((len(X), problem.n_objectives))
            G = np.zeros((len(X), k))
            for i, x in enumerate(X):
                f, g = rec.evaluate(x)
                F[i] = f
                G[i, : len(g)] = g
                if done < budget:
                    rec.record(f, g)
                    done += 1
            Evaluator().eval(StaticProblem(pm, F=F, G=G), pop)
            alg.tell(infills=pop)

    return run


def _optuna(kind: str) -> Callable[..., None]:
    def run(problem: BenchmarkProblem, params: dict[str, Any], budget: int, seed: int, rec: Any) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        constraints = (lambda t: t.user_attrs["g"]) if problem.n_constraints else None
        if kind == "nsga2":
            pop_size = int(params.get("pop_size", default_pop_size(budget)))
            sampler = optuna.samplers.NSGAIISampler(population_size=pop_size, seed=seed, constraints_func=constraints)
        elif kind == "nsga3":
            pop_size = int(params.get("pop_size", default_pop_size(budget)))
            sampler = optuna.samplers.NSGAIIISampler(population_size=pop_size, seed=seed, constraints_func=constraints)
        elif kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed, constraints_func=constraints)
        study = optuna.create_study(directions=["minimize"] * problem.n_objectives, sampler=sampler)

        def objective(trial: Any) -> tuple[float, ...]:
            x = np.array([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(problem.bounds.T)])
            f, g = rec.evaluate(x)
            rec.record(f, g)
            trial.set_user_attr("g", [float(v) for v in g])
            return tuple(float(v) for v in f)

        study.optimize(objective, n_trials=budget)

    return run


def _ax(problem: BenchmarkProblem, params: dict[str, Any], budget: int, seed: int, rec: Any) -> None:
    """Ax 1.3's default generation strategy (Sobol, then its BoTorch multi-objective model), with the
    problem's reference point as objective thresholds and its constraints as outcome constraints."""
    import logging

    from ax.service.ax_client import AxClient, ObjectiveProperties

    logging.getLogger("ax").setLevel(logging.WARNING)
    client = AxClient(random_seed=seed, verbose_logging=False)
    objectives = {
        f"f{j}": ObjectiveProperties(minimize=True, threshold=float(r) if problem.n_objectives > 1 else None)
        for j, r in enumerate(problem.ref_point)
    }
    client.create_experiment(
        parameters=[{"name": f"x{i}", "type": "range", "bounds": [float(lo), float(hi)], "value_type": "float"}
                    for i, (lo, hi) in enumerate(problem.bounds.T)],
        objectives=objectives,
        outcome_constraints=[f"g{j} <= 0.0" for j in range(problem.n_constraints)],
        is_test=True,
    )
    for _ in range(budget):
        parameters, index = client.get_next_trial()
        x = np.array([parameters[f"x{i}"] for i in range(problem.dim)])
        f, g = rec.evaluate(x)
        rec.record(f, g)
        data = {f"f{j}": (float(v), 0.0) for j, v in enumerate(f)}
        data.update({f"g{j}": (float(v), 0.0) for j, v in enumerate(g)})
        client.complete_trial(trial_index=index, raw_data=data)


PEERS: dict[str, Callable[..., None]] = {
    "ax": _ax,
    "pymoo-nsga2": _pymoo("nsga2"),
    "pymoo-nsga3": _pymoo("nsga3"),
    "optuna-nsga2": _optuna("nsga2"),
    "optuna-nsga3": _optuna("nsga3"),
    "optuna-tpe": _optuna("tpe"),
    "optuna-gp": _optuna("gp"),
}
