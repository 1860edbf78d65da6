from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

import moo_hpo as mh
from moo_hpo.cli import app
from moo_hpo.fronts import pareto_mask
from tests.reports.conftest import early_stopping_study

runner = CliRunner()

ENTRY = textwrap.dedent(
    """
    def evaluate(config):
        x = config["x"]
        return {"accuracy": 1 - (x - 0.3) ** 2, "eo_diff": x / 5, "latency_p99_ms": 1 + x, "size_kb": 10 + 100 * x}
    """
)

TOML = textwrap.dedent(
    """
    [study]
    name = "toml study"
    entry = "cli_entry:evaluate"
    storage = "study.db"
    optimizer = "{optimizer}"
    seed = 3
    n_trials = 12

    [space.x]
    type = "float"
    low = 0.0
    high = 1.0

    [space.act]
    type = "categorical"
    choices = ["relu", "tanh"]

    [[objectives]]
    name = "accuracy"
    direction = "maximize"

    [[objectives]]
    name = "eo_diff"
    direction = "minimize"

    [[constraints]]
    name = "eo_diff"
    at_most = 0.04
    """
)


@pytest.fixture
def toml_study(tmp_path):
    (tmp_path / "cli_entry.py").write_text(ENTRY)
    (tmp_path / "study.toml").write_text(TOML.format(optimizer="sobol"))
    result = runner.invoke(app, ["run", str(tmp_path / "study.toml")])
    assert result.exit_code == 0, result.output
    return tmp_path


def test_run_from_toml(toml_study):
    with mh.Study.load(toml_study / "study.db", read_only=True) as study:
        assert len(study.trials) == 12 and study.name == "toml study" and study.seed == 3
        trials = study.trials
        front = study.pareto_front()
    # the bound binds: accuracy peaks at x = 0.3 (eo_diff 0.06), so without the constraint the best
    # trials near that peak would be on the front and break eo_diff <= 0.04
    assert front and all(t.metrics["eo_diff"] <= 0.04 for t in front)
    assert any(t.metrics["eo_diff"] > 0.04 for t in trials)
    Y = np.array([[-t.metrics["accuracy"], t.metrics["eo_diff"]] for t in trials])
    unconstrained = [t for t, keep in zip(trials, pareto_mask(Y), strict=True) if keep]
    assert any(t.metrics["eo_diff"] > 0.04 for t in unconstrained), "the constraint must change the front"


def test_report_front_audit_and_sizing_commands(toml_study):
    db = str(toml_study / "study.db")
    with mh.Study.load(db, read_only=True) as study:
        front = {t.number for t in study.pareto_front()}
    out = runner.invoke(app, ["report", db, "-o", str(toml_study / "r.html")])
    html = (toml_study / "r.html").read_text()
    assert out.exit_code == 0 and "toml study" in html and "eo_diff &lt;= 0.04" in html
    assert html.count('class="plotly-graph-div"') >= 2  # the front and the hypervolume history
    out = runner.invoke(app, ["report", db, "-o", str(toml_study / "r.md")])
    assert out.exit_code == 0 and "## Front trials" in (toml_study / "r.md").read_text()
    out = runner.invoke(app, ["front", db])
    assert out.exit_code == 0 and "accuracy (max)" in out.output
    with mh.Study.load(db, read_only=True) as study:
        assert f"({study.n_feasible} feasible of 12 trials)" in " ".join(out.output.split())  # as run counts them
    listed = {int(m) for m in re.findall(r"^\W\s*(\d+)\s*\W", out.output, flags=re.MULTILINE)}
    assert listed == front, out.output  # exactly the study's front, the constraint applied
    out = runner.invoke(app, ["audit", db, "-o", str(toml_study / "a.html")])
    assert out.exit_code == 0 and "most accurate model" in out.output
    out = runner.invoke(app, ["audit", db, "-t", "2", "--trial", "5", "-o", str(toml_study / "a.json")])
    assert out.exit_code == 0, out.output
    assert [r["number"] for r in json.loads((toml_study / "a.json").read_text())["trials"]] == [2, 5]  # those trials
    out = runner.invoke(app, ["audit", db, "-t", "99", "-o", str(toml_study / "a.json")])
    assert out.exit_code != 0 and "trials [99] are not in the study" in one_line_error(out)
    out = runner.invoke(app, ["sizing", db, "-d", "small:size=30,latency=1.2", "-d", "big:size=200", "-o", str(toml_study / "s.csv")])
    assert out.exit_code == 0, out.output
    assert "small" in out.output and len((toml_study / "s.csv").read_text().splitlines()) == 3
    units = runner.invoke(app, ["sizing", db, "-d", "small:size=30kB,latency=1200us", "-d", "big:size=0.1953125MB",
                                "-o", str(toml_study / "units.csv")])
    assert units.exit_code == 0, units.output  # the same budgets with units: the same table
    assert (toml_study / "units.csv").read_text() == (toml_study / "s.csv").read_text()
    assert "replaced" not in units.output
    again = runner.invoke(app, ["sizing", db, "-d", "small:size=30", "-o", str(toml_study / "units.csv")])
    assert "(replaced the file that was there)" in again.output  # a default -o names a file a run may have written
    twice = runner.invoke(app, ["sizing", db, "-d", "small:size=30", "-d", "small:size=200"])
    assert "device names must differ; received ['small'] more than once" in one_line_error(twice)
    budget = runner.invoke(app, ["sizing", db, "-d", "small:size=30,size=1"])
    assert "device 'small:size=30,size=1': size= given twice; expected each key once" in one_line_error(budget)
    # a budget on a metric of the user's naming: here the study's fairness gap, at most 0.01
    named = runner.invoke(app, ["sizing", db, "-d", "fair:size=0.01,size_metric=eo_diff", "-o", str(toml_study / "n.csv")])
    assert named.exit_code == 0, named.output
    with mh.Study.load(db, read_only=True) as study:
        fitting = [t for t in study.feasible_trials() if t.metrics["eo_diff"] <= 0.01]
    row = (toml_study / "n.csv").read_text().splitlines()[1]
    assert ",eo_diff," in row and f",{len(fitting)},best accuracy" in row
    empty = runner.invoke(app, ["sizing", db, "-d", "fair:size=1,size_metric="])
    assert "size_metric= needs a metric name, such as size_metric=size_kb_int8" in one_line_error(empty)
    # the user's text is text: no rich markup in a device name, no emoji from a path
    marked = runner.invoke(app, ["sizing", db, "-d", "x[bold]y:size=200", "-o", str(toml_study / "m.csv")])
    assert marked.exit_code == 0 and "x[bold]y" in marked.output, marked.output
    missing = runner.invoke(app, ["report", str(toml_study / "my:smile:study.db")])
    assert "my:smile:study.db" in one_line_error(missing)
    held_out = runner.invoke(app, ["audit", db, "--gap", "holdout_eo_diff"])
    assert "chooses on the figures the study selected on" in one_line_error(held_out)


def test_the_commands_take_a_study_file_as_a_sqlite_url(toml_study):
    url = "sqlite:///" + str(toml_study / "study.db")  # Optuna's form, as the study's storage= takes it
    out = runner.invoke(app, ["front", url])
    assert out.exit_code == 0 and "accuracy (max)" in out.output, out.output
    out = runner.invoke(app, ["report", url, "-o", str(toml_study / "u.md")])
    assert out.exit_code == 0 and "## Front trials" in (toml_study / "u.md").read_text()
    out = runner.invoke(app, ["audit", url, "-o", str(toml_study / "u.html")])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["sizing", url, "-d", "big:size=200", "-o", str(toml_study / "u.csv")])
    assert out.exit_code == 0 and len((toml_study / "u.csv").read_text().splitlines()) == 2, out.output
    missing = runner.invoke(app, ["front", "sqlite:///" + str(toml_study / "none.db")])
    assert f"no study file at {str(toml_study / 'none.db')!r}" in one_line_error(missing)
    memory = runner.invoke(app, ["serve", "sqlite:///:memory:"])
    assert "names no file" in one_line_error(memory)


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_file_is_one_line(tmp_path):
    for args in (["front", str(tmp_path / "nope.db")], ["report", str(tmp_path / "nope.db")], ["run", str(tmp_path / "nope.toml")]):
        assert "error:" in one_line_error(runner.invoke(app, args))


def test_malformed_toml_is_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("[study\nname = ")
    said = one_line_error(runner.invoke(app, ["run", str(tmp_path / "bad.toml")]))
    assert said.startswith("error: ") and f"{str(tmp_path / 'bad.toml')!r} is not valid TOML: " in said  # named, as others
    assert "(at line 1, column 7)" in said


def test_unknown_optimizer_is_one_line(tmp_path):
    (tmp_path / "cli_entry.py").write_text(ENTRY)
    (tmp_path / "study.toml").write_text(TOML.format(optimizer="simulated-annealing"))
    line = one_line_error(runner.invoke(app, ["run", str(tmp_path / "study.toml")]))
    assert "unknown optimizer 'simulated-annealing'" in line


def test_bad_definitions_are_one_line(tmp_path):
    (tmp_path / "cli_entry.py").write_text(ENTRY)
    bad = TOML.format(optimizer="sobol").replace("high = 1.0", "high = -1.0")
    (tmp_path / "study.toml").write_text(bad)
    assert "low < high" in one_line_error(runner.invoke(app, ["run", str(tmp_path / "study.toml")]))
    (tmp_path / "study.toml").write_text(TOML.format(optimizer="sobol").replace("cli_entry:evaluate", "cli_entry:missing"))
    assert "no callable 'missing'" in one_line_error(runner.invoke(app, ["run", str(tmp_path / "study.toml")]))
    (tmp_path / "study.toml").write_text(TOML.format(optimizer="sobol").replace("cli_entry:evaluate", "cli_entry:evaluat"))
    assert "has no callable 'evaluat'; did you mean 'evaluate'?" in one_line_error(runner.invoke(app, ["run", str(tmp_path / "study.toml")]))
    assert "unknown key 'weight'" in one_line_error(runner.invoke(app, ["sizing", str(tmp_path / "x.db"), "-d", "a:weight=3"]))
    assert "device 'mcu' has no budget: give at least one of size=, latency=, energy=, memory= (such as mcu:size=64)" in one_line_error(
        runner.invoke(app, ["sizing", str(tmp_path / "x.db"), "-d", "mcu"]))


def test_debug_shows_the_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "front", str(tmp_path / "nope.db")])
    assert result.exit_code != 0 and result.exception is not None


def test_demo_command(tmp_path):
    result = runner.invoke(app, ["demo", "--trials", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.output and "3 trials: " in result.output  # the counts an empty front refers to
    assert (tmp_path / "report.html").exists() and (tmp_path / "fairness_audit.html").exists()
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert len(study.trials) == 3 and {"accuracy", "eo_diff", "latency_p99_ms", "size_kb"} <= set(study.trials[0].metrics)
    again = runner.invoke(app, ["demo", "--trials", "4", "--out", str(tmp_path)])  # resumed, topped up to 4
    assert again.exit_code == 0 and "resuming 'adult-mlp-tradeoffs' from" in again.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert len(study.trials) == 4


def test_markdown_reports_and_audits_take_a_folder_for_their_figures(toml_study):
    # the command line wrote Markdown without figures, and had no way to ask for them
    db = str(toml_study / "study.db")
    out = runner.invoke(app, ["report", db, "-o", str(toml_study / "r.md"), "--figures", str(toml_study / "figs")])
    assert out.exit_code == 0, out.output
    pngs = sorted(p.name for p in (toml_study / "figs").glob("*.png"))
    assert pngs and all(f"](figs/{name})" in (toml_study / "r.md").read_text() for name in pngs)
    out = runner.invoke(app, ["audit", db, "-o", str(toml_study / "a.md"), "--figures", str(toml_study / "audit_figs")])
    assert out.exit_code == 0, out.output
    assert "](audit_figs/fairness_front.png)" in (toml_study / "a.md").read_text()
    assert (toml_study / "audit_figs" / "fairness_front.png").stat().st_size > 0
    out = runner.invoke(app, ["report", db, "-o", str(toml_study / "r.html"), "--figures", str(toml_study / "figs")])
    said = one_line_error(out)
    assert out.exit_code != 0 and f"--figures goes with a Markdown output (-o {toml_study / 'r.md'}); received -o" in said
    out = runner.invoke(app, ["report", db, "-o", ".", "--figures", str(toml_study / "figs")])  # no name to suffix
    assert out.exit_code != 0 and "--figures goes with a Markdown output (-o report.md); received -o '.'" in one_line_error(out)


def test_the_demo_audit_names_the_sensitive_attribute(tmp_path):
    from moo_hpo.demo import run_demo

    study = run_demo(n_trials=2, seed=0, storage=None, show_progress=False)
    groups = study.trials[0].extra["fairness"]["by_group"]
    assert {"sex"} <= set(groups[0]) and "sensitive_feature_0" not in groups[0]


def test_front_and_report_count_pruned_trials(tmp_path):
    stored = early_stopping_study(tmp_path / "study.db")
    line = "7 trials: 3 complete (3 feasible), 2 pruned, 1 failed, 1 running"
    out = runner.invoke(app, ["front", stored])
    assert out.exit_code == 0 and line in out.output, out.output
    assert {int(m) for m in re.findall(r"^\W\s*(\d+)\s*\W", out.output, flags=re.MULTILINE)} == {0, 3}  # never a pruned one
    out = runner.invoke(app, ["report", stored, "-o", str(tmp_path / "r.html")])
    assert out.exit_code == 0 and line in out.output, out.output
    assert "early stopping: 4 trials trained 22 steps of the 36" in out.output.replace("\n", " ")
    assert "Learning curves" in (tmp_path / "r.html").read_text()


def test_without_reports_the_commands_say_nothing_of_pruning(tmp_path):
    path = tmp_path / "plain.db"
    with mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f1"), mh.Minimize("f2")], storage=path, seed=0, optimizer="random") as study:
        study.optimize(lambda c: {"f1": c["x"], "f2": 1 - c["x"]}, n_trials=3, show_progress=False)
    out = runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.md")])
    assert out.exit_code == 0 and "3 trials: 3 complete (3 feasible), 0 failed" in out.output
    assert "pruned" not in out.output and "early stopping" not in out.output
    out = runner.invoke(app, ["front", str(path)])
    assert out.exit_code == 0 and "3 trials: 3 complete (3 feasible), 0 failed" in out.output and "pruned" not in out.output


def test_front_of_a_study_whose_repeats_showed_noise_is_the_models(tmp_path):
    path = tmp_path / "noisy.db"

    def noisy(config, trial):
        rng = np.random.default_rng(trial.seed)
        return {"f1": config["x"] + rng.normal(0, 0.1), "f2": 1 - config["x"] + config["y"] + rng.normal(0, 0.1)}

    space = {"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)}
    with mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], storage=path, seed=0, optimizer="random") as study:
        study.optimize(noisy, n_trials=12, show_progress=False)
        assert "by the model" not in runner.invoke(app, ["front", str(path)]).output.replace("\n", " ")
        study.reevaluate(noisy, top_k=1, repeats=1, show_progress=False)
        numbers = {t.number for t in study.pareto_front()}
    out = runner.invoke(app, ["front", str(path)])
    assert out.exit_code == 0 and "chosen by the model's estimates (the metrics are noisy; measured values shown)" in " ".join(out.output.split())
    assert {int(m) for m in re.findall(r"^\W\s*(\d+)\s*\W", out.output, flags=re.MULTILINE)} == numbers


def test_front_of_a_study_without_a_feasible_trial_says_so(tmp_path):
    path = tmp_path / "none.db"
    with mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("f1", -1.0)],
                  storage=path, seed=0, optimizer="random") as study:
        study.optimize(lambda c: {"f1": c["x"], "f2": 1 - c["x"]}, n_trials=3, show_progress=False)
    out = runner.invoke(app, ["front", str(path)])
    assert out.exit_code == 0 and "no feasible trial yet: the front is empty" in out.output.replace("\n", " ")
    assert "3 complete (0 feasible)" in out.output
    closest = min(study.trials, key=lambda t: t.metrics["f1"]).number  # the least violating, as the report names it
    assert f"the least violating is trial #{closest}" in " ".join(out.output.split())


def test_python_dash_m_runs_the_command_line(tmp_path):
    import subprocess
    import sys

    for module in ("moo_hpo", "moo_hpo.cli"):
        done = subprocess.run([sys.executable, "-m", module, "front", str(tmp_path / "nope.db")], capture_output=True, text=True, timeout=120)
        # the error on standard error, so that `moo-hpo front x.db > front.txt` does not hide it in the file
        assert done.returncode == 1 and "no study file" in done.stderr and done.stdout == "", (module, done.stdout, done.stderr)


def test_a_front_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    import subprocess
    import sys

    space = mh.Space({"x": mh.Float(0, 1), "a_long_parameter_name": mh.Float(0, 1), "another_long_one": mh.Float(0, 1)})
    with mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], storage=tmp_path / "s.db", seed=0, optimizer="random") as study:
        # every trial on the front, and more rows than a pipe's buffer holds (so the writer meets the closed pipe)
        for t in study.ask(1500):
            study.tell(t, {"f1": t.config["x"], "f2": 1 - t.config["x"]})
    command = f"{sys.executable} -m moo_hpo front {tmp_path / 's.db'} --limit 0 | head -2; echo ${{PIPESTATUS[0]}} >&2"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    # as a Unix tool stopped by SIGPIPE (before: status 1, an error to a script with `set -o pipefail`)
    assert len(done.stdout.splitlines()) == 2 and done.stderr.strip().splitlines()[-1] == "141", done.stderr
    assert "error" not in done.stderr and "Traceback" not in done.stderr
    # a large front is shown in 50 rows, spread along the first objective, both ends included
    shown = runner.invoke(app, ["front", str(tmp_path / "s.db")])
    rows = [line for line in shown.output.splitlines() if re.match(r"^│\s*\d+\s*│", line)]
    assert len(rows) == 50 and "50 of the 1500 trials on the front, spread along f1 (--limit 0 shows them all)" in " ".join(
        shown.output.split())
    f1 = sorted(float(line.split("│")[2]) for line in rows)
    assert f1[0] == pytest.approx(min(t.metrics["f1"] for t in study.trials), abs=1e-3)
    assert f1[-1] == pytest.approx(max(t.metrics["f1"] for t in study.trials), abs=1e-3)


def test_a_front_written_to_a_pipe_keeps_its_headers_whole(tmp_path):
    import os
    import subprocess
    import sys

    names = ["balanced_accuracy", "latency_p99_ms", "size_kb_int8", "energy_per_inference_j"]
    space = mh.Space({"hidden_units": mh.Int(8, 512), "learning_rate": mh.Float(1e-4, 1e-1, log=True)})
    with mh.Study(space, [mh.Maximize(names[0])] + [mh.Minimize(n) for n in names[1:]], storage=tmp_path / "s.db", seed=0) as study:
        for i, t in enumerate(study.ask(3)):
            study.tell(t, {n: 1.0 + i * (-1) ** k for k, n in enumerate(names)})
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run([sys.executable, "-m", "moo_hpo", "front", str(tmp_path / "s.db")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(f"{n} (m" in done.stdout for n in names) and "…" not in done.stdout, done.stdout


def test_version_and_short_help():
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"moo_hpo {mh.__version__}"
    for argv in (["-h"], ["front", "-h"]):
        shown = runner.invoke(app, argv)
        assert shown.exit_code == 0 and "Usage:" in shown.output, argv


def test_front_marks_the_models_that_predict_one_class(tmp_path):
    path = tmp_path / "fair.db"
    one_class = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.0} for g in "FM"]}}
    both = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.3} for g in "FM"]}}
    with mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], storage=path, seed=0,
                  optimizer="random") as study:
        for metrics, extra in (({"accuracy": 0.85, "eo_diff": 0.2}, both), ({"accuracy": 0.759, "eo_diff": 0.0}, one_class)):
            study.tell(study.ask(), metrics, extra=extra)
    out = " ".join(runner.invoke(app, ["front", str(path)]).output.split())
    assert "#1 predicts one class for everyone (accuracy the base rate, fairness gap 0 by construction): no usable model" in out
    assert "#0 predicts" not in out


def test_front_reads_a_study_whose_extra_data_only_looks_like_a_fairness_table(tmp_path):
    path = tmp_path / "odd.db"
    with mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy")], storage=path, seed=0, optimizer="random") as study:
        for by_group in (None, 3, "text"):
            study.tell(study.ask(), {"accuracy": 0.5}, extra={"group_fairness": {"by_group": by_group}})
    out = runner.invoke(app, ["front", str(path)])
    assert out.exit_code == 0 and "one class" not in out.output, out.output


def test_trials_left_running_by_a_killed_run_are_told_apart_from_running_ones(tmp_path):
    import signal
    import subprocess
    import sys

    path = tmp_path / "k.db"
    code = textwrap.dedent(f"""
        import time, moo_hpo as mh
        study = mh.Study(mh.Space({{"x": mh.Float(0, 1)}}), [mh.Minimize("f")], storage={str(path)!r}, optimizer="random", seed=0)
        study.tell(study.ask(), {{"f": 0.5}})
        running = study.ask(2)
        print("asked", flush=True)
        time.sleep(60)
    """)
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "asked"
        with mh.Study.load(path, read_only=True) as view:  # its run goes on: running, no note
            assert view.count("running") == 2 and view.left_running() == []
        alive = runner.invoke(app, ["front", str(path)])
        assert "2 running" in alive.output and "no process writes" not in alive.output
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    with mh.Study.load(path, read_only=True) as view:
        assert view.left_running() == [1, 2]
    said = " ".join(runner.invoke(app, ["front", str(path)]).output.split())
    assert "2 running (they were running when the study's run stopped: no process writes the study now" in said
    runner.invoke(app, ["report", str(path), "-o", str(tmp_path / "r.md")])
    assert "2 running when the study's run stopped" in (tmp_path / "r.md").read_text()
    with mh.Study.load(path) as resumed:  # opened for writing: interrupted, as said
        assert resumed.count("interrupted") == 2 and resumed.left_running() == []
