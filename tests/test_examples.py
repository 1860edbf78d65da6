"""The example scripts that the docs include run end to end with a tiny trial count and write their reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# script -> (arguments, files it must write into --out)
EXAMPLES = {
    "tradeoff_study.py": (["--trials", "3"], ["report.html", "report.md", "report.json", "study.db"]),
    "fairness_audit.py": (["--trials", "3"], ["fairness_audit.html", "fairness_audit.md", "fairness_audit.json", "report.html"]),
    "edge_sizing.py": (["--trials", "3"], ["sizing.csv", "report.html", "study.db"]),
    "early_stopping.py": (["--trials", "3"], ["report.html", "report.md", "learning_curves.png", "study.db"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXAMPLES))
def test_example_runs_and_writes_its_report(script: str, tmp_path: Path) -> None:
    args, expected = EXAMPLES[script]
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args, "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    output = f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\n{output}"
    for name in expected:
        path = out / name
        written = sorted(p.name for p in out.iterdir())
        assert path.is_file() and path.stat().st_size > 0, f"{script} did not write {name}; wrote {written}\n{output}"
    # nothing written beside the output folder (the working directory stays clean)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
