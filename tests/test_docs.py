"""The documentation site builds with ``mkdocs build --strict``: broken links, missing snippets, unknown API
objects and malformed docstrings fail the build."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    missing = [m for m in ("mkdocs", "material", "mkdocstrings_handlers") if importlib.util.find_spec(m) is None]
    assert not missing, f"docs tools missing ({missing}); they come with the test extra: pip install -e '.[test]'"
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    for page in ("index.html", "api/study/index.html", "tradeoff-study/index.html"):
        assert (site / page).is_file(), f"the site has no {page}"
