"""The TOML study format: the optimizer table and parameter errors."""

from __future__ import annotations

import textwrap

import pytest
from typer.testing import CliRunner

import moo_hpo as mh
from moo_hpo.cli import CliError, app, study_from_toml

runner = CliRunner()

ENTRY = "def evaluate(config):\n    return {'a': config['x'], 'b': (1 - config['x']) ** 2}\n"

BASE = textwrap.dedent(
    """
    [study]
    entry = "entry:evaluate"
    storage = "study.db"
    seed = 1
    n_trials = 16
    {study_extra}

    [space.x]
    type = "float"
    low = 0.0
    high = 1.0

    [[objectives]]
    name = "a"

    [[objectives]]
    name = "b"

    {tail}
    """
)


def write(tmp_path, study_extra: str = "", tail: str = "") -> str:
    (tmp_path / "entry.py").write_text(ENTRY)
    path = tmp_path / "study.toml"
    path.write_text(BASE.format(study_extra=study_extra, tail=tail))
    return str(path)


def test_optimizer_table_sets_name_and_options(tmp_path):
    path = write(tmp_path, tail='[optimizer]\nname = "nsga2"\npop_size = 8\n')
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 0, result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert study.optimizer_info["name"] == "nsga2" and study.optimizer_info["params"]["pop_size"] == 8
        assert len(study.trials) == 16


def test_optimizer_table_errors_name_the_problem(tmp_path):
    from pathlib import Path

    with pytest.raises(mh.ConfigError, match="unknown \\['popsize'\\]"):
        study_from_toml(Path(write(tmp_path, tail='[optimizer]\nname = "nsga2"\npopsize = 8\n')))
    with pytest.raises(CliError, match="needs name"):
        study_from_toml(Path(write(tmp_path, tail="[optimizer]\npop_size = 8\n")))
    with pytest.raises(CliError, match="not both"):
        study_from_toml(Path(write(tmp_path, study_extra='optimizer = "sobol"', tail='[optimizer]\nname = "nsga2"\n')))
    with pytest.raises(CliError, match="takes no options"):
        study_from_toml(Path(write(tmp_path, tail='[optimizer]\nname = "auto"\npop_size = 8\n')))


def test_a_bad_parameter_names_it(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace("low = 0.0", "lo = 0.0"))
    with pytest.raises(CliError, match=r"parameter 'space.x' \(float\): unknown \['lo'\]; expected some of \['low', 'high', "
                                       r"'log', 'active_if'\] \('low' for 'lo'\?\)"):
        study_from_toml(path)
    path.write_text(path.read_text().replace("lo = 0.0", 'low = "0.0"'))
    with pytest.raises(CliError, match=r"parameter 'space.x' \(float\): Float low must be a real number; received '0.0'"):
        study_from_toml(path)


def test_the_entry_must_be_a_file_next_to_the_study_file(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace('entry = "entry:evaluate"', 'entry = "subprocess:getoutput"'))
    with pytest.raises(CliError, match="must name a Python file next to the study file.*--entry"):
        study_from_toml(path)
    assert not (tmp_path / "study.db").exists()  # refused before anything was created
    result = runner.invoke(app, ["run", str(path), "--entry", "entry:evaluate"])  # named by the user: allowed
    assert result.exit_code == 0, result.output
    import sys

    sys.modules.pop("entry", None)  # imported from this folder as any module: the next test's entry.py is another


def test_run_exits_non_zero_when_no_trial_completed(tmp_path):
    import sys
    from pathlib import Path

    path = Path(write(tmp_path))
    (tmp_path / "entry.py").write_text("def evaluate(config):\n    return {'a': config['x'], 'bb': 1.0}\n")  # 'b' misspelt
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code != 0
    assert "all failed the same way" in result.output and "'bb' looks like 'b'" in result.output
    counted = "the study counts them in its n_trials: delete the file to run them all afresh)"
    assert f"stay in {tmp_path / 'study.db'}; run again, {counted}" in " ".join(result.output.split())
    path.write_text(path.read_text().replace('storage = "study.db"', ""))  # kept in memory: no file counts them
    sys.modules.pop("entry", None)
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code != 0 and "all failed the same way" in result.output
    assert "stay in the study" in " ".join(result.output.split()) and "n_trials" not in result.output


def test_a_run_that_completed_nothing_says_why_and_where_the_reasons_are(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    (tmp_path / "entry.py").write_text("def evaluate(config):\n    raise RuntimeError('out of memory')\n")
    result = runner.invoke(app, ["run", str(path), "--trials", "3"])
    assert result.exit_code != 0
    said = " ".join(result.output.split())
    assert "no trial completed; every one of the 3 failed trials: RuntimeError: out of memory" in said
    assert f"(every trial's reason is stored in the study: moo-hpo report {tmp_path / 'study.db'})" in said
    # failures that differ only in a returned value are one kind (before: "1 of the 3 failed trials")
    listing = tmp_path / "listing"
    listing.mkdir()
    (listing / "listing_entry.py").write_text("def evaluate(config):\n    return [config['x'], 1.0]\n")
    (listing / "study.toml").write_text(path.read_text().replace("entry:evaluate", "listing_entry:evaluate"))
    said = " ".join(runner.invoke(app, ["run", str(listing / "study.toml"), "--trials", "3"]).output.split())
    assert "no trial completed; every one of the 3 failed trials: the objective returned list" in said
    path.write_text(path.read_text().replace('storage = "study.db"', ""))  # a study kept in memory
    said = " ".join(runner.invoke(app, ["run", str(path), "--trials", "3"]).output.split())
    assert 'the study was kept in memory: give storage = "study.db" in [study] to keep every trial\'s reason' in said


def test_n_trials_is_the_studys_total(tmp_path):
    path = write(tmp_path, tail='[optimizer]\nname = "sobol"\n')  # n_trials = 16 in the file
    assert runner.invoke(app, ["run", path, "--trials", "10"]).exit_code == 0
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 0 and "10 trials stored, 6 to run" in result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert len(study.trials) == 16
    assert runner.invoke(app, ["run", path]).exit_code == 0  # complete already: nothing more
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert len(study.trials) == 16


def test_a_pruner_table_stops_trials_early_and_the_stored_study_keeps_it(tmp_path):
    from pathlib import Path

    (tmp_path / "curves.py").write_text(
        "def evaluate(config, trial):\n"
        "    for epoch in range(1, 10):\n"
        "        trial.report(epoch, {'a': config['x'] + 1 / epoch, 'b': (1 - config['x']) ** 2 + 1 / epoch})\n"
        "        if trial.should_prune():\n"
        "            break\n"
        "    return {'a': config['x'], 'b': (1 - config['x']) ** 2}\n"
    )
    path = Path(write(tmp_path, tail='[pruner]\nname = "moasha"\nmin_resource = 1\nmax_resource = 9\n'))
    path.write_text(path.read_text().replace('entry = "entry:evaluate"', 'entry = "curves:evaluate"'))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    assert "pruned" in result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert study.count("pruned") > 0 and study.count("pruned") + study.count("complete") == 16
        assert isinstance(study.pruner, mh.pruners.MOASHA) and study.pruner.max_resource == 9  # rebuilt from the store
    with pytest.raises(mh.ConfigError, match="pruner 'moasha' takes the options"):
        study_from_toml(Path(write(tmp_path, tail='[pruner]\nname = "moasha"\nmax_steps = 9\n')))
    with pytest.raises(mh.ConfigError, match="unknown pruner 'asha'"):
        study_from_toml(Path(write(tmp_path, tail='[pruner]\nname = "asha"\n')))


def test_misspelled_tables_and_keys_are_refused_not_ignored(tmp_path):
    from pathlib import Path

    bound = '[[constraint]]\nname = "a"\nat_most = 0.5\n'  # [[constraints]] misspelled: its bound would vanish
    with pytest.raises(CliError, match=r"the TOML: unknown \['constraint'\]; expected some of .*'constraints' for 'constraint'\?"):
        study_from_toml(Path(write(tmp_path, tail=bound)))
    with pytest.raises(CliError, match=r"\[study\]: unknown \['sed'\].*'seed' for 'sed'\?"):
        study_from_toml(Path(write(tmp_path, study_extra="sed = 2")))
    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace('name = "b"', 'name = "b"\ndirecton = "maximize"'))
    with pytest.raises(CliError, match=r"objective 'b': unknown \['directon'\].*'direction' for 'directon'\?"):
        study_from_toml(path)
    with pytest.raises(CliError, match=r"\[study\] n_trials must be an integer >= 1; received '8'"):
        study_from_toml(_with(tmp_path, "n_trials = 16", 'n_trials = "8"'))


def test_an_objective_direction_may_be_min_or_max_and_a_wrong_one_names_the_objective(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace('name = "b"', 'name = "b"\ndirection = "max"'))
    study, _, _ = study_from_toml(path)
    assert [o.direction for o in study.objectives] == ["minimize", "maximize"]
    study.close()
    (tmp_path / "study.db").unlink()
    path.write_text(path.read_text().replace('direction = "max"', 'direction = "up"'))
    with pytest.raises(CliError, match=r"objective 'b': direction must be 'minimize' or 'maximize' \('min', 'max'\); received 'up'"):
        study_from_toml(path)


def _with(tmp_path, old: str, new: str):
    from pathlib import Path

    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace(old, new))
    return path


def test_cli_errors_keep_the_table_names_and_refuse_a_non_positive_budget(tmp_path):
    path = _with(tmp_path, "n_trials = 16\n", "")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1
    assert "give a budget: n_trials or timeout in [study], or --trials" in result.output  # not swallowed as markup
    result = runner.invoke(app, ["run", str(path), "--trials", "0"])
    assert result.exit_code == 1 and "--trials must be at least 1; received 0" in result.output


def test_a_toml_of_the_wrong_shape_or_types_is_one_clear_line(tmp_path, monkeypatch):

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # '~' below: a home of the test's own
    (tmp_path / "home").mkdir()

    single = _with(tmp_path, '[[objectives]]\nname = "a"\n\n[[objectives]]\nname = "b"', '[objectives]\nname = "a"')
    with pytest.raises(CliError, match=r"objectives must be a list of tables, each written as \[\[objectives\]\] \(double brackets\); received \{'name': 'a'\}"):
        study_from_toml(single)
    with pytest.raises(CliError, match=r"\[space.x\] must be a table \(type = \.\.\., low = \.\.\., high = \.\.\.\); received 3"):
        study_from_toml(_with(tmp_path, '[space.x]\ntype = "float"\nlow = 0.0\nhigh = 1.0', "[space]\nx = 3"))
    for old, new, message in (('entry = "entry:evaluate"', "entry = 5", r"\[study\] entry must be 'module:function'; received 5"),
                              ('storage = "study.db"', "storage = 5", r"\[study\] storage must be a file path; received 5"),
                              ('storage = "study.db"', 'storage = "runs/"', r"storage must name a file .* received the folder 'runs/'"),
                              ("seed = 1", "seed = 1\nretries = -1", r"\[study\] retries must be an integer >= 0; received -1")):
        with pytest.raises(CliError, match=message):
            study_from_toml(_with(tmp_path, old, new))
    home = study_from_toml(_with(tmp_path, 'storage = "study.db"', 'storage = "~/in_home.db"'), entry=None)
    home[0].close()
    assert (tmp_path / "home" / "in_home.db").exists() and not (tmp_path / "~").exists()


@pytest.mark.parametrize(("code", "said"), [("def evaluate(config)\n    return {}\n", "SyntaxError"),
                                            ("raise RuntimeError('no GPU here')\n", "RuntimeError: no GPU here")])
def test_an_entry_that_fails_to_import_is_one_line(tmp_path, code, said):
    path = write(tmp_path)
    (tmp_path / "entry.py").write_text(code)
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 1 and "entry 'entry:evaluate': importing entry failed" in result.output and said in result.output
    assert "Traceback" not in result.output


def test_a_study_file_given_to_run_and_a_table_written_over_a_study_are_refused(tmp_path):
    path = write(tmp_path)
    assert runner.invoke(app, ["run", path]).exit_code == 0
    db = str(tmp_path / "study.db")
    result = runner.invoke(app, ["run", db])
    assert result.exit_code == 1 and "is a study file (SQLite), not a TOML study description" in result.output
    import shutil

    shutil.copy(db, tmp_path / "backup.csv")  # a study under a .csv name
    for out, said in ((str(tmp_path / "backup.csv"), "is a study file; the table would overwrite it"),
                      (db, "-o must name a .csv file"), (str(tmp_path / "s.json"), "-o must name a .csv file")):
        result = runner.invoke(app, ["sizing", db, "-d", "a:size=1", "-o", out])
        assert result.exit_code == 1 and said in result.output, result.output
    with mh.Study.load(db, read_only=True) as study:
        assert len(study.trials) == 16  # the study is still there
    assert "--trials must be at least 1; received 0" in runner.invoke(app, ["demo", "--trials", "0", "--out", str(tmp_path / "d")]).output


def test_names_with_brackets_are_text_not_markup(tmp_path):
    path = write(tmp_path, study_extra='name = "exp[/x]"')
    path_text = open(path).read().replace('name = "b"', 'name = "[bold]b[/bold]"')
    open(path, "w").write(path_text)
    (tmp_path / "entry.py").write_text("def evaluate(config):\n    return {'a': config['x'], '[bold]b[/bold]': 1 - config['x']}\n")
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 0, result.output
    front = runner.invoke(app, ["front", str(tmp_path / "study.db")])
    assert front.exit_code == 0 and "exp[/x]" in front.output and "[bold]b[/bold] (min)" in front.output


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    path = write(tmp_path)
    starts = tmp_path / "starts"
    (tmp_path / "entry.py").write_text(
        "import time\n\ndef evaluate(config):\n"
        f"    with open({str(starts)!r}, 'a') as fh:\n        fh.write('x\\n')\n"
        "    time.sleep(2.0)\n    return {'a': config['x'], 'b': 1 - config['x']}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, "-m", "moo_hpo", "run", path], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not starts.exists() or len(starts.read_text().split()) < 2):
        time.sleep(0.05)  # until the second trial has started: one complete, one running
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated (SIGTERM)" in output, output  # 128 + SIGTERM, as a scheduler expects
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert study.count("running") == 0 and study.count("interrupted") == 1 and study.count("complete") == 1


def test_the_moo_hpo_command_finds_an_entry_in_the_current_folder(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("moo-hpo")
    assert script.exists(), "make install puts the moo-hpo command beside the interpreter"
    path = write(tmp_path)
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "mymod.py").write_text(ENTRY)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(script), "run", path, "--entry", "mymod:evaluate", "--trials", "2"], cwd=tmp_path / "here",
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_warning_is_one_line_on_the_command_line(tmp_path):
    import os
    import subprocess
    import sys

    path = write(tmp_path, tail='[pruner]\nname = "moasha"\nmin_resource = 1\nmax_resource = 9\n')  # the entry takes no trial
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-m", "moo_hpo", "run", path, "--trials", "2"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if "takes no trial" in ln]
    assert line.startswith("warning: the study has a pruner") and "cli.py" not in done.stderr and "UserWarning" not in done.stderr


@pytest.mark.parametrize("name", ["json", "csv", "plotly"])
def test_an_entry_named_as_a_module_of_python_or_of_a_package_is_refused(tmp_path, name):
    # before, json.py beside the study stood in for Python's json (moo_hpo's storage got it): a raw traceback
    path = write(tmp_path, study_extra="")
    (tmp_path / f"{name}.py").write_text(ENTRY)
    text = open(path).read().replace('entry = "entry:evaluate"', f'entry = "{name}:evaluate"')
    open(path, "w").write(text)
    result = runner.invoke(app, ["run", path])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and f"{name}.py has the name of" in said and "rename it" in said, result.output
    assert "Traceback" not in result.output


def test_an_entry_in_a_package_named_as_an_installed_one_names_the_folder(tmp_path, monkeypatch):
    path = write(tmp_path)
    (tmp_path / "plotly").mkdir()
    (tmp_path / "plotly" / "__init__.py").write_text("")
    (tmp_path / "plotly" / "helpers.py").write_text(ENTRY)
    text = open(path).read().replace('entry = "entry:evaluate"', 'entry = "plotly.helpers:evaluate"')
    open(path, "w").write(text)
    monkeypatch.chdir(tmp_path)  # run from the study's folder too: the local folder is no excuse
    said = " ".join(runner.invoke(app, ["run", "study.toml"]).output.split())
    assert "entry 'plotly.helpers:evaluate': plotly/ has the name of an installed module 'plotly'" in said


def test_an_entry_that_calls_sys_exit_in_the_study_process_is_one_error_line(tmp_path):
    # before, `moo-hpo run` ended silently with the entry's own exit code
    path = write(tmp_path)
    (tmp_path / "entry.py").write_text("import sys\n\ndef evaluate(config):\n    sys.exit(3)\n")
    result = runner.invoke(app, ["run", path])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "error: the objective called sys.exit(3) in the study's process, which stops the study" in said


def test_run_shows_a_large_front_in_50_rows_and_says_how_to_see_it_all(tmp_path):
    path = write(tmp_path, study_extra='optimizer = "random"')
    result = runner.invoke(app, ["run", path, "--trials", "60"])  # a = x, b = (1 - x)^2: every trial on the front
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "50 of the 60 trials on the front, spread along a (moo-hpo front " in said
    assert "--limit 0 shows them all)" in said  # the file's path between them (a caption wraps in a narrow table)


def test_an_entry_may_name_its_file(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace('entry = "entry:evaluate"', 'entry = "entry.py:evaluate"'))
    result = runner.invoke(app, ["run", str(path), "--trials", "3"])
    assert result.exit_code == 0, result.output
    assert mh.Study.load(tmp_path / "study.db", read_only=True).count("complete") == 3


def test_a_second_run_of_a_running_study_is_told_how_to_follow_it(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import moo_hpo as mh, sys, time\n"
                               f"s = mh.Study(mh.Space({{'x': mh.Float(0, 1)}}), [mh.Minimize('a')], storage={str(tmp_path / 'study.db')!r})\n"
                               "print('open', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = runner.invoke(app, ["run", path])
    finally:
        holder.kill()
        holder.wait()
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "another process is writing it; moo-hpo front" in said and "--dask" in said and "read_only" not in said


def test_cluster_options_without_a_cluster(tmp_path):
    path = write(tmp_path)
    result = runner.invoke(app, ["run", path, "--resources", "GPU=1"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "resources (what a trial needs of a worker, GPU=1) apply on a Dask cluster: give --dask" in said
    assert not mh.Study.load(tmp_path / "study.db", read_only=True).trials  # refused before any trial
    result = runner.invoke(app, ["run", path, "--retries", "2", "--trials", "2"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "retries apply on a Dask cluster" in said and "executor=" not in said


def test_enqueue_tables_run_first_and_once_across_resumed_runs(tmp_path):
    tail = "[[enqueue]]\nx = 0.25\n\n[[enqueue]]\nx = 0.75\n\n[[enqueue]]\nx = 0.25\n"  # 0.25 twice: two runs of it
    path = write(tmp_path, tail=tail)
    result = runner.invoke(app, ["run", path, "--trials", "4"])
    assert result.exit_code == 0, result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        first = [(t.optimizer, t.config["x"]) for t in study.trials]
    assert first[:3] == [("enqueued", 0.25), ("enqueued", 0.75), ("enqueued", 0.25)]
    assert first[3][0] != "enqueued"
    again = runner.invoke(app, ["run", path, "--trials", "8"])  # resumed: the queue is not run again
    assert again.exit_code == 0, again.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert len(study.trials) == 8 and [t.optimizer for t in study.trials].count("enqueued") == 3
        assert study.queued == []
    # a run stopped before the queue was through keeps the rest queued, not twice
    (tmp_path / "study.db").unlink()
    assert runner.invoke(app, ["run", path, "--trials", "1"]).exit_code == 0
    study, _fn, _options = study_from_toml(tmp_path / "study.toml")
    with study:
        assert [c["x"] for c in study.queued] == [0.75, 0.25]


def test_an_enqueue_table_naming_some_parameters_has_the_others_drawn_once_across_resumed_runs(tmp_path):
    space_y = '[space.y]\ntype = "int"\nlow = 1\nhigh = 50\n\n'
    path = write(tmp_path, tail=space_y + "[[enqueue]]\nx = 0.25\n")
    result = runner.invoke(app, ["run", path, "--trials", "2"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["run", path, "--trials", "4"])  # resumed: the partial table matches what ran
    assert again.exit_code == 0, again.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        enqueued = [t.config for t in study.trials if t.optimizer == "enqueued"]
    assert len(enqueued) == 1 and enqueued[0]["x"] == 0.25 and 1 <= enqueued[0]["y"] <= 50
    write(tmp_path, tail=space_y + "[[enqueue]]\nx = 0.5\n\n[[enqueue]]\ny = 70\n")
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 1 and "[[enqueue]] 2 (of 2):" in result.output and "y=70 is outside" in result.output
    write(tmp_path, tail=space_y + "[[enqueue]]\nx = 0.5\n\n[[enqueue]]\n")
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 1 and "[[enqueue]] 2 (of 2):" in result.output and "an empty table" in result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert study.queued == []  # nothing of a refused description queued


def test_an_enqueue_table_outside_the_space_names_the_table(tmp_path):
    path = write(tmp_path, tail="[[enqueue]]\nx = 0.5\n\n[[enqueue]]\nx = 2.0\n")
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 1
    assert "[[enqueue]] 2 (of 2):" in result.output and "x" in result.output
    with pytest.raises(CliError, match=r"\[\[enqueue\]\] 2 \(of 2\)"):
        study_from_toml(tmp_path / "study.toml")
    write(tmp_path, tail="[[enqueue]]\nx = 0.6\n")  # corrected in the same process: the study file is free
    study, _fn, _options = study_from_toml(tmp_path / "study.toml")
    with study:
        assert study.queued == [{"x": 0.6}]  # nothing of the refused description was queued
    shape = write(tmp_path, tail="[enqueue]\nx = 0.5\n")
    result = runner.invoke(app, ["run", shape])
    assert result.exit_code == 1 and "[[enqueue]] (double brackets)" in result.output


def test_max_trials_per_worker_in_the_study_table_gives_each_trial_a_fresh_worker(tmp_path):
    path = write(tmp_path, study_extra="max_trials_per_worker = 1")
    (tmp_path / "entry.py").write_text("import os\n\ndef evaluate(config):\n    return {'a': config['x'], 'b': 1 - config['x'], "
                                       "'pid': os.getpid()}\n")
    result = runner.invoke(app, ["run", path, "--trials", "3"])
    assert result.exit_code == 0, result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        assert len({t.metrics["pid"] for t in study.trials}) == 3 and study.count("complete") == 3
    (tmp_path / "bad").mkdir()
    result = runner.invoke(app, ["run", write(tmp_path / "bad", study_extra="max_trials_per_worker = 0")])
    assert result.exit_code == 1 and "max_trials_per_worker must be a positive integer or None; received 0" in result.output


def test_a_toml_study_run_again_runs_its_interrupted_trials_again_within_the_same_total(tmp_path):
    path = write(tmp_path)
    assert runner.invoke(app, ["run", path, "--trials", "3"]).exit_code == 0
    crashed = mh.Study.load(tmp_path / "study.db")
    lost = crashed.ask()  # running when its process died
    crashed._store.close()
    result = runner.invoke(app, ["run", path, "--trials", "4"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines at its width
    assert "1 to run (the 1 interrupted one run again first)" in said  # before: "0 to run", never again
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        retry = study.trials[-1]
        assert retry.extra["retry_of"] == lost.number and retry.config == lost.config and retry.status.value == "complete"
    result = runner.invoke(app, ["run", path, "--trials", "5"])  # the interrupted trial and its retry count once
    assert result.exit_code == 0 and "1 to run" in " ".join(result.output.split())


@pytest.mark.parametrize("entry", ["./entry.py:evaluate", "./entry:evaluate", "{dir}/entry.py:evaluate", "{dir}/entry:evaluate",
                                   "stages/trainer:evaluate", "stages/trainer.py:evaluate", "stages.trainer:evaluate"])
def test_an_entry_may_name_its_file_as_a_path(tmp_path, entry):
    from pathlib import Path

    path = Path(write(tmp_path))
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "trainer.py").write_text(ENTRY)
    path.write_text(path.read_text().replace('entry = "entry:evaluate"', f'entry = "{entry.format(dir=tmp_path)}"'))
    result = runner.invoke(app, ["run", str(path), "--trials", "2"])
    assert result.exit_code == 0, result.output
    assert mh.Study.load(tmp_path / "study.db", read_only=True).count("complete") == 2


def test_an_entry_path_outside_the_study_folder_is_refused(tmp_path):
    from pathlib import Path

    (tmp_path / "a").mkdir()
    path = Path(write(tmp_path / "a"))
    (tmp_path / "elsewhere.py").write_text(ENTRY)
    path.write_text(path.read_text().replace('entry = "entry:evaluate"', f'entry = "{tmp_path}/elsewhere.py:evaluate"'))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1 and "must name a Python file next to the study file" in result.output
    assert "written as 'train:evaluate' or 'train.py:evaluate'" in " ".join(result.output.split())


def test_an_entry_importing_a_missing_package_says_so(tmp_path):
    path = write(tmp_path)
    (tmp_path / "entry.py").write_text("import numpy\nimport xgboostt_not_installed\n" + ENTRY)
    result = runner.invoke(app, ["run", path])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "importing entry failed (entry.py, line 2): it imports 'xgboostt_not_installed'" in said
    assert "which is not installed in this Python" in said and "Traceback" not in said


def test_a_description_refused_as_its_study_is_created_leaves_no_study_file(tmp_path):
    path = write(tmp_path, tail='[pruner]\nname = "moasha"\nmin_resource = 5\nmax_resource = 3\n')
    result = runner.invoke(app, ["run", path])
    assert result.exit_code == 1 and "min_resource must be below max_resource" in result.output
    assert not list(tmp_path.glob("study.db*"))  # an empty file was left behind
    kept = write(tmp_path)  # an existing study file is the user's: kept whatever the description
    assert runner.invoke(app, ["run", kept, "--trials", "1"]).exit_code == 0
    write(tmp_path, tail='[pruner]\nname = "moasha"\nmin_resource = 5\nmax_resource = 3\n')
    assert runner.invoke(app, ["run", kept]).exit_code == 1 and (tmp_path / "study.db").exists()


def test_small_mistakes_in_a_study_file_get_a_hint(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    text = path.read_text()
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # saved with a byte-order mark, as some editors do
    assert runner.invoke(app, ["run", str(path), "--trials", "1"]).exit_code == 0
    result = runner.invoke(app, ["front", str(path)])  # the description, not the study file
    assert result.exit_code == 1 and "a TOML study description: `moo-hpo run` runs it" in " ".join(result.output.split())
    path.write_text(text + '\n[pruner]\nname = "moasha"\nmin_resouce = 1\n')
    with pytest.raises(mh.ConfigError, match=r"received unknown \['min_resouce'\] \('min_resource' for 'min_resouce'\?\)"):
        study_from_toml(path)
    path.write_text(text + '\n[[enqueue]]\nx = "0.5"\n')
    with pytest.raises((CliError, mh.ConfigError), match=r"a number parameter: expected a number, received text"):
        study_from_toml(path)


def test_a_study_files_storage_may_be_an_sqlite_url(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    path.write_text(path.read_text().replace('storage = "study.db"', 'storage = "sqlite:///url.db"'))
    assert runner.invoke(app, ["run", str(path), "--trials", "1"]).exit_code == 0
    assert (tmp_path / "url.db").is_file() and not (tmp_path / "sqlite:").exists()
    path.write_text(path.read_text().replace('storage = "sqlite:///url.db"', 'storage = "postgresql://host/db"'))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1 and "looks like a database URL" in result.output


def test_an_entry_importing_a_missing_module_of_an_installed_package_is_not_called_uninstalled(tmp_path):
    path = write(tmp_path)
    (tmp_path / "entry.py").write_text("import json\nimport json.no_such_part\n" + ENTRY)
    said = " ".join(runner.invoke(app, ["run", path]).output.split())
    assert "importing entry failed (entry.py, line 2): ModuleNotFoundError: No module named 'json.no_such_part'" in said
    assert "not installed" not in said


def test_a_study_files_sqlite_url_is_beside_the_study_file_from_any_folder(tmp_path, monkeypatch):
    from pathlib import Path

    project = tmp_path / "proj"
    project.mkdir()
    path = Path(write(project))
    path.write_text(path.read_text().replace('storage = "study.db"', 'storage = "sqlite:///url.db"'))
    (project / "sqlite:").mkdir()  # where moo_hpo kept it before it read the URL: found there, from another folder
    with mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a"), mh.Minimize("b")], seed=1,
                  storage=mh.storage.SQLiteStore(project / "sqlite:" / "url.db")) as old:
        old.tell(old.ask(), {"a": 0.5, "b": 0.5})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["run", str(path), "--trials", "2"])
    assert result.exit_code == 0, result.output
    with mh.Study.load(project / "sqlite:" / "url.db", read_only=True) as study:
        assert len(study.trials) == 2  # the old study went on
    assert not (project / "url.db").exists() and not (elsewhere / "sqlite:").exists()


def test_a_run_resumed_on_a_time_budget_says_so(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    assert runner.invoke(app, ["run", str(path), "--trials", "2"]).exit_code == 0
    path.write_text(path.read_text().replace("n_trials = 16", "timeout = 1"))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    assert "resuming 'study': 2 trials stored, running for 1 s" in result.output


def test_a_time_budget_given_as_text_is_refused_on_resume_too(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    assert runner.invoke(app, ["run", str(path), "--trials", "1"]).exit_code == 0
    path.write_text(path.read_text().replace("n_trials = 16", 'timeout = "60"'))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1 and "timeout must be a positive number of seconds or None; received '60'" in result.output


def test_a_trial_failing_in_a_local_worker_names_the_entry_file_and_its_line(tmp_path):
    # the entry's code was sent by value to local workers too, so their tracebacks read '<dynamic-code>', no line
    path = write(tmp_path, study_extra='optimizer = "random"\nn_workers = 2')
    (tmp_path / "entry.py").write_text("def evaluate(config):\n    raise ValueError('diverged')\n")
    result = runner.invoke(app, ["run", path, "--trials", "5"])
    assert result.exit_code == 1, result.output  # its first trials all failed the same way
    with mh.Study.load(tmp_path / "study.db", read_only=True) as study:
        error = study.trials[0].error
    assert f'File "{tmp_path / "entry.py"}", line 2, in evaluate' in error and "raise ValueError('diverged')" in error
    assert "<dynamic-code>" not in error


def test_a_finished_study_run_again_with_a_cluster_does_not_reach_for_it(tmp_path):
    # "resuming ...: 16 trials stored, 0 to run", then 20 s of trying the scheduler and an error
    path = write(tmp_path, study_extra='optimizer = "random"')
    assert runner.invoke(app, ["run", path]).exit_code == 0
    result = runner.invoke(app, ["run", path, "--dask", "tcp://127.0.0.1:9", "--resources", "GPU=1", "--retries", "2"])
    assert result.exit_code == 0, result.output
    assert "16 trials stored, 0 to run" in result.output
