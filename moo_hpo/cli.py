"""The ``moo-hpo`` command line: a thin layer over the Python API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import moo_hpo as mh

app = typer.Typer(pretty_exceptions_enable=False, add_completion=False, no_args_is_help=True, help="Multi-objective and constrained hyperparameter optimization.")
console = Console()


def front_table(study: mh.Study, title: str = "Pareto front") -> Table:
    """The study's Pareto front as a rich table (config and objective values)."""
    table = Table(title=title)
    table.add_column("#", justify="right")
    for name in study.space.names:
        table.add_column(name)
    for o in study.objectives:
        table.add_column(f"{o.name} ({'max' if o.direction == 'maximize' else 'min'})", justify="right")
    for t in study.pareto_front():
        cells = [str(t.number)]
        cells += [_fmt(t.config.get(n, "-")) for n in study.space.names]
        cells += [f"{t.metrics[o.name]:.4g}" for o in study.objectives]
        table.add_row(*cells)
    return table


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what the optimizer decides."),
) -> None:
    """Multi-objective and constrained hyperparameter optimization."""
    logging.getLogger("moo_hpo").setLevel(logging.INFO if verbose else logging.WARNING)


@app.command()
def front(path: Path = typer.Argument(..., help="A study file (SQLite).")) -> None:
    """Print the Pareto front of a stored study."""
    if not path.exists():
        raise mh.StorageError(f"no study file at {str(path)!r}")
    with mh.Study.load(path, read_only=True) as study:
        console.print(front_table(study, title=f"Pareto front of {study.name} ({len(study.trials)} trials)"))


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command()
def demo(
    trials: int = typer.Option(40, help="Number of trials."),
    seed: int = typer.Option(0, help="The study's seed."),
    out: Path = typer.Option(Path("moo_hpo_demo"), help="Folder for the study file and the front."),
) -> None:
    """Tune a classifier on the bundled Adult census data for accuracy vs. equalized-odds gap."""
    from moo_hpo.demo import EO_BOUND, run_demo

    out.mkdir(parents=True, exist_ok=True)
    db = out / "study.db"
    if db.exists():
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    console.print(f"[bold]moo_hpo demo[/]: accuracy vs. equalized-odds difference by sex (bound {EO_BOUND}), {trials} trials")
    study = run_demo(n_trials=trials, seed=seed, storage=str(db))
    console.print(front_table(study, title=f"Pareto front ({study.n_feasible} feasible of {len(study.trials)} trials)"))
    front_csv = out / "front.csv"
    df = study.to_dataframe()
    df[df["number"].isin([t.number for t in study.pareto_front()])].to_csv(front_csv, index=False)
    console.print(f"study: {db}\nfront: {front_csv}")
    study.close()


def main() -> None:  # pragma: no cover - console entry point
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        app()
    except mh.MooHpoError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
