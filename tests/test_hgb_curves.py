"""The boosting-stage learning-curve table (benchmarks/hgb_curves.py): a tiny table made for real, then replayed."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from benchmarks.curves_table import CurveTable
from benchmarks.hgb_curves import COLUMNS, PARAMS, draw_configs, main, space
from benchmarks.learning_curves import read_partial
from benchmarks.pruning_suite import main as pruning_suite_main
from benchmarks.pruning_suite import plot_subject


def test_a_generated_table_has_every_step_and_replays(tmp_path) -> None:
    out = tmp_path / "hgb.csv.gz"
    main(["--configs", "2", "--steps", "3", "--iterations-per-step", "2", "--processes", "1", "--out", str(out)])

    with gzip.open(out, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS
    assert [(int(r["config_id"]), int(r["epoch"])) for r in rows] == [(c, e) for c in (0, 1) for e in (1, 2, 3)]
    for r in rows:
        assert 0.0 < float(r["accuracy"]) <= 1.0 and 0.0 <= float(r["eo_diff"]) <= 1.0
        assert float(r["train_seconds"]) > 0 and float(r["eval_seconds"]) > 0
    sizes = [float(r["size_kb"]) for r in rows if r["config_id"] == "0"]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # each step adds trees
    info = json.loads((tmp_path / "hgb.json").read_text())
    assert info["configs"] == 2 and info["epochs"] == 3 and info["iterations_per_step"] == 2
    assert not (tmp_path / "hgb.csv.gz.partial.csv").exists()

    table = CurveTable(out)
    assert table.param_names == PARAMS and table.n_epochs == 3 and len(table) == 2
    config = table.config(1)
    assert isinstance(config["max_leaf_nodes"], int) and isinstance(config["learning_rate"], float)
    assert table.nearest(config) == 1
    assert set(table.metrics(0, 2)) == {"accuracy", "eo_diff", "holdout_accuracy", "holdout_eo_diff", "size_kb"}
    drawn = draw_configs(2, 0)
    assert drawn[1]["max_leaf_nodes"] == config["max_leaf_nodes"]
    assert space().names == PARAMS and "max_iter" not in space().names  # the iterations are the fidelity
    assert plot_subject(table) == "Adult gradient-boosted trees (epoch = 2 iterations)"

    # the early-stopping suite's rungs need 27 epochs: a 3-step table is refused with the reason
    with pytest.raises(SystemExit, match="3 epochs per configuration"):
        pruning_suite_main(["--table", str(out), "--methods", "random", "--seeds", "0", "--json", str(tmp_path / "s.json")])


def test_a_rerun_keeps_the_complete_configurations_and_drops_a_half_written_one(tmp_path) -> None:
    out = tmp_path / "hgb.csv.gz"
    settings = ["--steps", "2", "--iterations-per-step", "2", "--out", str(out)]
    main(["--configs", "1", *settings])
    with gzip.open(out, "rt", newline="") as f:
        kept = list(csv.reader(f))  # header + config 0's two steps
    partial = tmp_path / "hgb.csv.gz.partial.csv"
    info = json.loads((tmp_path / "hgb.json").read_text())
    (tmp_path / "hgb.csv.gz.partial.json").write_text(json.dumps(
        {"settings": {k: info[k] for k in ("seed", "steps", "iterations_per_step", "space")}, "seconds": 1.0}))
    with partial.open("w", newline="") as f:  # config 0 complete, config 1 cut off after its first step
        w = csv.writer(f)
        w.writerows(kept)
        w.writerow(["1", "1", *kept[1][2:]])
    assert sorted(read_partial(partial, 2, COLUMNS)) == [0]

    main(["--configs", "2", *settings])
    with gzip.open(out, "rt", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[:3] == kept  # config 0 was not trained again (its times would differ)
    assert [(r[0], r[1]) for r in rows[3:]] == [("1", "1"), ("1", "2")]
    assert rows[3][2:] != kept[1][2:]  # config 1 was trained, not the made-up half row kept


def test_a_rerun_with_other_settings_refuses_the_partial_table(tmp_path) -> None:
    out = tmp_path / "hgb.csv.gz"
    partial = tmp_path / "hgb.csv.gz.partial.json"
    partial.write_text(json.dumps({"settings": {"seed": 5}, "seconds": 0.0}))
    with pytest.raises(SystemExit, match="other settings"):
        main(["--configs", "1", "--steps", "1", "--out", str(out)])


def test_a_table_without_its_parameters_is_refused(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("config_id,epoch,accuracy\n0,1,0.8\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        CurveTable(bad)
