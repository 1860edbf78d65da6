from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import moo_hpo as mh
from moo_hpo.objectives.accuracy import CLASSIFICATION_METRICS


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[:400], y[:400])
    return X[400:], y[400:], model


def test_classification_metrics_equal_sklearn(cancer):
    X, y, model = cancer
    m = mh.objectives.Accuracy(X, y, metrics=CLASSIFICATION_METRICS).measure(model)
    pred, proba = model.predict(X), model.predict_proba(X)[:, 1]
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["error"] == pytest.approx(1 - skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))


def test_threshold(cancer):
    X, y, model = cancer
    m = mh.objectives.Accuracy(X, y, threshold=0.99).measure(model)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, model.predict_proba(X)[:, 1] >= 0.99))


def test_regression_metrics():
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X[:300], y[:300])
    m = mh.objectives.Accuracy(X[300:], y[300:], metrics=["rmse", "mae", "r2"]).measure(model)
    pred = model.predict(X[300:])
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y[300:], pred)))
    assert m["r2"] == pytest.approx(skm.r2_score(y[300:], pred))


def test_torch_module_logits():
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    net = torch.nn.Linear(3, 1)
    logits = net(torch.as_tensor(X)).detach().numpy().ravel()
    y = (logits > 0).astype(int)
    assert mh.objectives.Accuracy(X, y).measure(net)["accuracy"] == 1.0
    multi = torch.nn.Linear(3, 4)
    y4 = multi(torch.as_tensor(X)).argmax(1).numpy()
    assert mh.objectives.Accuracy(X, y4).measure(multi)["accuracy"] == 1.0


def _trained_binary(last=None, scale=1.0):
    """A linear classifier with fixed weights (logits spread to +-40 times ``scale``), with ``last`` appended (a
    Sigmoid ...)."""
    torch.manual_seed(0)
    X = np.random.default_rng(1).normal(size=(400, 3)).astype(np.float32)
    net = torch.nn.Linear(3, 1)
    with torch.no_grad():
        net.weight[:] = torch.tensor([[8.0, 6.0, -4.0]]) * scale
        net.bias.zero_()
    logits = net(torch.as_tensor(X)).detach().numpy().ravel()
    flips = np.random.default_rng(2).random(len(X)) < 0.15  # a classifier that is right on 85% of the rows
    y = ((logits > 0) ^ flips).astype(int)
    return X, y, logits, (torch.nn.Sequential(net, last) if last is not None else net)


@pytest.mark.parametrize("last", [torch.nn.Sigmoid(), torch.nn.LogSigmoid()])
def test_a_sequential_ending_in_a_sigmoid_is_scored_on_its_probabilities(last):
    X, y, logits, model = _trained_binary(last)
    m = mh.objectives.Accuracy(X, y, metrics=["accuracy", "roc_auc", "log_loss"]).measure(model)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, logits > 0))  # not every row positive
    own = model(torch.as_tensor(X)).detach().double().numpy().ravel()  # its own float32 output: ranks as it does
    probabilities = np.exp(own) if isinstance(last, torch.nn.LogSigmoid) else own
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probabilities)) and m["roc_auc"] > 0.8
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, probabilities))
    gaps = mh.objectives.FairnessGap(X, y, sensitive=X[:, 0] > 0, metrics=["dp_diff"]).measure(model).metrics
    assert gaps["dp_diff"] > 0.5  # the positive rate differs by group (0 when every row was predicted positive)


def test_a_softmax_output_and_a_declared_one_are_read_as_probabilities():
    X, y, logits, net = _trained_binary()
    two = torch.nn.Linear(3, 2)
    with torch.no_grad():
        two.weight[:] = torch.cat([torch.zeros(1, 3), net.weight])
        two.bias.zero_()
    softmax = torch.nn.Sequential(two, torch.nn.Softmax(dim=1))
    own = softmax(torch.as_tensor(X)).detach().double().numpy()[:, 1]  # a softmax applied twice would flatten these
    assert mh.objectives.Accuracy(X, y, metrics=["log_loss"]).measure(softmax)["log_loss"] == pytest.approx(
        skm.log_loss(y, own))

    class Probabilities(torch.nn.Module):  # a forward that applies the sigmoid itself
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return torch.sigmoid(self.net(x))

    model = Probabilities()
    with pytest.warns(UserWarning, match="moo_hpo_outputs = 'probabilities'"):  # undeclared: read as logits, said
        assert mh.objectives.Accuracy(X, y).measure(model)["accuracy"] == pytest.approx(np.mean(y == 1))
    model.moo_hpo_outputs = "probabilities"
    assert mh.objectives.Accuracy(X, y).measure(model)["accuracy"] == pytest.approx(skm.accuracy_score(y, logits > 0))
    model.moo_hpo_outputs = "probability"
    with pytest.raises(mh.ProbeError, match="moo_hpo_outputs must be one of"):
        mh.objectives.Accuracy(X, y).measure(model)


def test_roc_auc_of_a_torch_module_ranks_by_logits_beyond_a_float_sigmoids_saturation():
    X, y, logits, net = _trained_binary(scale=4.0)
    rounded = torch.sigmoid(torch.as_tensor(logits)).numpy()  # a float32 sigmoid: exactly 1 above a logit of ~17
    assert (rounded == 1.0).sum() > 10 and skm.roc_auc_score(y, rounded) < skm.roc_auc_score(y, logits) - 0.003
    assert mh.objectives.Accuracy(X, y, metrics=["roc_auc"]).measure(net)["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, logits))


def test_torch_labels_that_are_no_class_indices_are_refused():
    X, y, _, net = _trained_binary()
    for labels in (2 * y - 1, np.where(y == 1, 5, 2)):
        with pytest.raises(mh.ProbeError, match=r"predicts class indices 0 to 1 .*give y as class indices"):
            mh.objectives.Accuracy(X, labels).measure(net)
        with pytest.raises(mh.ProbeError, match=r"predicts class indices 0 to 1"):
            mh.objectives.FairnessGap(X, labels, sensitive=X[:, 0] > 0, metrics=["dp_diff"], pos_label=labels.max()).measure(net)


def test_a_torch_module_returning_a_tuple_is_refused_saying_what_is_read():
    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def forward(self, x):
            return self.lin(x), x

    X, y, _, _ = _trained_binary()
    with pytest.raises(mh.ProbeError, match=r"returned a tuple of 2; the probes that score predictions read one tensor"):
        mh.objectives.Accuracy(X, y).measure(Pair())


def test_a_torch_regression_modules_output_is_scored_as_it_is():
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    net = torch.nn.Linear(3, 1)
    with torch.no_grad():
        net.weight[:] = torch.tensor([[5.0, 10.0, -5.0]])
        net.bias.zero_()
    y = X @ np.array([5.0, 10.0, -5.0])
    m = mh.objectives.Accuracy(X, y, metrics=["rmse", "r2"]).measure(net)
    assert m["rmse"] < 1e-4 and m["r2"] == pytest.approx(1.0)


def test_cross_validated_refits_clones_inside_folds(cancer):
    X, y = load_breast_cancer(return_X_y=True)
    estimator = make_pipeline(StandardScaler(), LogisticRegression())  # never fitted by the caller
    probe = mh.objectives.CrossValidated(X, y, metrics=["accuracy"], n_splits=4, repeats=2, seed=1)
    m = probe.measure(estimator)
    assert 0.9 < m["accuracy"] <= 1.0 and m["accuracy_std"] > 0
    assert m.extra["cross_validation"]["folds"] == 8
    assert not hasattr(estimator[-1], "coef_")  # the caller's estimator stays unfitted


def test_errors(cancer):
    X, y, model = cancer
    with pytest.raises(mh.ConfigError, match="expected y with"):
        mh.objectives.Accuracy(X, y[:-1])
    with pytest.raises(mh.ConfigError, match="unknown metric"):
        mh.objectives.Accuracy(X, y, metrics=["precision@k"])
    with pytest.raises(mh.ProbeError, match="could not score"):
        mh.objectives.Accuracy(X[:, :3], y).measure(model)


def test_a_held_out_split_is_scored_beside_validation(cancer):
    X, y, model = cancer
    X_val, y_val, X_test, y_test = X[:80], y[:80], X[80:], y[80:]
    probe = mh.objectives.Accuracy(X_val, y_val, metrics=["accuracy", "roc_auc"], holdout=(X_test, y_test))
    assert probe.metrics == ("accuracy", "roc_auc", "holdout_accuracy", "holdout_roc_auc")
    m = probe.measure(model)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_val, model.predict(X_val)))
    assert m["holdout_accuracy"] == pytest.approx(skm.accuracy_score(y_test, model.predict(X_test)))
    assert m["holdout_roc_auc"] == pytest.approx(skm.roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    # the (X, y, sensitive) triple given to FairnessGap works here too; its third item is not needed
    same = mh.objectives.Accuracy(X_val, y_val, holdout=(X_test, y_test, np.zeros(len(y_test)))).measure(model)
    assert same["holdout_accuracy"] == m["holdout_accuracy"]
    with pytest.raises(mh.ConfigError, match=r"Accuracy: expected holdout=\(X_test, y_test\) or \(X_test, y_test, sensitive_test\); received ndarray"):
        mh.objectives.Accuracy(X_val, y_val, holdout=X_test)
    with pytest.raises(mh.ConfigError, match="Accuracy holdout: expected y with"):
        mh.objectives.Accuracy(X_val, y_val, holdout=(X_test, y_test[:5]))


def test_a_threshold_must_be_a_probability(cancer):
    X, y, model = cancer
    for bad in (2.0, 0, 1, "0.5", True):
        with pytest.raises(mh.ConfigError, match="threshold must be a probability strictly between 0 and 1"):
            mh.objectives.Accuracy(X, y, threshold=bad)
    model.moo_hpo_threshold = 1.5  # a model's own threshold is checked when it is measured
    try:
        with pytest.raises(mh.ProbeError, match="threshold must be a probability"):
            mh.objectives.Accuracy(X, y).measure(model)
    finally:
        del model.moo_hpo_threshold


def test_pos_label_sets_what_the_threshold_and_f1_count_as_positive(cancer):
    X, y, model = cancer
    labels = np.where(y == 1, "repaid", "default")  # classes_: default, repaid
    fitted = LogisticRegression(max_iter=5000).fit(X, labels)
    p_default = fitted.predict_proba(X)[:, 0]
    m = mh.objectives.Accuracy(X, labels, metrics=["accuracy", "f1"], threshold=0.8, pos_label="default").measure(fitted)
    pred = np.where(p_default >= 0.8, "default", "repaid")
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(labels, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(labels, pred, pos_label="default"))
    with pytest.raises(mh.ConfigError, match=r"f1 counts one label as positive \(1 unless pos_label= names another\); the labels are \['default', 'repaid'\]: give pos_label="):
        mh.objectives.Accuracy(X, labels, metrics=["f1"])
    with pytest.raises(mh.ConfigError, match=r"pos_label 'yes' must be one of two labels"):
        mh.objectives.CrossValidated(X, labels, pos_label="yes")
    # labels with a 1 among them: f1 counts 1, as scikit-learn does
    one_two = np.where(y == 1, 1, 2)
    fitted_12 = LogisticRegression(max_iter=5000).fit(X, one_two)
    assert mh.objectives.Accuracy(X, one_two, metrics=["f1"]).measure(fitted_12)["f1"] == pytest.approx(
        skm.f1_score(one_two, fitted_12.predict(X)))
    # without f1 nothing needs pos_label; with it, scores as scikit-learn does for the given label
    assert mh.objectives.Accuracy(X, labels).measure(fitted)["accuracy"] == pytest.approx(skm.accuracy_score(labels, fitted.predict(X)))


def test_a_sparse_X_is_scored(cancer):
    import scipy.sparse as sp

    X, y, _pipeline = cancer
    model = LogisticRegression(max_iter=5000).fit(X, y)  # the fixture's scaler does not take sparse input
    dense = mh.objectives.Accuracy(X, y, threshold=0.3).measure(model)
    assert mh.objectives.Accuracy(sp.csr_matrix(X), y, threshold=0.3, holdout=(sp.csr_matrix(X), y)).measure(model) == {
        **dense, "holdout_accuracy": dense["accuracy"]}


def test_sample_weights_weigh_every_metric_as_scikit_learn_does(cancer):
    X, y, model = cancer
    weight = np.where(model.predict(X) != y, 20.0, 1.0)  # the errors weigh most
    m = mh.objectives.Accuracy(X, y, metrics=CLASSIFICATION_METRICS, sample_weight=weight).measure(model)
    pred, proba = model.predict(X), model.predict_proba(X)[:, 1]
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred, sample_weight=weight))
    assert m["accuracy"] < skm.accuracy_score(y, pred) - 0.05
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred, sample_weight=weight))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, sample_weight=weight))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, sample_weight=weight))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba, sample_weight=weight))
    Xr, yr = load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(Xr[:300], yr[:300])
    w = np.linspace(0.1, 3.0, len(yr) - 300)
    r = mh.objectives.Accuracy(Xr[300:], yr[300:], metrics=["rmse", "mae", "r2"], sample_weight=w).measure(reg)
    p = reg.predict(Xr[300:])
    assert r["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(yr[300:], p, sample_weight=w)))
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(yr[300:], p, sample_weight=w))
    assert r["r2"] == pytest.approx(skm.r2_score(yr[300:], p, sample_weight=w))


def test_held_out_weights_weigh_the_held_out_figures_only(cancer):
    X, y, model = cancer
    held_w = np.where(model.predict(X[:80]) != y[:80], 50.0, 1.0)
    m = mh.objectives.Accuracy(X[80:], y[80:], holdout=(X[:80], y[:80]), holdout_sample_weight=held_w).measure(model)
    assert m["holdout_accuracy"] == pytest.approx(skm.accuracy_score(y[:80], model.predict(X[:80]), sample_weight=held_w))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y[80:], model.predict(X[80:])))
    with pytest.raises(mh.ConfigError, match="holdout_sample_weight.*not given"):
        mh.objectives.Accuracy(X, y, holdout_sample_weight=np.ones(len(y)))
    with pytest.raises(mh.ConfigError, match=r"one weight per row \(80 rows"):
        mh.objectives.Accuracy(X[80:], y[80:], holdout=(X[:80], y[:80]), holdout_sample_weight=np.ones(81))
    with pytest.raises(mh.ConfigError, match="negative"):
        mh.objectives.Accuracy(X, y, sample_weight=-np.ones(len(y)))


def test_cross_validated_fits_and_scores_each_fold_with_the_rows_weights(cancer):
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    X, y, _model = cancer
    weight = np.where(y == 1, 0.2, 5.0)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.05))
    got = mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(pipe)
    expected = []
    for train, test in RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=0).split(X, y):
        fitted = make_pipeline(StandardScaler(), LogisticRegression(C=0.05)).fit(
            X[train], y[train], logisticregression__sample_weight=weight[train])
        expected.append(skm.accuracy_score(y[test], fitted.predict(X[test]), sample_weight=weight[test]))
    assert got["accuracy"] == pytest.approx(np.mean(expected))
    plain = mh.objectives.CrossValidated(X, y, n_splits=3).measure(pipe)
    assert got["accuracy"] != pytest.approx(plain["accuracy"])
    single = mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(LogisticRegression(max_iter=5000))
    assert 0.5 < single["accuracy"] <= 1
    with pytest.raises(mh.ProbeError, match="KNeighborsClassifier takes no sample_weight"):
        mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(KNeighborsClassifier())


def test_a_measurement_has_metrics_and_extra_as_a_result_has(cancer):
    X, y, model = cancer
    m = mh.objectives.CrossValidated(X, y, n_splits=3).measure(model)
    result = mh.Result(m.metrics, extra=m.extra)
    assert result.metrics == dict(m) and type(m.metrics) is dict and result.extra["cross_validation"]["folds"] == 3


def test_weights_in_another_order_than_X_are_refused_and_scores_of_a_torch_module_need_no_indices(cancer):
    import pandas as pd

    X, y, _model = cancer
    frame = pd.DataFrame(X).sample(frac=1.0, random_state=0)
    weights = pd.Series(np.linspace(0.5, 2.0, len(y)))
    with pytest.raises(mh.ConfigError, match="sample_weight has the same index labels as X in another order"):
        mh.objectives.Accuracy(frame, y[frame.index], sample_weight=weights)
    mh.objectives.Accuracy(frame, y[frame.index], sample_weight=weights.loc[frame.index])  # aligned
    text = np.where(y == 1, "yes", "no")
    scores = mh.objectives.Accuracy(X.astype(np.float32), text, metrics=["roc_auc", "log_loss"], pos_label="yes")
    got = scores.measure(torch.nn.Linear(X.shape[1], 1).double())
    assert 0 <= got["roc_auc"] <= 1 and got["log_loss"] > 0


def test_cross_validated_weights_reach_a_nested_pipelines_last_step_and_a_search():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]
    weight = np.where(y == 1, 0.2, 5.0)
    inner = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.05))])
    nested = Pipeline([("outer", StandardScaler()), ("model", inner)])
    got = mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(nested)
    flat = mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(
        Pipeline([("outer", StandardScaler()), ("scale", StandardScaler()), ("clf", LogisticRegression(C=0.05))]))
    assert got["accuracy"] == pytest.approx(flat["accuracy"])
    search = GridSearchCV(LogisticRegression(max_iter=5000), {"C": [0.1, 1.0]}, cv=2)
    assert 0.5 < mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(search)["accuracy"] <= 1
    with pytest.raises(mh.ProbeError, match="last step 'clf' is 'passthrough', which fits nothing"):
        mh.objectives.CrossValidated(X, y, n_splits=3, sample_weight=weight).measure(
            Pipeline([("scale", StandardScaler()), ("clf", "passthrough")]))


def test_cross_validated_refuses_split_counts_that_are_not_integers():
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    for n_splits in (2.5, "3"):
        with pytest.raises(mh.ConfigError, match=f"integers n_splits >= 2 and repeats >= 1; received {n_splits!r}, 1"):
            mh.objectives.CrossValidated(X, y, n_splits=n_splits)
    assert mh.objectives.CrossValidated(X, y, n_splits=np.int64(3)).n_splits == 3


def test_scoring_data_of_no_rows_is_refused():
    with pytest.raises(mh.ConfigError, match="Accuracy: expected data of at least one row; received X with 0 rows"):
        mh.objectives.Accuracy(np.zeros((0, 3)), np.zeros(0))


def test_a_function_probe_returning_text_raises_a_probe_error():
    @mh.objectives.probe(["score"])
    def scored(model):
        return {"score": "high"}

    with pytest.raises(mh.ProbeError, match="probe 'scored' returned 'high' for 'score'; expected a number"):
        scored.measure(object())


def test_a_module_returning_labels_is_refused_and_a_wrapped_sigmoid_is_read_as_probabilities():
    X, y, logits, net = _trained_binary()

    class Labels(torch.nn.Module):
        def forward(self, x):
            return (net(x)[:, 0] > 0).long()

    with pytest.raises(mh.ProbeError, match=r"returned a torch.int64 tensor; .* not labels"):
        mh.objectives.Accuracy(X, y).measure(Labels())
    wrapped = torch.nn.DataParallel(torch.nn.Sequential(net, torch.nn.Sigmoid()))  # on the CPU: a plain wrapper
    assert mh.objectives.Accuracy(X, y).measure(wrapped)["accuracy"] == pytest.approx(skm.accuracy_score(y, logits > 0))
