from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as fm
from sklearn.linear_model import LogisticRegression

import moo_hpo as mh
from moo_hpo.objectives.fairness import FAIRNESS_METRICS


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 600
    X = rng.normal(size=(n, 4))
    sex = rng.choice(["F", "M"], size=n)
    race = rng.choice(["a", "b", "c"], size=n)
    y = ((X[:, 0] + 0.8 * (sex == "M") + rng.normal(scale=0.5, size=n)) > 0.4).astype(int)
    model = LogisticRegression().fit(np.c_[X, sex == "M"], y)
    return np.c_[X, sex == "M"], y, sex, race, model


def test_values_equal_fairlearn_on_the_same_predictions(data):
    X, y, sex, _race, model = data
    probe = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=FAIRNESS_METRICS, threshold=0.4)
    got = probe.measure(model)
    pred = (model.predict_proba(X)[:, 1] >= 0.4).astype(int)
    expected = {
        "dp_diff": fm.demographic_parity_difference(y, pred, sensitive_features=sex),
        "dp_ratio": fm.demographic_parity_ratio(y, pred, sensitive_features=sex),
        "eo_diff": fm.equalized_odds_difference(y, pred, sensitive_features=sex),
        "eo_ratio": fm.equalized_odds_ratio(y, pred, sensitive_features=sex),
        "eop_diff": fm.equal_opportunity_difference(y, pred, sensitive_features=sex),
        "tpr_diff": fm.true_positive_rate_difference(y, pred, sensitive_features=sex),
        "fpr_diff": fm.false_positive_rate_difference(y, pred, sensitive_features=sex),
    }
    assert dict(got) == pytest.approx(expected)
    assert got["eo_diff"] > 0.05  # the synthetic data is unfair by construction


def test_per_group_table(data):
    X, y, sex, _race, model = data
    m = mh.objectives.FairnessGap(X, y, sensitive=sex).measure(model)
    table = m.extra["fairness"]["by_group"]
    assert {row["sensitive_feature_0"] for row in table} == {"F", "M"}
    assert m.extra["fairness"]["gaps"] == m.metrics  # what its tables are of (the audit matches a gap by them)
    assert sum(row["count"] for row in table) == len(y)
    pred = model.predict(X)
    female = sex == "F"
    row = next(r for r in table if r["sensitive_feature_0"] == "F")
    assert row["selection_rate"] == pytest.approx(pred[female].mean())
    assert row["tpr"] == pytest.approx(pred[female & (y == 1)].mean())
    assert row["fpr"] == pytest.approx(pred[female & (y == 0)].mean())


def test_several_sensitive_features_intersect(data):
    X, y, sex, race, model = data
    sens = pd.DataFrame({"sex": sex, "race": race})
    m = mh.objectives.FairnessGap(X, y, sensitive=sens, metrics=["dp_diff"]).measure(model)
    assert len(m.extra["fairness"]["by_group"]) == 6
    assert m["dp_diff"] == pytest.approx(fm.demographic_parity_difference(y, model.predict(X), sensitive_features=sens))


def test_a_combination_of_sensitive_features_nobody_has_is_left_out(data):
    # a small validation split rarely has every combination: fairlearn's table holds NaN counts for the empty ones,
    # and every trial failed ("cannot convert float NaN to integer")
    X, y, sex, race, model = data
    race = np.where((sex == "F") & (race == "c"), "a", race)  # nobody is F and c
    sens = pd.DataFrame({"sex": pd.Categorical(sex), "race": pd.Categorical(race)})
    m = mh.objectives.FairnessGap(X, y, sensitive=sens, metrics=["eo_diff", "dp_diff"]).measure(model)
    groups = m.extra["fairness"]["by_group"]
    assert len(groups) == 5 and all(g["count"] > 0 for g in groups)
    y_pred = model.predict(X)
    assert m["eo_diff"] == pytest.approx(fm.equalized_odds_difference(y, y_pred, sensitive_features=sens))
    assert m["dp_diff"] == pytest.approx(fm.demographic_parity_difference(y, y_pred, sensitive_features=sens))


def test_model_threshold_wins(data):
    X, y, sex, _race, model = data
    model.moo_hpo_threshold = 0.9
    try:
        m = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=["dp_diff"], threshold=0.1).measure(model)
        pred = (model.predict_proba(X)[:, 1] >= 0.9).astype(int)
        assert m["dp_diff"] == pytest.approx(fm.demographic_parity_difference(y, pred, sensitive_features=sex))
    finally:
        del model.moo_hpo_threshold


def test_errors(data):
    X, y, sex, _race, _model = data
    with pytest.raises(mh.ConfigError, match="expected sensitive with 600 rows"):
        mh.objectives.FairnessGap(X, y, sensitive=sex[:10])
    with pytest.raises(mh.ConfigError, match="FairnessGap: sensitive must give each row of X its group.*received None"):
        mh.objectives.FairnessGap(X, y, sensitive=None)
    with pytest.raises(mh.ConfigError, match="unknown fairness metric"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=["bias"])
    with pytest.raises(mh.ProbeError, match="fairness probe failed"):
        mh.objectives.FairnessGap(X, y, sensitive=sex).measure(LogisticRegression())  # not fitted


def test_a_held_out_split_is_measured_beside_validation(data):
    X, y, sex, _race, model = data
    X_val, y_val, sex_val, X_test, y_test, sex_test = X[:300], y[:300], sex[:300], X[300:], y[300:], sex[300:]
    probe = mh.objectives.FairnessGap(X_val, y_val, sensitive=sex_val, metrics=["eo_diff", "dp_diff"], holdout=(X_test, y_test, sex_test))
    assert probe.metrics == ("eo_diff", "dp_diff", "holdout_eo_diff", "holdout_dp_diff")
    m = probe.measure(model)
    assert set(m) == set(probe.metrics)
    pred_val, pred_test = model.predict(X_val), model.predict(X_test)
    assert m["eo_diff"] == pytest.approx(fm.equalized_odds_difference(y_val, pred_val, sensitive_features=sex_val))
    assert m["holdout_eo_diff"] == pytest.approx(fm.equalized_odds_difference(y_test, pred_test, sensitive_features=sex_test))
    assert m["holdout_dp_diff"] == pytest.approx(fm.demographic_parity_difference(y_test, pred_test, sensitive_features=sex_test))
    assert m["holdout_eo_diff"] != m["eo_diff"]
    fairness = m.extra["fairness"]
    assert sum(g["count"] for g in fairness["by_group"]) == 300 and sum(g["count"] for g in fairness["holdout_by_group"]) == 300
    # without holdout=, nothing held-out is measured
    assert mh.objectives.FairnessGap(X_val, y_val, sensitive=sex_val).metrics == ("eo_diff",)


def test_a_malformed_held_out_split_is_a_config_error(data):
    X, y, sex, _race, _model = data
    with pytest.raises(mh.ConfigError, match=r"FairnessGap: expected holdout=\(X_test, y_test, sensitive_test\); received a tuple of 2 items"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, holdout=(X, y))
    with pytest.raises(mh.ConfigError, match="FairnessGap holdout: expected sensitive with 600 rows"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, holdout=(X, y, sex[:10]))
    with pytest.raises(mh.ConfigError, match="binary held-out labels"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, holdout=(X, np.arange(600) % 3, sex))


def test_a_single_group_is_refused(data):
    X, y, sex, _, model = data
    with pytest.raises(mh.ConfigError, match=r"sensitive column\(s\) hold a single group \(\['F'\]\)"):
        mh.objectives.FairnessGap(X, y, np.full(len(y), "F"))
    with pytest.raises(mh.ConfigError, match="single group"):
        mh.objectives.FairnessGap(X, y, pd.DataFrame({"sex": "F", "race": "a"}, index=range(len(y))))
    with pytest.raises(mh.ConfigError, match="the held-out sensitive"):
        mh.objectives.FairnessGap(X, y, sex, holdout=(X, y, np.full(len(y), "M")))
    assert mh.objectives.FairnessGap(X, y, pd.Series(sex)).measure(model)["eo_diff"] >= 0


def test_labels_other_than_0_1_are_mapped_to_the_models_classes(data):
    X, y, sex, _race, _model = data
    plus_minus, text = np.where(y == 1, 1, -1), np.where(y == 1, ">50K", "<=50K")
    for labels, pos_label in ((plus_minus, None), (text, ">50K")):
        model = LogisticRegression().fit(X, labels)
        accuracy = mh.objectives.Accuracy(X, labels, threshold=0.5).measure(model)["accuracy"]
        assert accuracy == pytest.approx((model.predict(X) == labels).mean())  # thresholded labels are the model's own
        got = mh.objectives.FairnessGap(X, labels, sensitive=sex, metrics=["tpr_diff", "dp_diff"], threshold=0.3, pos_label=pos_label).measure(model)
        pred = (model.predict_proba(X)[:, 1] >= 0.3).astype(int)
        assert got["tpr_diff"] == pytest.approx(fm.true_positive_rate_difference(y, pred, sensitive_features=sex))
        assert got["dp_diff"] == pytest.approx(fm.demographic_parity_difference(y, pred, sensitive_features=sex))
    with pytest.raises(mh.ConfigError, match=r"the labels are \['<=50K', '>50K'\]; give pos_label= .* such as pos_label='>50K'"):
        mh.objectives.FairnessGap(X, text, sensitive=sex)
    with pytest.raises(mh.ConfigError, match=r"pos_label 'yes' is not among the labels"):
        mh.objectives.FairnessGap(X, text, sensitive=sex, pos_label="yes")


def test_the_threshold_is_on_the_probability_of_pos_label_when_it_is_the_first_class(data):
    # "repaid" sorts after "default": the model's score is P(repaid) = 1 - P(default)
    X, y, sex, _race, _model = data
    labels = np.where(y == 1, "default", "repaid")
    model = LogisticRegression().fit(X, labels)
    p_default = model.predict_proba(X)[:, list(model.classes_).index("default")]
    assert list(model.classes_) == ["default", "repaid"]
    for threshold in (0.2, 0.9):  # before, a higher threshold selected more "default" (it applied to P(repaid))
        got = mh.objectives.FairnessGap(X, labels, sensitive=sex, metrics=["dp_diff", "tpr_diff"], pos_label="default",
                                        threshold=threshold).measure(model)
        pred = (p_default >= threshold).astype(int)
        positive = (labels == "default").astype(int)
        assert got["dp_diff"] == pytest.approx(fm.demographic_parity_difference(positive, pred, sensitive_features=sex))
        assert got["tpr_diff"] == pytest.approx(fm.true_positive_rate_difference(positive, pred, sensitive_features=sex))
        rates = {r["sensitive_feature_0"]: r["selection_rate"] for r in got.extra["fairness"]["by_group"]}
        assert rates["F"] == pytest.approx(pred[sex == "F"].mean())
    zero_one = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=["dp_diff"], pos_label=0, threshold=0.8).measure(model.fit(X, y))
    pred = (model.predict_proba(X)[:, 0] >= 0.8).astype(int)
    assert zero_one["dp_diff"] == pytest.approx(fm.demographic_parity_difference(1 - y, pred, sensitive_features=sex))


def test_a_sparse_X_is_measured(data):
    import scipy.sparse as sp

    X, y, sex, _race, model = data
    got = mh.objectives.FairnessGap(sp.csr_matrix(X), y, sensitive=sex, threshold=0.4).measure(model)
    assert got["eo_diff"] == pytest.approx(mh.objectives.FairnessGap(X, y, sensitive=sex, threshold=0.4).measure(model)["eo_diff"])
    with pytest.raises(mh.ConfigError, match="expected sensitive with 600 rows"):
        mh.objectives.FairnessGap(sp.csr_matrix(X), y, sensitive=sex[:-1])


def test_the_sensitive_feature_may_be_named_as_a_column_of_X(data):
    X, y, sex, race, model = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "male"]).assign(sex=sex, race=race)
    model = LogisticRegression().fit(frame[["a", "b", "c", "d", "male"]], y)

    class OnFeatures:  # the model sees the numeric columns only
        classes_ = model.classes_

        def predict(self, X):
            return model.predict(X[["a", "b", "c", "d", "male"]])

    by_name = mh.objectives.FairnessGap(frame, y, sensitive="sex", metrics=["eo_diff"]).measure(OnFeatures())
    assert by_name["eo_diff"] == pytest.approx(mh.objectives.FairnessGap(frame, y, sensitive=sex).measure(OnFeatures())["eo_diff"])
    both = mh.objectives.FairnessGap(frame, y, sensitive=["sex", "race"]).measure(OnFeatures())
    assert len(both.extra["fairness"]["by_group"]) == 6
    with pytest.raises(mh.ConfigError, match=r"no column \['gender'\] in X; its columns are \['a', 'b'"):
        mh.objectives.FairnessGap(frame, y, sensitive="gender")
    with pytest.raises(mh.ConfigError, match="names columns, which needs X to be a DataFrame; received ndarray"):
        mh.objectives.FairnessGap(X, y, sensitive="sex")
    # each row's group as a list, one short: a length error, not 599 "missing columns"
    with pytest.raises(mh.ConfigError, match=r"expected sensitive with 600 rows \(like X\), or the names of its columns; "
                                             r"received a list of 599 values$"):
        mh.objectives.FairnessGap(frame, y, sensitive=list(sex[:-1]))


def test_missing_values_and_one_class_labels_are_refused(data):
    X, y, sex, _race, _model = data
    holes = sex.astype(object)
    holes[[3, 7]] = None
    with pytest.raises(mh.ConfigError, match=r"sensitive column\(s\) have missing values in 2 row\(s\)"):
        mh.objectives.FairnessGap(X, y, sensitive=holes)
    with pytest.raises(mh.ConfigError, match=r"the labels have 1 missing value\(s\)"):
        mh.objectives.FairnessGap(X, np.r_[y[:-1], np.nan], sensitive=sex)
    with pytest.raises(mh.ConfigError, match=r"expects binary labels with both classes present; received 1 class\(es\) \[0\]"):
        mh.objectives.FairnessGap(X, np.zeros_like(y), sensitive=sex)


def test_a_group_without_positives_is_logged_and_its_tpr_left_undefined(data, caplog):
    X, y, sex, _race, model = data
    groups = np.where(sex == "F", "F", "M").astype(object)
    negatives = np.flatnonzero(y == 0)
    groups[negatives[:3]] = "X"  # three people, none of them positive
    groups[np.flatnonzero(y == 1)[:4]] = "Y"  # four positives only: few
    with caplog.at_level("WARNING", logger="moo_hpo"):
        probe = mh.objectives.FairnessGap(X, y, sensitive=groups, metrics=["tpr_diff"])
    text = caplog.text
    assert "group(s) ['X'] have no positive label in the validation data: their TPR is undefined" in text
    assert "group(s) ['X (3)', 'Y (4)'] have fewer than 10 negative" not in text  # X has 3 negatives, Y none
    assert "group(s) ['X (3)'] have fewer than 10 negative labels" in text and "['Y'] have no negative label" in text
    assert "group(s) ['Y (4)'] have fewer than 10 positive labels" in text
    table = {r["sensitive_feature_0"]: r for r in probe.measure(model).extra["fairness"]["by_group"]}
    assert table["X"]["tpr"] is None and table["X"]["positives"] == 0 and table["X"]["negatives"] == 3
    assert table["Y"]["fpr"] is None and table["Y"]["tpr"] is not None and table["Y"]["positives"] == 4
    assert sum(r["positives"] for r in table.values()) == int(y.sum())


def test_a_list_of_group_values_and_a_held_out_column_name(data):
    X, y, sex, _race, model = data
    as_list = mh.objectives.FairnessGap(X, y, sensitive=list(sex)).measure(model)  # each row's group, not column names
    assert as_list["eo_diff"] == pytest.approx(mh.objectives.FairnessGap(X, y, sensitive=sex).measure(model)["eo_diff"])
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "male"]).assign(sex=sex)
    fitted = LogisticRegression().fit(frame[["a", "b", "c", "d", "male"]], y)

    class OnFeatures:
        classes_ = fitted.classes_

        def predict(self, X):
            return fitted.predict(X[["a", "b", "c", "d", "male"]])

    held = mh.objectives.FairnessGap(frame[:300], y[:300], sensitive="sex", holdout=(frame[300:], y[300:], "sex")).measure(OnFeatures())
    assert held["holdout_eo_diff"] == pytest.approx(
        mh.objectives.FairnessGap(frame[300:], y[300:], sensitive="sex").measure(OnFeatures())["eo_diff"])
    # sensitive named as a column: the held-out pair's X has that column too (a pair was refused as malformed)
    pair = mh.objectives.FairnessGap(frame[:300], y[:300], sensitive="sex", holdout=(frame[300:], y[300:])).measure(OnFeatures())
    assert pair["holdout_eo_diff"] == pytest.approx(held["holdout_eo_diff"])
    with pytest.raises(mh.ConfigError, match="holdout"):  # groups given as values: the held-out ones are needed
        mh.objectives.FairnessGap(X[:300], y[:300], sensitive=sex[:300], holdout=(X[300:], y[300:]))


def test_predictions_outside_the_labels_and_labels_of_mixed_types_are_named(data):
    X, y, sex, _race, _model = data
    text = np.where(y == 1, ">50K", "<=50K")

    class ClassIndices:  # a model that predicts 0/1 beside text labels: every gap would read 0
        def predict(self, X):
            return (X[:, 0] > 0).astype(int)

    with pytest.raises(mh.ProbeError, match=r"the model predicted labels \[0, 1\], which are not among the labels \['<=50K', '>50K'\]"):
        mh.objectives.FairnessGap(X, text, sensitive=sex, pos_label=">50K").measure(ClassIndices())
    mixed = np.array([0, "1"] * (len(y) // 2), dtype=object)
    with pytest.raises(mh.ConfigError, match=r"the labels mix types \['int', 'str'\]; expected labels of one type"):
        mh.objectives.FairnessGap(X, mixed, sensitive=sex)


def test_held_out_groups_must_be_coded_like_the_validation_groups(data, caplog):
    X, y, sex, race, model = data
    with pytest.raises(mh.ConfigError, match=r"the held-out sensitive feature has no group in common with the validation "
                                             r"data's \(held-out \['0', '1'\], validation \['F', 'M'\]\)"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, holdout=(X, y, (sex == "M").astype(int)))
    as_float = (sex == "M").astype(float)  # the same groups as numbers of another type: one group each
    mh.objectives.FairnessGap(X, y, sensitive=(sex == "M").astype(int), holdout=(X, y, as_float))
    mh.objectives.FairnessGap(X, y, sensitive=sex == "M", holdout=(X, y, as_float))
    fewer = np.where(race == "c", "b", race)  # group "c" never occurs in the held-out split
    with caplog.at_level("WARNING", logger="moo_hpo"):
        mh.objectives.FairnessGap(X, y, sensitive=race, holdout=(X, y, fewer))
    assert "group(s) ['c'] occur in the validation data only: the held-out gaps and per-group table leave them out" in caplog.text


def test_sample_weights_weigh_the_gaps_and_the_per_group_rates_as_fairlearn_does(data):
    X, y, sex, race, model = data
    rng = np.random.default_rng(1)
    weight = rng.uniform(0.1, 5.0, size=len(y)) * np.where(sex == "F", 3.0, 1.0)
    probe = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=FAIRNESS_METRICS, sample_weight=weight)
    got = probe.measure(model)
    pred = model.predict(X)
    for name, fn in (("dp_diff", fm.demographic_parity_difference), ("eo_diff", fm.equalized_odds_difference),
                     ("eop_diff", fm.equal_opportunity_difference), ("dp_ratio", fm.demographic_parity_ratio),
                     ("tpr_diff", fm.true_positive_rate_difference), ("fpr_diff", fm.false_positive_rate_difference)):
        assert got[name] == pytest.approx(fn(y, pred, sensitive_features=sex, sample_weight=weight)), name
    unweighted = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=FAIRNESS_METRICS).measure(model)
    assert abs(got["dp_diff"] - unweighted["dp_diff"]) > 1e-3  # the weights change the figure
    table = {g["sensitive_feature_0"]: g for g in got.extra["fairness"]["by_group"]}
    women = sex == "F"
    assert table["F"]["count"] == int(women.sum())  # counts stay people
    assert table["F"]["weight"] == pytest.approx(weight[women].sum())
    positives = women & (y == 1)
    assert table["F"]["tpr"] == pytest.approx(np.sum(weight[positives] * pred[positives]) / weight[positives].sum())
    assert table["F"]["selection_rate"] == pytest.approx(np.sum(weight[women] * pred[women]) / weight[women].sum())
    assert "weight" not in unweighted.extra["fairness"]["by_group"][0]


def test_held_out_rows_have_their_own_weights(data):
    X, y, sex, _race, model = data
    half = len(y) // 2
    weight = np.linspace(0.5, 2.0, len(y) - half)
    probe = mh.objectives.FairnessGap(X[:half], y[:half], sensitive=sex[:half], metrics=["dp_diff"],
                                      holdout=(X[half:], y[half:], sex[half:]), holdout_sample_weight=weight)
    got = probe.measure(model)
    pred = model.predict(X[half:])
    assert got["holdout_dp_diff"] == pytest.approx(fm.demographic_parity_difference(y[half:], pred, sensitive_features=sex[half:],
                                                                                   sample_weight=weight))
    assert got["dp_diff"] == pytest.approx(fm.demographic_parity_difference(y[:half], model.predict(X[:half]), sensitive_features=sex[:half]))
    assert "weight" in got.extra["fairness"]["holdout_by_group"][0] and "weight" not in got.extra["fairness"]["by_group"][0]


@pytest.mark.parametrize(("weight", "message"), [
    ("short", "one weight per row"), ("negative", "negative weight"), ("nan", "missing or infinite"), ("zero", "every weight"),
    ("text", "to be numbers"),
])
def test_malformed_sample_weights_are_refused_before_any_trial(data, weight, message):
    X, y, sex, _race, _model = data
    bad = {"short": np.ones(len(y) - 1), "negative": np.r_[-1.0, np.ones(len(y) - 1)], "nan": np.r_[np.nan, np.ones(len(y) - 1)],
           "zero": np.zeros(len(y)), "text": ["a"] * len(y)}[weight]
    with pytest.raises(mh.ConfigError, match=message):
        mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=bad)
    with pytest.raises(mh.ConfigError, match="holdout_sample_weight.*not given"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, holdout_sample_weight=np.ones(len(y)))


def test_a_sensitive_series_or_labels_in_another_order_than_X_are_refused(data):
    X, y, sex, _race, model = data
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    shuffled = frame.sample(frac=1.0, random_state=0)  # reordered after the split: its index no longer 0, 1, 2 ...
    with pytest.raises(mh.ConfigError, match=r"sensitive has the same index labels as X in another order.*sensitive.loc\[X.index\]\); if the positions are, reset both"):
        mh.objectives.FairnessGap(shuffled, y[shuffled.index], sensitive=pd.Series(sex))
    with pytest.raises(mh.ConfigError, match="y has the same index labels as X in another order"):
        mh.objectives.Accuracy(shuffled, pd.Series(y))
    aligned = mh.objectives.FairnessGap(shuffled, pd.Series(y).loc[shuffled.index], sensitive=pd.Series(sex).loc[shuffled.index])
    expected = fm.equalized_odds_difference(y[shuffled.index], model.predict(X[shuffled.index]), sensitive_features=sex[shuffled.index])
    assert aligned.measure(model)["eo_diff"] == pytest.approx(expected)
    # other labels altogether (a split's rows beside a reset index): read by position, as scikit-learn does
    held = mh.objectives.FairnessGap(frame, y, sensitive=pd.Series(sex, index=frame.index + 10_000))
    assert held.measure(model)["eo_diff"] == pytest.approx(fm.equalized_odds_difference(y, model.predict(X), sensitive_features=sex))


def test_two_probes_with_prefixes_measure_two_sensitive_features_apart_and_the_audit_reads_each(data):
    from sklearn.linear_model import LogisticRegression

    X, y, sex, race, _model = data
    study = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}),
                     [mh.Maximize("accuracy"), mh.Minimize("sex_eo_diff")], [mh.AtMost("race_eo_diff", 0.5)],
                     optimizer="random", seed=0)
    probes = [mh.objectives.Accuracy(X, y), mh.objectives.CrossValidated(X, y, n_splits=3, prefix="cv"),
              mh.objectives.FairnessGap(X, y, sensitive=sex, prefix="sex", holdout=(X, y, sex)),
              mh.objectives.FairnessGap(X, y, sensitive=race, metrics=["eo_diff", "dp_diff"], prefix="race_")]
    assert probes[2].metrics == ("sex_eo_diff", "holdout_sex_eo_diff") and probes[3].metrics == ("race_eo_diff", "race_dp_diff")
    study.optimize(lambda model, config: model.fit(X, y), build=lambda c: LogisticRegression(C=c["C"]),
                   probes=probes, n_trials=3, show_progress=False)
    trial = study.trials[0]
    model = LogisticRegression(C=trial.config["C"]).fit(X, y)
    assert trial.metrics["sex_eo_diff"] == pytest.approx(fm.equalized_odds_difference(y, model.predict(X), sensitive_features=sex))
    assert trial.metrics["race_eo_diff"] == pytest.approx(fm.equalized_odds_difference(y, model.predict(X), sensitive_features=race))
    assert {"accuracy", "cv_accuracy", "cv_accuracy_std"} <= set(trial.metrics) and "cv_cross_validation" in trial.extra
    assert {g["sensitive_feature_0"] for g in trial.extra["sex_fairness"]["by_group"]} == {"F", "M"}
    assert {g["sensitive_feature_0"] for g in trial.extra["race_fairness"]["by_group"]} == {"a", "b", "c"}
    by_sex = mh.fairness_audit(study, gap="sex_eo_diff")
    assert {g["sensitive_feature_0"] for g in by_sex.rows[0]["by_group"]} == {"F", "M"} and by_sex.holdout
    assert "sex_eo_diff (equalized-odds gap)" in by_sex.to_markdown()
    by_race = mh.fairness_audit(study, gap="race_eo_diff")
    assert {g["sensitive_feature_0"] for g in by_race.rows[0]["by_group"]} == {"a", "b", "c"} and by_race.bound == 0.5
    plain = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}), [mh.Minimize("eo_diff")], optimizer="random", seed=0)
    with pytest.raises(mh.ConfigError, match="give one of them a prefix"):
        plain.optimize(lambda model, config: model.fit(X, y), build=lambda c: LogisticRegression(C=c["C"]), n_trials=1,
                       probes=[mh.objectives.FairnessGap(X, y, sensitive=sex), mh.objectives.FairnessGap(X, y, sensitive=race)])
    for bad in ("", "holdout", "a b", 3):
        with pytest.raises(mh.ConfigError, match="prefix"):
            mh.objectives.FairnessGap(X, y, sensitive=sex, prefix=bad)


def test_a_one_class_model_is_told_by_a_prefixed_probes_table_too():
    from moo_hpo.objectives.fairness import gap_parts, predicts_one_class

    nobody = {"by_group": [{"selection_rate": 0.0}, {"selection_rate": 0.0}]}
    assert predicts_one_class({"sex_fairness": nobody}) and predicts_one_class({"fairness": nobody})
    assert not predicts_one_class({"sex_fairness": {"by_group": [{"selection_rate": 0.0}, {"selection_rate": 0.3}]}})
    assert gap_parts("sex_eo_diff") == ("sex_", "eo_diff") and gap_parts("eo_diff") == ("", "eo_diff")
    assert gap_parts("race_x_dp_ratio") == ("race_x_", "dp_ratio") and gap_parts("accuracy") == ("", "accuracy")


def test_a_torch_module_beside_text_labels_is_told_to_give_class_indices():
    import torch

    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    s = np.arange(100) % 2
    y = np.where(X[:, 0] > 0, "yes", "no")
    module = torch.nn.Linear(3, 1)
    for probe in (mh.objectives.FairnessGap(X, y, sensitive=s, pos_label="yes"), mh.objectives.Accuracy(X, y, pos_label="yes")):
        with pytest.raises(mh.ProbeError, match=r"a torch module predicts class indices .* give y as class indices \(0 for 'no', 1 for 'yes'"):
            probe.measure(module)
    indices = (y == "yes").astype(int)
    assert 0 <= mh.objectives.FairnessGap(X, indices, sensitive=s).measure(module)["eo_diff"] <= 1


def test_sensitive_columns_named_by_a_tuple_or_an_index_and_an_empty_metrics_list(data):
    X, y, sex, race, _ = data
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])]).assign(sex=sex, race=race)
    for names in (("sex", "race"), pd.Index(["sex", "race"])):
        probe = mh.objectives.FairnessGap(frame, y, sensitive=names)
        assert len(probe.sensitive.columns) == 2
    with pytest.raises(mh.ConfigError, match="metrics is empty; expected at least one of"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=[])
    with pytest.raises(mh.ConfigError, match="metrics is empty"):
        mh.objectives.Accuracy(X, y, metrics=[])


def test_a_read_only_frame_goes_into_a_torch_module_without_torchs_warning():
    import warnings

    import torch

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    y = (X[0] > 0).astype(int).to_numpy()
    values = X.to_numpy()
    values.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mh.objectives.Accuracy(values, y).measure(torch.nn.Linear(3, 1))


def test_a_sensitive_feature_named_like_a_figure_keeps_its_own_column(data):
    X, y, sex, race, model = data
    frame = pd.DataFrame({"weight": np.where(sex == "F", "light", "heavy"), "count": race})
    for w in (None, np.linspace(0.5, 2.0, len(y))):
        got = mh.objectives.FairnessGap(X, y, sensitive=frame, sample_weight=w).measure(model)
        groups = got.extra["fairness"]["by_group"]
        assert {g["weight (group)"] for g in groups} == {"light", "heavy"} and {g["count (group)"] for g in groups} == {"a", "b", "c"}
        assert all(isinstance(g["count"], int) for g in groups) and sum(g["count"] for g in groups) == len(y)
        assert ("weight" in groups[0]) == (w is not None)


def test_weights_that_leave_a_groups_positives_weightless_leave_its_tpr_undefined(data):
    X, y, sex, _race, model = data
    w = np.ones(len(y))
    w[(sex == "F") & (y == 1)] = 0.0  # the women's positives count for nothing
    table = {g["sensitive_feature_0"]: g for g in mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w).measure(model)
             .extra["fairness"]["by_group"]}
    assert table["F"]["tpr"] is None and table["F"]["positives"] > 0 and table["M"]["tpr"] is not None


def test_a_group_whose_rows_all_weigh_0_is_refused_and_weightless_positives_are_logged(data, caplog):
    X, y, sex, race, _model = data
    w = np.where(race == "c", 0.0, 1.0)
    with pytest.raises(mh.ConfigError, match=r"group\(s\) \['c'\] weigh 0 in the validation data"):
        mh.objectives.FairnessGap(X, y, sensitive=race, sample_weight=w)
    w = np.where((sex == "F") & (y == 1), 0.0, 1.0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w)
    assert any("['F'] have no positive label" in r.getMessage() for r in caplog.records)


def test_two_fairness_probes_without_prefixes_are_refused_even_for_different_gaps(data):
    from sklearn.linear_model import LogisticRegression

    X, y, sex, race, _model = data
    study = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}), [mh.Minimize("eo_diff"), mh.Minimize("dp_diff")], seed=0)
    with pytest.raises(mh.ConfigError, match="two probes store their data as 'fairness'.*give one of them a prefix"):
        study.optimize(lambda model, config: model.fit(X, y), build=lambda c: LogisticRegression(C=c["C"]), n_trials=1,
                       probes=[mh.objectives.FairnessGap(X, y, sensitive=sex),
                               mh.objectives.FairnessGap(X, y, sensitive=race, metrics=["dp_diff"])])


def test_repeated_index_labels_in_another_order_are_refused_too(data):
    X, y, sex, _race, _model = data
    frame = pd.DataFrame(X, index=np.arange(len(y)) // 2)  # every label twice (two frames concatenated)
    shuffled = frame.iloc[::-1]
    with pytest.raises(mh.ConfigError, match="sensitive has the same index labels as X in another order"):
        mh.objectives.FairnessGap(shuffled, y[::-1], sensitive=pd.Series(sex, index=frame.index))
    mh.objectives.FairnessGap(frame, y, sensitive=pd.Series(sex, index=frame.index))  # the same order: fine
    mh.objectives.FairnessGap(frame, y, sensitive=pd.Series(sex, index=[str(i) for i in frame.index]))  # other labels


def test_ratios_of_rates_that_are_zero_in_every_group_are_one_not_nan():
    from moo_hpo.objectives.fairness import fairness_metrics

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    sex = np.where(rng.random(400) < 0.4, "F", "M")
    nobody = np.zeros(400, dtype=int)
    assert np.isnan(fm.demographic_parity_ratio(y, nobody, sensitive_features=sex))  # fairlearn's 0/0
    for weight in (None, rng.random(400)):
        got = fairness_metrics(y, nobody, sex, ["dp_ratio", "eo_ratio", "dp_diff"], sample_weight=weight)
        assert got == {"dp_ratio": 1.0, "eo_ratio": 1.0, "dp_diff": 0.0}
    # no true positive anywhere, false positives at different rates: the TPR ratio is 1, the FPR ratio decides
    negatives_only = np.where(y == 1, 0, (rng.random(400) < 0.5).astype(int))
    fpr = fm.MetricFrame(metrics=fm.false_positive_rate, y_true=y, y_pred=negatives_only, sensitive_features=sex).by_group
    assert fairness_metrics(y, negatives_only, sex, ["eo_ratio"])["eo_ratio"] == pytest.approx(fpr.min() / fpr.max())
    # elsewhere fairlearn's values
    some = (rng.random(400) < 0.4).astype(int)
    assert fairness_metrics(y, some, sex, ["dp_ratio"])["dp_ratio"] == pytest.approx(
        fm.demographic_parity_ratio(y, some, sensitive_features=sex))


def test_a_study_bounding_dp_ratio_takes_the_report_of_a_model_that_still_selects_nobody():
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (rng.random(400) < 0.3).astype(int)
    sex = np.where(rng.random(400) < 0.4, "F", "M")
    accuracy, gap = mh.objectives.Accuracy(X, y), mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=["dp_ratio"])

    def train(config, trial):
        model = torch.nn.Linear(3, 1)
        torch.nn.init.zeros_(model.weight)
        torch.nn.init.constant_(model.bias, -3.0)  # predicts 0 for everyone at first
        for epoch in range(1, 4):
            metrics = {**accuracy.measure(model), **gap.measure(model)}
            trial.report(epoch, metrics)
            if trial.should_prune():
                break
        return metrics

    study = mh.Study({"lr": mh.Float(1e-4, 0.1, log=True)}, [mh.Maximize("accuracy")], [mh.AtLeast("dp_ratio", 0.8)],
                     pruner=mh.pruners.MOASHA(1, 3), seed=0, optimizer="random")
    study.optimize(train, n_trials=3, show_progress=False)
    assert study.count("failed") == 0 and study.trials[0].reports[0]["metrics"]["dp_ratio"] == 1.0
