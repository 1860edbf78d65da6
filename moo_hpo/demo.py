"""The bundled demo: accuracy vs. equalized-odds gap on the Adult census data.

A logistic-regression classifier is tuned for accuracy (maximize) and the equalized-odds difference
between men and women (minimize, fairlearn's definition) under a hard bound on that gap. The data
ships with moo_hpo, so the demo runs offline.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

import moo_hpo as mh
from moo_hpo.datasets import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult

__all__ = ["AdultFairnessProblem", "run_demo"]

EO_BOUND = 0.10


@dataclass
class AdultFairnessProblem:
    """Adult data prepared once; :meth:`evaluate` trains and measures one configuration."""

    n_train: int = 8000
    n_valid: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        train = load_adult("train", n=self.n_train, seed=self.seed)
        valid = load_adult("test", n=self.n_valid, seed=self.seed)
        self.prep = ColumnTransformer(
            [
                ("num", StandardScaler(), ADULT_NUMERIC),
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ),
                    ADULT_CATEGORICAL,
                ),
            ]
        )
        self.X_train = self.prep.fit_transform(train.X)
        self.y_train = train.y
        self.X_valid = self.prep.transform(valid.X)
        self.y_valid = valid.y
        self.sex_valid = valid.sensitive["sex"].to_numpy()

    @staticmethod
    def space() -> mh.Space:
        return mh.Space(
            {
                "C": mh.Float(1e-3, 1e2, log=True),
                "class_weight": mh.Categorical([None, "balanced"]),
                "threshold": mh.Float(0.2, 0.8),
            }
        )

    def evaluate(self, config: dict[str, Any]) -> dict[str, float]:
        from fairlearn.metrics import equalized_odds_difference
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=config["C"], class_weight=config["class_weight"], max_iter=300)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(self.X_train, self.y_train)
        pred = (model.predict_proba(self.X_valid)[:, 1] >= config["threshold"]).astype(int)
        eo = equalized_odds_difference(self.y_valid, pred, sensitive_features=self.sex_valid)
        return {"accuracy": float(np.mean(pred == self.y_valid)), "eo_diff": float(eo)}


def run_demo(n_trials: int = 40, seed: int = 0, storage: str | None = None, show_progress: bool = True) -> mh.Study:
    """Run the demo study and return it.

    Args:
        n_trials: number of trials.
        seed: the study's seed.
        storage: SQLite file for the study (None keeps it in memory).
        show_progress: show a progress bar.
    """
    problem = AdultFairnessProblem(seed=seed)
    study = mh.Study(
        problem.space(),
        objectives=[mh.Maximize("accuracy", ref=0.5), mh.Minimize("eo_diff", ref=1.0)],
        constraints=[mh.AtMost("eo_diff", EO_BOUND)],
        storage=storage,
        seed=seed,
        name="adult-fairness-demo",
    )
    study.optimize(problem.evaluate, n_trials=n_trials, show_progress=show_progress)
    return study
