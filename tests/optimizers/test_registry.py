from __future__ import annotations

import re

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


def test_a_constructor_refuses_unknown_options_under_its_own_name():
    # Python's own TypeError named a private base class: "_PymooOptimizer.__init__() got an unexpected ..."
    with pytest.raises(mh.ConfigError, match=r"^NSGA2 takes the options \['pop_size', 'n_offsprings'\]; received unknown \['pop'\] \('pop_size' for 'pop'\?\)$"):
        mh.optimizers.NSGA2(pop=10)
    with pytest.raises(mh.ConfigError, match=r"^EHVI takes the options \['n_init', .*received unknown \['n_int'\] \('n_init' for 'n_int'\?\)"):
        mh.optimizers.EHVI(n_int=3)
    with pytest.raises(mh.ConfigError, match=r"RandomSearch takes the options \[\]; received unknown \['seed'\] \(the study's seed drives"):
        mh.optimizers.RandomSearch(seed=1)


@pytest.mark.parametrize("optimizer, message", [
    (lambda: mh.optimizers.EHVI(n_init=0), "ehvi: n_init must be a positive integer or None; received 0"),
    (lambda: mh.optimizers.EHVI(trend="cubic"), "ehvi: trend must be one of 'constant', 'quadratic'; received 'cubic'"),
    (lambda: mh.optimizers.ParEGO(time_share=2), "parego: time_share must be a number between 0 and 1"),
    (lambda: mh.optimizers.NSGA2(pop_size=1), "nsga2: pop_size must be 'auto' or an integer >= 2; received 1"),
    (lambda: mh.optimizers.SPEA2(n_offsprings=True), "spea2: n_offsprings must be a positive integer or None; received True"),
    (lambda: mh.optimizers.SobolSearch(scramble="x"), "sobol: scramble must be True or False; received 'x'"),
])
def test_a_bad_option_is_refused_when_the_study_is_made_not_at_its_first_trial(optimizer, message):
    with pytest.raises(mh.ConfigError, match=re.escape(message)):
        mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer=optimizer(), seed=0)
