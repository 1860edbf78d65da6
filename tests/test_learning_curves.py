"""The MLP learning-curve table's generator (benchmarks/learning_curves.py): a tiny table trained for real."""

from __future__ import annotations

import csv
import gzip
import json

from benchmarks.curves_table import CurveTable
from benchmarks.learning_curves import COLUMNS, PARAMS, main


def _rows(path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def test_a_table_is_written_then_extended_without_retraining(tmp_path) -> None:
    out = tmp_path / "mlp.csv.gz"
    main(["--configs", "2", "--epochs", "2", "--n-train", "500", "--out", str(out)])
    first = _rows(out)
    assert list(first[0]) == COLUMNS
    assert [(int(r["config_id"]), int(r["epoch"])) for r in first] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    info = json.loads((tmp_path / "mlp.json").read_text())
    assert info["configs"] == 2 and len(info["sessions"]) == 1

    main(["--configs", "3", "--epochs", "2", "--n-train", "500", "--out", str(out)])
    second = _rows(out)
    assert second[:4] == first  # the first two configurations were kept, not trained again
    assert [int(r["config_id"]) for r in second[4:]] == [2, 2]
    info = json.loads((tmp_path / "mlp.json").read_text())
    assert info["configs"] == 3 and [s["configs_before"] for s in info["sessions"]] == [0, 2]

    table = CurveTable(out)
    assert table.param_names == PARAMS and len(table) == 3 and table.n_epochs == 2
    assert isinstance(table.config(2)["batch_size"], int)
