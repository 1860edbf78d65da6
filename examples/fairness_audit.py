"""Fairness audit: accuracy vs. equalized-odds gap between women and men, under a hard bound.

A scikit-learn logistic regression on the bundled Adult data is tuned for accuracy and for a small
equalized-odds difference by sex (fairlearn's definition: the larger of the true- and false-positive
rate gaps), with the hard bound ``eo_diff <= 0.05``. Searched: the regularization strength, how
strongly training rows are reweighed so that each (sex, label) group weighs the same, the decision
threshold, and whether the model sees the sensitive columns at all.

Three disjoint splits: the study selects models on validation rows; a held-out test split, on which no
choice is made, is measured beside them (``holdout_accuracy``, ``holdout_eo_diff``), never optimised.
The script writes the fairness audit (both figures for the models on the accuracy-vs-gap front, their
per-group figures, what meeting the bound costs in accuracy, and a flag on any model that meets the bound
on validation but breaks it on held-out data) and the study report to ``--out`` (default: a new
temporary folder).

    python examples/fairness_audit.py [--trials 20] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import moo_hpo as mh
from moo_hpo.datasets import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult

EO_BOUND = 0.05
SENSITIVE = ["sex", "race"]

# train and validation: disjoint rows of Adult's training file; held-out test: rows of its test file
train, valid = load_adult("train", n=7000).split(4000)
test = load_adult("test", n=3000)
sex_valid, sex_test = valid.sensitive["sex"], test.sensitive["sex"]   # the audited attribute (its name labels the groups)

# Each training row's (sex, label) group and that group's share of the rows, for reweighing.
_groups = train.sensitive["sex"].astype(str) + "|" + train.y.astype(str)
_balanced_weight = (1.0 / _groups.map(_groups.value_counts(normalize=True)) / _groups.nunique()).to_numpy()

space = mh.Space({
    "C": mh.Float(1e-3, 10.0, log=True),
    "reweigh": mh.Float(0.0, 1.5),          # 0: plain rows; 1: every (sex, label) group weighs the same
    "threshold": mh.Float(0.3, 0.8),
    "sensitive_features": mh.Categorical(["use", "drop"]),
})


def build(config: dict):
    """An untrained pipeline: imputation, one-hot and scaling, logistic regression."""
    categorical = [c for c in ADULT_CATEGORICAL if config["sensitive_features"] == "use" or c not in SENSITIVE]
    prep = ColumnTransformer([
        ("num", StandardScaler(), ADULT_NUMERIC),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), categorical),
    ])
    clf = LogisticRegression(C=config["C"], max_iter=500)
    model = make_pipeline(prep, clf)
    model.moo_hpo_threshold = config["threshold"]   # the probes classify with the tuned threshold
    return model


def fit(model, config: dict):
    """Fit on the training rows, reweighed by ``config["reweigh"]``."""
    weight = _balanced_weight ** config["reweigh"]
    return model.fit(train.X, train.y, logisticregression__sample_weight=weight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", default="auto", help="auto (default), ehvi, nsga2, sobol ...")
    parser.add_argument("--out", type=Path, default=None, help="folder for the study and the reports")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="moo_hpo_fairness_"))
    out.mkdir(parents=True, exist_ok=True)

    study = mh.Study(
        space,
        objectives=[mh.Maximize("accuracy", ref=0.75), mh.Minimize("eo_diff", ref=EO_BOUND)],
        constraints=[mh.AtMost("eo_diff", EO_BOUND)],   # hard: models above the bound never reach the front
        optimizer=args.optimizer,
        storage=str(out / "study.db"),
        seed=args.seed,
        name="adult-fairness-audit",
    )
    holdout = (test.X, test.y, sex_test)   # measured beside validation as holdout_<metric>; never optimised
    probes = [
        mh.objectives.Accuracy(valid.X, valid.y, holdout=holdout),
        mh.objectives.FairnessGap(valid.X, valid.y, sensitive=sex_valid, metrics=["eo_diff", "dp_diff"], holdout=holdout),
    ]
    study.optimize(fit, build=build, probes=probes, n_trials=args.trials)

    audit = mh.fairness_audit(study, accuracy="accuracy", gap="eo_diff")   # the bound comes from the constraint
    audit.save(out / "fairness_audit.html")
    audit.save(out / "fairness_audit.md")
    audit.save(out / "fairness_audit.json")
    mh.report(study).save(out / "report.html")
    study.close()
    print(audit.summary)
    print("validation (selected on) / held-out (what to expect):")
    for row in audit.rows:
        held_out = "BREAKS it on held-out data" if row["broken_on_holdout"] else "meets it" if row["holdout_meets_bound"] else "breaks it"
        print(f"  #{row['number']:3d} accuracy {row['accuracy']:.4f} / {row['holdout_accuracy']:.4f}  "
              f"eo_diff {row['gap']:.4f} / {row['holdout_gap']:.4f}  "
              f"{'meets' if row['meets_bound'] else 'breaks'} the bound / {held_out}  {row['config']}")
    print(f"fairness audit: {out / 'fairness_audit.html'}")


if __name__ == "__main__":
    main()
