"""Optuna's names on a trial or a study say what moo_hpo calls the same thing."""

from __future__ import annotations

import pickle

import pytest

import moo_hpo as mh


def _study() -> mh.Study:
    return mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], optimizer="random", seed=0)


def test_a_trial_asked_to_suggest_says_the_space_is_declared_up_front():
    # a plain "'Trial' object has no attribute 'suggest_float'", recorded as a failed trial, was all an Optuna user got
    study = _study()
    study.optimize(lambda c, trial: {"f": trial.suggest_float("lr", 1e-4, 1e-1)}, n_trials=1, show_progress=False)
    (trial,) = study.trials
    assert trial.status is mh.TrialStatus.FAILED
    assert ("AttributeError: 'Trial' object has no attribute 'suggest_float' (that is Optuna's; in moo_hpo trials do "
            "not suggest values: declare each parameter in the study's mh.Space") in trial.error


@pytest.mark.parametrize(("owner", "name", "way"), [
    ("trial", "params", "the configuration is trial.config"),
    ("trial", "values", "the measured metrics are trial.metrics, by name"),
    ("study", "best_trials", "the trade-offs are study.pareto_front()"),
    ("study", "trials_dataframe", "study.to_dataframe()"),
])
def test_optunas_names_point_to_moo_hpos(owner, name, way):
    study = _study()
    study.optimize(lambda c: {"f": c["x"]}, n_trials=1, show_progress=False)
    target = study.trials[0] if owner == "trial" else study
    with pytest.raises(AttributeError, match=r"has no attribute '%s' \(that is Optuna's; in moo_hpo " % name) as info:
        getattr(target, name)
    assert way in str(info.value) and info.value.name == name


def test_other_missing_names_and_a_propertys_own_error_are_as_python_says_them():
    study = _study()
    with pytest.raises(AttributeError, match=r"^'Study' object has no attribute 'fronts'$"):
        study.fronts  # noqa: B018
    assert getattr(study, "_not_set", "default") == "default"  # getattr with a default still works

    class Broken(mh.Study):
        @property
        def broken(self):
            return self.nothing_here.x

    with pytest.raises(AttributeError, match="nothing_here"):  # the property's own error, not "no attribute 'broken'"
        Broken(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], seed=0).broken
    trial = study.ask()
    assert pickle.loads(pickle.dumps(trial)).number == trial.number
