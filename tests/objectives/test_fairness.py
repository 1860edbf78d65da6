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
