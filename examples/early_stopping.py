"""Early stopping: a PyTorch MLP on the bundled Adult data, tuned for accuracy and the equalized-odds gap, with MOASHA.

Each trial trains for up to 9 epochs and reports its validation accuracy and equalized-odds gap (between women
and men) after every epoch; the study's MOASHA pruner stops the trials that rank in the worse two thirds of
the trials that reached its one rung (epoch 3), on both objectives at once. The script prints the
Pareto front and what early stopping saved, and writes the report (HTML with the learning curves, Markdown
with PNG figures) and the study to ``--out`` (default: a new temporary folder).

    python examples/early_stopping.py [--trials 20] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import moo_hpo as mh
from moo_hpo.demo import AdultMLP

MAX_EPOCHS = 9

# The data: 4,000 training and 2,000 validation rows of Adult, one-hot encoded and scaled (``sex`` kept aside).
task = AdultMLP(n_train=4000, n_valid=2000, n_test=2000)
accuracy = mh.objectives.Accuracy(task.X_valid, task.y_valid)
fairness = mh.objectives.FairnessGap(task.X_valid, task.y_valid, sensitive=task.sex_valid, metrics=["eo_diff"])

space = mh.Space({
    "width": mh.Int(8, 128, log=True),
    "depth": mh.Int(1, 3),
    "lr": mh.Float(1e-3, 3e-2, log=True),
    "weight_decay": mh.Float(1e-6, 1e-2, log=True),
    "threshold": mh.Float(0.35, 0.65),
})


def train(config: dict, trial: mh.Trial) -> dict[str, float]:
    """Train one MLP epoch by epoch; after each epoch, report both objectives and stop when the pruner says so."""
    torch.set_num_threads(1)
    model = task.build(config)  # an MLP that classifies with config["threshold"]
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x, y = torch.as_tensor(task.X_train), torch.as_tensor(task.y_train, dtype=torch.float32)
    for epoch in range(1, MAX_EPOCHS + 1):
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            loss_fn(model(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
        model.eval()
        metrics = {**accuracy.measure(model), **fairness.measure(model)}  # accuracy, eo_diff
        trial.report(epoch, metrics)
        if trial.should_prune():
            break  # recorded as pruned, with these metrics
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for the study and the reports")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="moo_hpo_early_stopping_"))
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)

    study = mh.Study(
        space,
        objectives=[mh.Maximize("accuracy", ref=0.75), mh.Minimize("eo_diff", ref=0.3)],
        storage=str(out / "study.db"),
        seed=args.seed,
        name="adult-mlp-early-stopping",
        # one rung, at epoch 3: a third of the trials that reach it go on to epoch 9
        pruner=mh.pruners.MOASHA(min_resource=3, max_resource=MAX_EPOCHS, reduction_factor=3),
    )
    study.optimize(train, n_trials=args.trials)

    print(f"{len(study.trials)} trials: {study.count('complete')} complete, {study.count('pruned')} pruned, "
          f"{study.count('failed')} failed")
    print("Pareto front (accuracy, eo_diff):")
    for t in sorted(study.pareto_front(), key=lambda t: -t.metrics["accuracy"]):
        print(f"  #{t.number:3d} acc={t.metrics['accuracy']:.4f} eo_diff={t.metrics['eo_diff']:.4f}  "
              f"epochs={t.reports[-1]['step']}  {t.config}")

    report = mh.report(study)
    saved = report.data["compute_saved"]
    if saved:
        steps = saved["steps"]
        print(f"Early stopping trained {steps['trained']} of {steps['full']} epochs ({steps['saved_share']:.0%} saved)")
    report.save(out / "report.html")                                 # learning curves and compute saved
    report.save(out / "report.md", figures=out)  # with learning_curves.png
    study.close()
    print(f"report: {out / 'report.html'}")


if __name__ == "__main__":
    main()
