"""The defaults suite (benchmarks/defaults_suite.py): its problems, noise and scoring, on tiny budgets."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import defaults_suite as ds


@pytest.mark.parametrize("name", sorted(ds.SUITE))
def test_every_problem_evaluates_a_valid_configuration_of_its_space(name: str) -> None:
    problem = ds.get(name)
    config = problem.space.sample(1, seed=0)[0]
    F, G = problem.evaluate(config)
    assert F.shape == (problem.n_objectives,) and G.shape == (problem.n_constraints,)
    assert np.isfinite(F).all() and np.isfinite(G).all()
    assert problem.max_hv is None or problem.max_hv > 0


def test_the_mixed_problems_front_needs_its_categorical_integer_and_conditional_parameter() -> None:
    problem = ds.get("mixed")
    best = {"x0": 0.25, "x1": 0.0, "x2": 0.0, "x3": 1e-4, "n": 5, "kind": "b"}
    F, _ = problem.evaluate(best)
    assert F[1] == pytest.approx(1.0 - np.sqrt(0.25), abs=1e-3)  # on ZDT1's front
    assert problem.evaluate({**best, "kind": "a"})[0][1] > F[1] + 0.3
    assert problem.evaluate({**best, "kind": "c", "shift": 0.3})[0][1] == pytest.approx(F[1])
    assert problem.evaluate({**best, "kind": "c", "shift": 0.9})[0][1] > F[1] + 0.3
    assert problem.evaluate({**best, "n": 12})[0][1] > F[1]


def test_table_problems_replay_the_recorded_rows() -> None:
    from benchmarks.sklearn_table import HGBTable

    table, problem = HGBTable.load(), ds.get("adult-hgb")
    row = table.metrics(17)
    F, G = problem.evaluate(table.config(17))
    assert F.tolist() == pytest.approx([1.0 - row["accuracy"], row["eo_diff"]])
    assert (G[0] <= 0) == (row["size_kb"] <= float(np.median([table.metrics(i)["size_kb"] for i in range(len(table))])))


def test_noisy_runs_are_scored_by_the_true_values_of_the_reported_front() -> None:
    problem = ds.get("tnk")
    problem.budget = 12
    exact = ds.run_one(problem, "sobol", 0, noisy=False)
    noisy = ds.run_one(problem, "sobol", 0, noisy=True)
    assert exact["evaluations"] == noisy["evaluations"] == 12
    # the same Sobol points: their true values, hence the HV of everything evaluated, agree
    assert noisy["hv_evaluated"] == pytest.approx(exact["hv_evaluated"])
    # exact: the reported front is the evaluated front; noisy: a subset judged by its true values
    assert exact["hv_reported"] == pytest.approx(exact["hv_evaluated"])
    assert noisy["hv_reported"] <= noisy["hv_evaluated"] + 1e-12
    again = ds.run_one(problem, "sobol", 0, noisy=True)
    assert again["hv_reported"] == noisy["hv_reported"]  # seeded noise


def test_a_run_on_the_mixed_space_evaluates_conditional_configurations_as_the_space_makes_them() -> None:
    problem = ds.get("mixed")
    problem.budget = 12
    record = ds.run_one(problem, "sobol", 0, noisy=False)
    assert record["evaluations"] == 12 and 0.0 <= record["hv_reported"] <= problem.max_hv
    configs = problem.space.sample(30, seed=0)
    assert all(("shift" in c) == (c["kind"] == "c") for c in configs)
