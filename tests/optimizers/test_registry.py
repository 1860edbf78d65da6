from __future__ import annotations

import pytest

import moo_hpo as mh
from moo_hpo.optimizers import choose_auto, make_optimizer
from moo_hpo.problem import Problem


def problem(m: int, budget: int | None) -> Problem:
    space = mh.Space({"x": mh.Float(0, 1)})
    return Problem(space, tuple(mh.Minimize(f"f{i}") for i in range(m)), budget=budget)


@pytest.mark.parametrize(
    ("m", "budget", "expected"),
    [(2, None, "nsga2"), (3, 1000, "nsga3"), (4, None, "nsga3"), (2, 1000, "nsga2"), (1, 50, "cei"), (2, 60, "ehvi"),
     (4, 300, "ehvi"), (5, 100, "parego"), (1, None, "nsga2")],
)
def test_auto_rule(m, budget, expected):
    name, reason = choose_auto(problem(m, budget))
    assert name == expected and reason
    make_optimizer(name).capabilities.check(name, problem(m, budget))  # the choice can handle the problem


def test_study_logs_the_auto_choice_with_the_budget():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=3, show_progress=False)
    assert study.optimizer.name == "ehvi" and "budget of 3 trials" in study.optimizer_reason
    unknown = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], seed=0)
    unknown.ask()
    assert unknown.optimizer.name == "nsga2"


def test_optimizer_classes_are_exported_with_their_options():
    classes = {"NSGA2": "nsga2", "NSGA3": "nsga3", "SPEA2": "spea2", "EHVI": "ehvi", "ParEGO": "parego",
               "ConstrainedEI": "cei", "RandomSearch": "random", "SobolSearch": "sobol"}
    for cls_name, name in classes.items():
        assert cls_name in mh.optimizers.__all__
        assert getattr(mh.optimizers, cls_name)().name == name
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")],
                     optimizer=mh.optimizers.NSGA2(pop_size=8), seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=16, show_progress=False)
    assert study.optimizer.pop_size == 8 and study.optimizer_info["params"]["pop_size"] == 8


def test_unknown_or_bad_options_are_config_errors():
    with pytest.raises(mh.ConfigError, match=r"takes the options \['pop_size', 'n_offsprings'\]; received unknown \['popsize'\]"):
        make_optimizer("nsga2", {"popsize": 24})
