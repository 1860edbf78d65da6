"""The bundled demo: a PyTorch MLP on the Adult census data, tuned for accuracy, fairness, latency and size.

Objectives: accuracy (maximize), equalized-odds difference between women and men (minimize,
fairlearn's definition), CPU p99 latency at batch 1 (minimize) and model size (minimize), under a
hard bound on the equalized-odds difference. Searched: width, depth, learning rate, weight decay,
epochs, positive-class weight and decision threshold; optimizer ``auto``. The data ships with
moo_hpo, so the demo runs offline; it takes a few minutes on 2 CPU cores.

Three disjoint splits: training and validation rows from Adult's training file, and a held-out test split
from its test file. The study selects models on the validation figures; the probes also measure accuracy
and the fairness gaps on the held-out split (``holdout_accuracy``, ``holdout_eo_diff`` ...), which are
recorded but never optimised, so the fairness audit shows both: what the study selected on, and what to
expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import moo_hpo as mh
from moo_hpo.datasets import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult

__all__ = ["EO_BOUND", "AdultMLP", "run_demo"]

EO_BOUND = 0.10


@dataclass
class AdultMLP:
    """Adult data prepared once (train / validation / held-out test, one-hot and scaled); builds and trains MLPs.

    Training and validation rows are disjoint draws from Adult's training file, the held-out test rows come
    from its test file; the preprocessing is fitted on the training rows only.
    """

    n_train: int = 8000
    n_valid: int = 4000
    n_test: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        train, valid = load_adult("train", n=self.n_train + self.n_valid, seed=self.seed).split(self.n_train, seed=self.seed)
        test = load_adult("test", n=self.n_test, seed=self.seed)
        prep = ColumnTransformer([
            ("num", StandardScaler(), ADULT_NUMERIC),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ADULT_CATEGORICAL),
        ])
        self.X_train = prep.fit_transform(train.X).astype(np.float32)
        self.y_train = train.y
        self.X_valid = prep.transform(valid.X).astype(np.float32)
        self.y_valid = valid.y
        self.sex_valid = valid.sensitive["sex"]  # a named Series: the audit's group tables say "sex"
        self.X_test = prep.transform(test.X).astype(np.float32)
        self.y_test = test.y
        self.sex_test = test.sensitive["sex"]

    @staticmethod
    def space() -> mh.Space:
        return mh.Space({
            "width": mh.Int(8, 128, log=True),
            "depth": mh.Int(1, 3),
            "lr": mh.Float(1e-3, 3e-2, log=True),
            "weight_decay": mh.Float(1e-6, 1e-2, log=True),
            "epochs": mh.Int(2, 8),
            "class_weight": mh.Float(1.0, 3.0),
            "threshold": mh.Float(0.3, 0.7),
        })

    def build(self, config: dict[str, Any]) -> Any:
        import torch

        torch.manual_seed(self.seed)
        layers, n_in = [], self.X_train.shape[1]
        for _ in range(config["depth"]):
            layers += [torch.nn.Linear(n_in, config["width"]), torch.nn.ReLU()]
            n_in = config["width"]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(n_in, 1))
        model.moo_hpo_threshold = config["threshold"]  # the probes classify with the tuned threshold
        return model

    def fit(self, model: Any, config: dict[str, Any]) -> Any:
        import torch

        torch.manual_seed(self.seed)
        torch.set_num_threads(1)
        opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
        x = torch.as_tensor(self.X_train)
        y = torch.as_tensor(self.y_train, dtype=torch.float32)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(config["class_weight"]))
        model.train()
        for _ in range(config["epochs"]):
            for idx in torch.randperm(len(x)).split(256):
                opt.zero_grad()
                loss_fn(model(x[idx]).squeeze(1), y[idx]).backward()
                opt.step()
        return model

    def probes(self) -> list[Any]:
        return [
            mh.objectives.ModelSize(),
            mh.objectives.Latency(self.X_valid[0], batch_size=1, threads=1, warmup_s=0.05, min_repeats=100, max_repeats=400),
            # validation figures (the study selects on them) and held-out ones (recorded, never optimised)
            mh.objectives.Accuracy(self.X_valid, self.y_valid, metrics=["accuracy", "balanced_accuracy"], holdout=(self.X_test, self.y_test)),
            mh.objectives.FairnessGap(self.X_valid, self.y_valid, sensitive=self.sex_valid, metrics=["eo_diff", "dp_diff"],
                                      holdout=(self.X_test, self.y_test, self.sex_test)),
        ]


def run_demo(n_trials: int = 30, seed: int = 0, storage: str | None = None, show_progress: bool = True) -> mh.Study:
    """Run the demo study and return it.

    Args:
        n_trials: the study's total number of trials (a stored study that has some runs the rest).
        seed: the study's seed.
        storage: SQLite file for the study (None keeps it in memory).
        show_progress: show a progress bar.
    """
    task = AdultMLP(seed=seed)
    study = mh.Study(
        task.space(),
        objectives=[
            mh.Maximize("accuracy", ref=0.75),
            mh.Minimize("eo_diff", ref=EO_BOUND),
            mh.Minimize("latency_p99_ms", ref=1.0),
            mh.Minimize("size_kb", ref=100.0),
        ],
        constraints=[mh.AtMost("eo_diff", EO_BOUND)],
        optimizer="auto",
        storage=storage,
        seed=seed,
        name="adult-mlp-tradeoffs",
    )
    missing = max(0, n_trials - len(study.trials))  # a total: a stored demo study is topped up, not restarted
    study.optimize(task.fit, build=task.build, probes=task.probes(), n_trials=missing, show_progress=show_progress)
    return study
