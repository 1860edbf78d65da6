from __future__ import annotations

import numpy as np
import warnings

import pytest

import moo_hpo as mh
from moo_hpo import choice

FRONT = np.array([[0.0, 1.0], [0.1, 0.6], [0.3, 0.3], [0.6, 0.1], [1.0, 0.0]])


def test_knee_is_smallest_normalized_sum():
    i, reason = choice.knee_index(FRONT)
    assert i == 2 and reason.startswith("knee")


def test_best_breaks_ties_by_the_other_objectives():
    Y = np.array([[0.0, 1.0], [0.0, 0.5], [1.0, 0.0]])
    assert choice.best_index(Y, 0, "loss")[0] == 1


def test_asf_follows_weights():
    heavy_first = choice.asf_index(FRONT, [10.0, 1.0])[0]
    heavy_second = choice.asf_index(FRONT, [1.0, 10.0])[0]
    assert FRONT[heavy_first, 0] < FRONT[heavy_second, 0]
    assert FRONT[heavy_first, 1] > FRONT[heavy_second, 1]


def test_asf_in_metric_units_differs_from_normalized():
    Y = np.array([[0.0, 100.0], [0.5, 40.0], [1.0, 0.0]])  # second objective in larger units
    assert choice.asf_index(Y, [1.0, 1.0], normalized=True)[0] == 1
    assert choice.asf_index(Y, [1.0, 1.0], normalized=False)[0] == 2


def test_tchebycheff():
    assert choice.tchebycheff_index(FRONT, [1.0, 1.0])[0] == 2
    assert choice.tchebycheff_index(FRONT, [1.0, 0.0])[0] == 0


def test_bad_weights_and_empty_input():
    with pytest.raises(mh.ConfigError, match="non-negative weights"):
        choice.asf_index(FRONT, [1.0])
    with pytest.raises(mh.ConfigError, match="non-negative weights"):
        choice.asf_index(FRONT, [-1.0, 1.0])
    with pytest.raises(mh.ConfigError, match="empty"):
        choice.knee_index(np.empty((0, 2)))


def test_knee_says_when_there_is_none_to_find():
    _, reason = choice.knee_index(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert "none to find" in reason and "2 points" in reason
    _, reason = choice.knee_index(np.array([[0.0, 1.0], [0.7, 0.7], [1.0, 0.0]]))  # concave: bulges away
    assert "none below the plane" in reason and "concave" in reason
    _, reason = choice.knee_index(np.array([[0.0, 1.0], [0.2, 0.2], [1.0, 0.0]]))
    assert reason.startswith("knee: farthest") and "distance 0.424" in reason
    i, reason = choice.knee_index(np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.2, 0.2, 0.2]]))  # 3 points, 3 objectives
    assert i == 2 and reason.startswith("knee: farthest")
    # 3 objectives: the plane is where the normalized objectives sum to 1, not the one through the three extremes
    # (here the plane sum = 1.5, below which the fourth point lies)
    _, reason = choice.knee_index(np.array([[0, 0.5, 1], [1, 0, 0.5], [0.5, 1, 0], [0.45, 0.45, 0.45]]))
    assert "none below the plane where the normalized objectives sum to 1; this is" in reason  # no shape claimed


def _two_objective_study() -> mh.Study:
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": (1 - c["x"]) ** 2, "lat": 3 * c["x"]}, n_trials=6, show_progress=False)
    return study


def test_recommend_filters_name_metrics_the_trials_measured():
    study = _two_objective_study()
    with pytest.raises(mh.ConfigError, match="no trial measured 'latency'.*did you mean 'lat'"):
        study.recommend("knee", constraints=[mh.AtMost("latency", 2)])
    one = study.recommend("knee", constraints=mh.AtMost("lat", 1.5))  # one filter alone is accepted
    assert one.trial.metrics["lat"] <= 1.5


def test_recommend_weights_only_where_a_method_uses_them():
    study = _two_objective_study()
    with pytest.raises(mh.ConfigError, match="weights apply to the methods 'asf' and 'tchebycheff'"):
        study.recommend("knee", weights={"a": 1})
    for bad in ({"a": "2"}, {"a": -1.0}, [1.0], "a"):
        with pytest.raises(mh.ConfigError, match="weight"):
            study.recommend("asf", weights=bad)
    both = study.recommend("asf", weights={"a": 2.0, "b": 1})
    assert both.method == "asf" and "weighing 0" not in both.reason
    one = study.recommend("asf", weights={"a": 2.0})  # an objective left out weighs 0, and the reason says so
    assert one.reason.endswith("; b left out of the weights, so weighing 0")
    assert "weighing 0" not in study.recommend("tchebycheff", weights=[2.0, 0.0]).reason  # a list names every weight


def test_equal_front_points_count_once_for_the_knee():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    for metrics in ({"a": 0.2, "b": 0.5}, {"a": 0.2, "b": 0.5}, {"a": 0.9, "b": 0.9}):
        study.tell(study.ask(), metrics)
    knee = study.recommend("knee")
    assert knee.trial.number == 0 and "none to find, the front is this one point" in knee.reason  # not two "extremes"


def test_a_recommended_model_that_predicts_one_class_comes_with_a_caution():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0)
    groups = {0: [0.0, 0.0], 1: [0.3, 0.5]}  # #0: nobody selected in either group
    for trial, figures in zip(study.ask(2), [(0.76, 0.0), (0.85, 0.2)], strict=True):
        by_group = [{"sex": g, "count": 50, "selection_rate": r} for g, r in zip("FM", groups[trial.number], strict=True)]
        study.tell(trial, {"accuracy": figures[0], "eo_diff": figures[1]}, extra={"fairness": {"by_group": by_group}})
    fair = study.recommend("best", objective="eo_diff")
    assert fair.trial.number == 0 and fair.caution.startswith("this model predicts one class for everyone")
    assert fair.reason.endswith("CAUTION: this model predicts one class for everyone (its accuracy is the base rate "
                                "and its fairness gaps are 0 by construction)")
    accurate = study.recommend("best", objective="accuracy")
    assert accurate.trial.number == 1 and accurate.caution is None and "CAUTION" not in accurate.reason
    markdown = mh.report(study).to_markdown()  # the report says it once
    assert markdown.count("CAUTION: this model predicts one class for everyone") == 1


def test_a_filter_on_a_held_out_figure_is_warned_about():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], seed=0)
    for trial in study.ask(3):
        study.tell(trial, {"accuracy": trial.config["x"], "eo_diff": trial.config["x"] / 2, "holdout_eo_diff": 0.1})
    with pytest.warns(UserWarning, match=r"recommend filters on \['holdout_eo_diff'\], measured on the held-out split.*"
                                         r"filter on \['eo_diff'\]"):
        study.recommend("best", objective="accuracy", constraints=[mh.AtMost("holdout_eo_diff", 1.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study.recommend("best", objective="accuracy", constraints=[mh.AtMost("eo_diff", 1.0)])


def test_a_copied_recommendation_equals_its_original():
    import copy
    import pickle

    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"] ** 0.5}, n_trials=8, show_progress=False)
    chosen = study.recommend("knee")
    assert pickle.loads(pickle.dumps(chosen)) == chosen and copy.deepcopy(chosen) == chosen
    assert study.recommend("best", objective="a") != chosen  # another method: another recommendation
