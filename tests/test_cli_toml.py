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
    with pytest.raises(CliError, match="'space.x' \\(float\\).*lo"):
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


def test_run_exits_non_zero_when_no_trial_completed(tmp_path):
    from pathlib import Path

    path = Path(write(tmp_path))
    (tmp_path / "entry.py").write_text("def evaluate(config):\n    return {'a': config['x'], 'bb': 1.0}\n")  # 'b' misspelt
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code != 0
    assert "all failed the same way" in result.output and "'bb' looks like 'b'" in result.output


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
