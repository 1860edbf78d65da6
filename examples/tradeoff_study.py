"""Trade-off study: accuracy vs. CPU latency vs. size of a small PyTorch MLP on the bundled Adult data.

The MLP's width, depth, learning rate and number of epochs are searched with the default optimizer
(``auto``) under a hard size budget of 100 KB. Size and latency need no training, so they are
measured on the freshly built model and a candidate above the budget is never trained. The script
prints the Pareto front and a recommended operating point, and writes the report (HTML, Markdown,
JSON and PNG figures) to ``--out`` (default: a new temporary folder).

    python examples/tradeoff_study.py [--trials 20] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import moo_hpo as mh
from moo_hpo.datasets import ADULT_CATEGORICAL, ADULT_NUMERIC, load_adult

# The data: 4,000 training rows and 2,000 validation rows of Adult, one-hot encoded and scaled.
train, valid = load_adult("train", n=4000), load_adult("test", n=2000)
prep = ColumnTransformer([
    ("num", StandardScaler(), ADULT_NUMERIC),
    ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                          OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ADULT_CATEGORICAL),
])
X_train = prep.fit_transform(train.X).astype(np.float32)
X_valid = prep.transform(valid.X).astype(np.float32)
y_train, y_valid = train.y, valid.y

space = mh.Space({
    "width": mh.Int(8, 256, log=True),
    "depth": mh.Int(1, 3),
    "lr": mh.Float(1e-3, 3e-2, log=True),
    "epochs": mh.Int(1, 5),
})


def build(config: dict) -> torch.nn.Module:
    """An untrained MLP for ``config`` (one logit: income > 50K)."""
    torch.manual_seed(0)
    layers, n_in = [], X_train.shape[1]
    for _ in range(config["depth"]):
        layers += [torch.nn.Linear(n_in, config["width"]), torch.nn.ReLU()]
        n_in = config["width"]
    return torch.nn.Sequential(*layers, torch.nn.Linear(n_in, 1))


def fit(model: torch.nn.Module, config: dict) -> torch.nn.Module:
    """Train ``model`` with Adam on the training rows."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    x, y = torch.as_tensor(X_train), torch.as_tensor(y_train, dtype=torch.float32)
    for _ in range(config["epochs"]):
        for idx in torch.randperm(len(x)).split(256):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(model(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", default="auto", help="auto (default), ehvi, nsga2, sobol ...")
    parser.add_argument("--out", type=Path, default=None, help="folder for the study and the reports")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="moo_hpo_tradeoff_"))
    out.mkdir(parents=True, exist_ok=True)

    study = mh.Study(
        space,
        objectives=[
            mh.Maximize("accuracy", ref=0.75),      # the hypervolume counts models above 75% accuracy
            mh.Minimize("latency_p99_ms"),           # reference derived from the trials, then frozen
            mh.Minimize("size_kb", ref=100.0),      # the hard limit: the hypervolume counts every size allowed
        ],
        constraints=[mh.AtMost("size_kb", 100.0)],  # hard: larger models are never trained
        optimizer=args.optimizer,
        storage=str(out / "study.db"),
        seed=args.seed,
        name="adult-mlp-tradeoff",
    )
    probes = [
        mh.objectives.ModelSize(),                                     # size_kb, before training
        mh.objectives.Latency(X_valid[0], batch_size=1, threads=1,     # latency_p99_ms, before training
                              warmup_s=0.05, min_repeats=100, max_repeats=400),
        mh.objectives.Accuracy(X_valid, y_valid),                      # accuracy, after training
    ]
    study.optimize(fit, build=build, probes=probes, n_trials=args.trials)

    print(f"{len(study.trials)} trials: {study.count('complete')} trained, "
          f"{study.count('infeasible_skipped')} skipped before training (over 100 KB), {study.count('failed')} failed")
    print("Pareto front (accuracy, latency_p99_ms, size_kb):")
    for t in sorted(study.pareto_front(), key=lambda t: -t.metrics["accuracy"]):
        print(f"  #{t.number:3d} acc={t.metrics['accuracy']:.4f} p99={t.metrics['latency_p99_ms']:.3f} ms "
              f"size={t.metrics['size_kb']:.1f} KB  {t.config}")
    if study.n_feasible:
        knee = study.recommend("knee")
        print(f"Recommended: trial #{knee.trial.number}, {knee.reason}")

    report = mh.report(study)
    report.save(out / "report.html")                                 # interactive, self-contained
    report.save(out / "report.md", figures=out)  # Markdown with PNG figures
    report.save(out / "report.json")
    study.close()
    print(f"report: {out / 'report.html'}")


if __name__ == "__main__":
    main()
