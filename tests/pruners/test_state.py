"""The study's side of pruning: a pruner's answers checked, in one process and from worker processes."""

from __future__ import annotations

import pytest

import moo_hpo as mh


class _Answers(mh.pruners.Pruner):
    """A user's pruner that answers ``answer`` to every report."""

    name = "answers"

    def __init__(self, answer=None) -> None:
        self.answer = answer

    def decide(self, number, step, metrics):
        if self.answer == "raise":
            return 1 / 0
        return self.answer


def _reporting(config, trial):
    trial.report(1, {"f": config["x"]})
    if trial.should_prune():
        raise mh.TrialPruned()
    return {"f": config["x"]}


def _study(answer) -> mh.Study:
    return mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("f")], optimizer="random", seed=0,
                    pruner=_Answers(answer))


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_pruners_answer_that_is_no_decision_fails_the_trial_naming_the_pruner(n_workers):
    study = _study(True)
    with pytest.raises(mh.MooHpoError, match="all failed the same way"):
        study.optimize(_reporting, n_trials=6, n_workers=n_workers, show_progress=False)
    assert "pruner 'answers': decide must return mh.pruners.Decision(prune, reason); received bool True" in study.trials[0].error


def test_a_pruners_own_error_keeps_its_type_from_a_worker():
    study = _study("raise")
    with pytest.raises(mh.MooHpoError, match="all failed the same way"):
        study.optimize(_reporting, n_trials=6, n_workers=2, show_progress=False)
    assert "ZeroDivisionError: division by zero" in study.trials[0].error


def test_a_stop_without_a_reason_is_a_pruned_trial_that_names_its_pruner():
    study = _study(mh.pruners.Decision(True))
    study.optimize(_reporting, n_trials=2, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.PRUNED] * 2
    assert study.trials[0].extra["pruned"] == "stopped by the pruner 'answers'" and study.pareto_front() == []


def test_a_pruner_that_keeps_no_attribute_of_an_argument_is_told_the_convention():
    class Patience(mh.pruners.Pruner):
        name = "patience"

        def __init__(self, patience: int = 3) -> None:
            self._patience = patience

        def decide(self, number, step, metrics):
            return mh.pruners.Decision(False)

    with pytest.raises(mh.ConfigError, match=r"pruner Patience: its constructor takes \['patience'\] but keeps no attribute"):
        mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("f")], pruner=Patience())
    assert repr(Patience()) == "Patience()"


def test_a_pruner_that_passes_its_options_on_keeps_them_through_a_reopening(tmp_path):
    class MyMOASHA(mh.pruners.MOASHA):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)

    pruner = MyMOASHA(min_resource=3, max_resource=81, reduction_factor=4)
    assert pruner.get_params() == {"min_resource": 3, "max_resource": 81, "reduction_factor": 4}
    with mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("f")], storage=tmp_path / "s.db", pruner=pruner) as s:
        s.tell(s.ask(), {"f": 0.5})
    with mh.Study.load(tmp_path / "s.db") as again:
        assert again.pruner.get_params() == {"min_resource": 3, "max_resource": 81, "reduction_factor": 4}
