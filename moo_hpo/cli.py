"""The ``moo-hpo`` command line: a thin layer over the Python API.

    moo-hpo demo                         the bundled Adult trade-off study, its report and fairness audit
    moo-hpo run study.toml               a study described in TOML (space, objectives, constraints, budget, entry point)
    moo-hpo report study.db -o report.html
    moo-hpo front study.db
    moo-hpo audit study.db --gap eo_diff -o audit.html
    moo-hpo sizing study.db --device "mcu:size=20,latency=2" -o sizing.csv
    moo-hpo serve study.db               a live view in the browser while another process runs the study

Errors print as one line and exit with status 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import moo_hpo as mh
from moo_hpo.cli_tables import FRONT_ROWS, counts_text, front_table
from moo_hpo.execution.dask_logging import quiet_dask_tracebacks
from moo_hpo.execution.interrupts import Terminated, terminate_as_interrupt
from moo_hpo.toml_study import (  # the TOML study format; its errors and names are the CLI's too
    CliError,
    beside_hint,
    is_study_file,
    one_line,
    study_from_toml,
)

app = typer.Typer(pretty_exceptions_enable=False, add_completion=False, no_args_is_help=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Multi-objective and constrained hyperparameter optimization.")
#: Width of tables written to a file or a pipe (rich's 80 columns cut the front's headers and configurations).
PIPE_WIDTH = 160
# emoji off: ":smile:" in a path or a device name is text
class _Console(Console):
    def on_broken_pipe(self) -> None:
        """`moo-hpo front study.db | head`: the reader has what it wanted; end quietly, with a Unix tool's status
        after SIGPIPE (rich's own ends with 1, an error to a script with ``set -o pipefail``)."""
        self.quiet = True
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141)


console = _Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH, emoji=False)
#: errors and interruptions: on standard error, so that `moo-hpo front study.db > front.txt` shows them
errors = Console(stderr=True, width=None if sys.stderr.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH, emoji=False)
_state = {"debug": False}


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into one red line and exit status 1 (``--debug`` re-raises)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (mh.MooHpoError, CliError, OSError, ImportError, KeyError, ValueError, TypeError) as exc:
            if _state["debug"]:
                raise
            errors.print(f"[red]error:[/] {escape(one_line(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except Terminated:  # SIGTERM: the status a process stopped by it has (128 + 15), as schedulers expect
            errors.print("[yellow]terminated[/] (SIGTERM): finished trials are saved")
            raise typer.Exit(143) from None
        except KeyboardInterrupt:
            errors.print("[yellow]interrupted[/]: finished trials are saved")
            raise typer.Exit(130) from None

    return wrapper


def _print_version(asked: bool) -> None:
    if asked:
        console.print(f"moo_hpo {mh.__version__}", markup=False, highlight=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what the optimizer decides."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print moo_hpo's version and exit."),
) -> None:
    """Multi-objective and constrained hyperparameter optimization."""
    _state["debug"] = debug
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("moo_hpo").setLevel(logging.INFO if verbose else logging.WARNING)


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """moo_hpo's own warnings as one line (not its file, line and source); every other warning as Python shows it."""
    from moo_hpo.user_warnings import MooHpoWarning

    if issubclass(category, MooHpoWarning) or os.path.abspath(filename).startswith(_PACKAGE + os.sep):
        print(f"warning: {message}", file=sys.stderr, flush=True)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


_PYTHON_SHOWWARNING = warnings.showwarning


def _study_file(text: str) -> Path:
    """The study file a PATH argument names: a path, or Optuna's ``sqlite:///study.db`` (which typer's Path would fold)."""
    from moo_hpo.storage import storage_path

    path = Path(storage_path(text)).expanduser()
    if not path.exists():
        raise CliError(f"no study file at {str(path)!r}")
    return path


def _load(text: str) -> mh.Study:
    return mh.Study.load(_study_file(text), read_only=True)


def _figures_with_markdown(figures: Path | None, output: Path) -> None:
    """Refuse ``--figures`` beside an output that is not Markdown (only Markdown links static figures)."""
    if figures is not None and output.suffix.lower() != ".md":
        try:
            markdown = output.with_suffix(".md") if output.stem else Path("report.md")
        except ValueError:  # "." or "/": no name to put a suffix on
            markdown = Path("report.md")
        raise CliError(f"--figures goes with a Markdown output (-o {markdown}); received -o {str(output)!r}")


def _replaced(output: Path) -> str:
    """Said after the path of a file a command writes when one was there already (the default -o names one)."""
    return " (replaced the file that was there)" if output.exists() else ""


@app.command()
@handle_errors
def demo(
    trials: int = typer.Option(30, help="The study's total number of trials (a stored demo study is topped up)."),
    seed: int = typer.Option(0, help="The study's seed."),
    out: Path = typer.Option(Path("moo_hpo_demo"), help="Folder for the study file and the reports."),
) -> None:
    """Tune a PyTorch MLP on the bundled Adult data: accuracy, fairness gap, latency and size."""
    from moo_hpo.demo import EO_BOUND, run_demo

    if trials < 1:
        raise CliError(f"--trials must be at least 1; received {trials}")
    out.mkdir(parents=True, exist_ok=True)
    db = out / "study.db"
    console.print(f"[bold]moo_hpo demo[/]: PyTorch MLP on Adult; accuracy vs. equalized-odds gap by sex (<= {EO_BOUND}) "
                  f"vs. CPU p99 latency vs. size; {trials} trials")
    study = run_demo(n_trials=trials, seed=seed, storage=str(db))
    console.print(front_table(study, title=f"Pareto front ({study.n_feasible} feasible of {len(study.trials)} trials)",
                              all_rows=f"moo-hpo front {db} --limit 0 shows them all"))
    console.print(counts_text(study), highlight=False, markup=False)  # the counts its empty front refers to
    report_path = mh.report(study).save(out / "report.html")
    audit = mh.fairness_audit(study, accuracy="accuracy", gap="eo_diff")
    audit_path = audit.save(out / "fairness_audit.html")
    console.print(audit.summary, highlight=False, markup=False)
    console.print(f"study: {db}\nreport: {report_path}\nfairness audit: {audit_path}", markup=False)
    study.close()


def _resources(given: Sequence[str]) -> dict[str, float]:
    """``["GPU=1", "MEM=4e9"]`` as ``{"GPU": 1.0, "MEM": 4e9}``."""
    out = {}
    for item in given:
        name, _, amount = item.partition("=")
        try:
            out[name.strip()] = float(amount)
        except ValueError:
            raise CliError(f"--resources takes NAME=AMOUNT (GPU=1); received {item!r}") from None
        if not name.strip():
            raise CliError(f"--resources takes NAME=AMOUNT (GPU=1); received {item!r}")
    return out


@app.command()
@handle_errors
def run(
    description: Path = typer.Argument(..., metavar="DESCRIPTION", help="Study description (TOML)."),
    trials: int = typer.Option(None, help="The study's total number of trials (overrides n_trials; a resumed study runs the rest)."),
    entry: str = typer.Option(
        None, help="The objective as MODULE:FUNCTION, any importable module (the file's entry may only name a file next to it)."
    ),
    dask: str = typer.Option(None, "--dask", help="Run the trials on a Dask cluster: the scheduler's address (tcp://host:8786)."),
    resources: list[str] = typer.Option(
        None, "--resources", help="On Dask, what each trial needs of a worker's resources, NAME=AMOUNT (repeatable: --resources GPU=1)."
    ),
    retries: int = typer.Option(None, "--retries", help="On Dask, submissions again of a trial whose workers were lost (default 1)."),
) -> None:
    """Run a study described in TOML (space, objectives, constraints, optimizer, budget, entry point).

    A study file is code, like a Python script: run only files you trust.
    """
    if trials is not None and trials < 1:
        raise CliError(f"--trials must be at least 1; received {trials}")
    if retries is not None and retries < 0:
        raise CliError(f"--retries must be at least 0; received {retries}")
    try:
        study, fn, options = study_from_toml(description, entry=entry)
    except mh.StorageError as exc:
        raise _storage_refusal(exc) from None
    with study:  # closed on every way out, so the study file is free again
        if trials is not None:
            options["n_trials"] = trials
        if "n_trials" not in options and "timeout" not in options:
            raise CliError("give a budget: n_trials or timeout in [study], or --trials")
        if dask is not None:
            options["executor"] = dask
        if resources:
            options["resources"] = _resources(resources)
        if retries is not None:
            options["retries"] = retries
        if "executor" not in options:
            _check_cluster_only(options)
        if "n_trials" in options:  # a total: a resumed study runs what is missing
            # an interrupted trial whose configuration runs again (or ran again: its retry counts) is not counted
            waiting = len(study._retries.numbers)
            rerun = {t.extra.get("retry_of") for t in study.trials if isinstance(t.extra, dict) and "retry_of" in t.extra}
            have = len(study.trials) - len(set(study._retries.numbers) | rerun)
            options["n_trials"] = max(0, options["n_trials"] - have)
            if len(study.trials):
                again = (f" (the {waiting} interrupted one{'s' if waiting != 1 else ''} run again first)"
                         if waiting and options["n_trials"] else "")
                console.print(f"resuming {study.name!r}: {len(study.trials)} trials stored, {options['n_trials']} to run{again}",
                              markup=False)
        elif len(study.trials):  # a budget of time only
            waiting = len(study._retries.numbers)
            again = f" (the {waiting} interrupted one{'s' if waiting != 1 else ''} run again first)" if waiting else ""
            console.print(f"resuming {study.name!r}: {len(study.trials)} trials stored, running for {options['timeout']} s"
                          f"{again}", markup=False)
        study._resume_unsaid = 0  # said above, with the command's own count
        if options.get("n_trials") == 0 and "timeout" not in options:
            for key in ("executor", "resources", "retries"):  # nothing to run: no cluster to reach
                options.pop(key, None)
        if "executor" in options:
            if not _state["debug"]:  # Dask's tracebacks only with --debug
                quiet_dask_tracebacks()
            if options.pop("n_workers", None) is not None:  # the cluster's workers set it
                console.print("n_workers is left out: on a Dask cluster its workers set how many trials run at once", markup=False)
        try:
            with terminate_as_interrupt():
                study.optimize(fn, show_progress=True, **options)
        except mh.ConfigError as exc:
            raise beside_hint(exc, description.parent) from None
        except Terminated:  # SIGTERM (a SystemExit too): the command's own handling, below
            raise
        except mh.MooHpoError as exc:  # a lost Dask scheduler, say: the command's own way to resume
            text = str(exc).replace("resume with mh.Study.load", "resume by running this command again")
            if getattr(exc, "failed_alike", False) and study._store.location != ":memory:":
                text = text.removesuffix(")") + "; run again, the study counts them in its n_trials: delete the file to run them all afresh)"
            raise CliError(text) from None
        except SystemExit as exc:  # the entry's own sys.exit, in this process (SIGTERM arrives as Ctrl-C here)
            raise CliError(
                f"the objective called sys.exit({exc.code!r}) in the study's process, which stops the study (its running "
                "trial is recorded interrupted); with n_workers = 2 or more in [study] it fails that trial only"
            ) from None
        where = study._store.location
        console.print(front_table(study, title=f"Pareto front ({study.n_feasible} feasible of {len(study.trials)} trials)",
                                  all_rows=f"moo-hpo front {where} --limit 0 shows them all" if where != ":memory:" else
                                  "a study with storage = \"study.db\" keeps them all for moo-hpo front"))
        console.print(counts_text(study), highlight=False, markup=False)
        completed = study.count("complete")
        failures = [t.error.strip().splitlines()[0] for t in study.trials if t.status.value == "failed" and t.error and t.error.strip()]
        location = study._store.location
    if not completed:
        raise CliError(_nothing_completed(failures, location))


def _storage_refusal(exc: Exception) -> Exception:
    """A study file ``run`` cannot write, said in the command line's terms (the reading commands still read it)."""
    why = getattr(exc, "readable_instead", None)
    location = getattr(exc, "location", None)
    if why is None or location is None:
        return exc
    text = f"cannot run the study in {location}: {why}; moo-hpo front {location} and moo-hpo report {location} read it"
    if "another process" in why:
        text += (" meanwhile. One process runs a study: for trials in parallel, give n_workers in [study] or run it on "
                 "a Dask cluster with --dask")
    return CliError(text)


def _check_cluster_only(options: dict[str, Any]) -> None:
    """Refuse ``resources`` and drop ``retries`` (with a line) for a run without a Dask cluster."""
    if "resources" in options:
        raise CliError("resources (what a trial needs of a worker, GPU=1) apply on a Dask cluster: give --dask "
                       "tcp://host:8786, or dask = \"tcp://...\" in [study]; local workers run any trial")
    if options.pop("retries", None) is not None:
        console.print("retries apply on a Dask cluster (a trial again when its worker's machine is lost); here they "
                      "are left out: a local worker that crashes fails its trial, and the study goes on", markup=False)


def _nothing_completed(failures: list[str], location: str) -> str:
    """Why a run completed no trial: its commonest failure, and where every reason is kept."""
    from collections import Counter

    from moo_hpo.execution.failures import failure_kind

    text = "no trial completed"
    if failures:
        kinds = Counter(failure_kind(f) for f in failures)  # one kind apart from its numbers (a returned value)
        kind, times = kinds.most_common(1)[0]
        reason = next(f for f in failures if failure_kind(f) == kind)
        text += f"; {'every one of' if times == len(failures) else f'{times} of'} the {len(failures)} failed trials: {reason}"
    if location == ":memory:":
        return text + " (the study was kept in memory: give storage = \"study.db\" in [study] to keep every trial's reason)"
    return text + f" (every trial's reason is stored in the study: moo-hpo report {location})"


@app.command()
@handle_errors
def report(
    path: str = typer.Argument(..., metavar="PATH", help="A study file (SQLite) or sqlite:///FILE."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="report.html, report.md or report.json"),
    figures: Path = typer.Option(None, "--figures", help="With a .md report: a folder for its static PNG figures, "
                                 "which the Markdown links."),
) -> None:
    """Write the report of a stored study (HTML, Markdown or JSON by suffix).

    Prints its trials by status and, when trials reported intermediate metrics, what early stopping saved.
    """
    from moo_hpo.reports.sections import compute_saved_text

    _figures_with_markdown(figures, output)
    replaced = _replaced(output)
    with _load(path) as study:
        result = mh.report(study)
        written = result.save(output, figures=figures)
        console.print(counts_text(study), highlight=False, markup=False)
    saved = compute_saved_text(result.data.get("compute_saved"))
    if saved:
        console.print(f"early stopping: {saved}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"report: {written}{replaced}", markup=False)


@app.command()
@handle_errors
def front(
    path: str = typer.Argument(..., metavar="PATH", help="A study file (SQLite) or sqlite:///FILE."),
    limit: int = typer.Option(FRONT_ROWS, "--limit", min=0, help="Rows at most: a larger front is shown spread along the "
                              "first objective (0: every trial on it)."),
) -> None:
    """Print the Pareto front of a stored study and its trials by status (pruned trials are never on the front)."""
    with _load(path) as study:
        title = f"Pareto front of {study.name} ({study.n_feasible} feasible of {len(study.trials)} trials)"  # as run says
        console.print(front_table(study, title=title, limit=limit))
        console.print(counts_text(study), highlight=False, markup=False)


@app.command()
@handle_errors
def audit(
    path: str = typer.Argument(..., metavar="PATH", help="A study file (SQLite) or sqlite:///FILE."),
    accuracy: str = typer.Option("accuracy", help="Accuracy metric."),
    gap: str = typer.Option("eo_diff", help="Fairness gap metric."),
    bound: float = typer.Option(None, help="Largest acceptable gap (default: the study's constraint)."),
    output: Path = typer.Option(Path("fairness_audit.html"), "--output", "-o", help="audit.html, .md or .json"),
    trial: list[int] = typer.Option(None, "--trial", "-t", help="A trial to audit and choose among (repeatable; default: "
                                    "the accuracy-vs-gap front, choosing among all trials)."),
    figures: Path = typer.Option(None, "--figures", help="With a .md audit: a folder for its static PNG figure, which "
                                 "the Markdown links."),
) -> None:
    """Fairness audit of a stored study: accuracy vs. gap, per-group figures, summary."""
    _figures_with_markdown(figures, output)
    with _load(path) as study:
        result = mh.fairness_audit(study, accuracy=accuracy, gap=gap, bound=bound, trials=trial or None)
    replaced = _replaced(output)
    written = result.save(output, figures=figures)
    console.print(result.summary, highlight=False, markup=False)
    console.print(f"audit: {written}{replaced}", markup=False)


@app.command()
@handle_errors
def sizing(
    path: str = typer.Argument(..., metavar="PATH", help="A study file (SQLite) or sqlite:///FILE."),
    device: list[str] = typer.Option(..., "--device", "-d", help="name:size=KB,latency=MS,energy=J,memory=KB (repeatable; units: 40kB, "
                                     "1.5MB, 40000B, 500us, 2mJ; a kB is a KiB); size_metric= (latency_, energy_, memory_metric=) "
                                     "names the metric a budget applies to (default size_kb, latency_p99_ms, energy_per_inference_j, "
                                     "peak_memory_kb); device=cuda where it runs."),
    objective: str = typer.Option(None, help="Objective to optimize per device (default: the first)."),
    output: Path = typer.Option(Path("sizing.csv"), "--output", "-o", help="CSV file."),
) -> None:
    """Per device budget, the best feasible model that fits (table and CSV)."""
    from moo_hpo.reports.estimates import labelled
    from moo_hpo.reports.sizing import profile_from_text, write_csv

    if output.suffix.lower() != ".csv":
        raise CliError(f"-o must name a .csv file; received {str(output)!r}")
    if output.exists() and (output.resolve() == _study_file(path).resolve() or is_study_file(output)):
        raise CliError(f"-o {str(output)!r} is a study file; the table would overwrite it: name another file")
    profiles = [profile_from_text(d) for d in device]
    names = [p.name for p in profiles]
    if len(set(names)) < len(names):
        raise CliError(f"device names must differ; received {sorted({n for n in names if names.count(n) > 1})} more than once")
    with _load(path) as study:
        results = mh.size_for_devices(study, profiles, objective=objective)
        table = Table("device", "budgets", "best trial", "fitting", "why", title="Device sizing")
        for r in results:
            budgets = ", ".join(f"{labelled(m, r.estimates)} <= {b:g}" for m, b in r.profile.limits()) or "none"
            table.add_row(escape(r.profile.name), escape(budgets), f"#{r.best.number}" if r.best else "-", str(r.n_fitting), escape(r.reason))
        console.print(table)
    replaced = _replaced(output)
    console.print(f"csv: {write_csv(results, output)}{replaced}", markup=False)


@app.command()
@handle_errors
def serve(
    path: str = typer.Argument(..., metavar="PATH", help="A study file (SQLite) or sqlite:///FILE, possibly being written by "
                               "another process."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (the default keeps the page to this machine)."),
    port: int = typer.Option(8080, help="Port to listen on; 0 picks a free one."),
    refresh: float = typer.Option(2.0, help="Seconds between the page's checks of the study."),
) -> None:
    """A live view of a study in the browser: front, hypervolume, failures, trials; read-only; Ctrl-C stops it."""
    from moo_hpo.reports.live import serve as serve_live

    file = _study_file(path)
    try:
        serve_live(file, host=host, port=port, refresh=refresh)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(130)  # stopped by Ctrl-C (the server returns once it has shut down)


def main() -> None:
    """The ``moo-hpo`` command (and ``python -m moo_hpo``)."""
    if "--debug" not in sys.argv[1:]:
        warnings.showwarning = _show_warning  # this process is the command's: the CLI calling app() in-process is not
    app()


if __name__ == "__main__":  # python -m moo_hpo.cli
    main()
