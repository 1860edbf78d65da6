from __future__ import annotations

from typer.testing import CliRunner

import moo_hpo as mh
from moo_hpo.cli import app

runner = CliRunner()


def test_demo_runs_and_prints_the_front(tmp_path):
    result = runner.invoke(app, ["demo", "--trials", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Pareto front" in result.output and "accuracy (max)" in result.output
    study = mh.Study.load(tmp_path / "study.db", read_only=True)
    assert len(study.trials) == 4 and study.count("complete") == 4
    assert (tmp_path / "front.csv").exists()
    front = runner.invoke(app, ["front", str(tmp_path / "study.db")])
    assert front.exit_code == 0 and "eo_diff (min)" in front.output
    study.close()


def test_front_of_missing_file_is_an_error(tmp_path):
    result = runner.invoke(app, ["front", str(tmp_path / "nope.db")])
    assert result.exit_code != 0
    assert isinstance(result.exception, mh.StorageError)
