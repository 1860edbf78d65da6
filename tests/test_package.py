from __future__ import annotations

import subprocess
import sys

import moo_hpo as mh


def test_public_api_is_sorted_and_importable():
    assert mh.__all__ == sorted(mh.__all__)
    for name in mh.__all__:
        assert getattr(mh, name) is not None
    assert issubclass(mh.ConfigError, mh.MooHpoError) and issubclass(mh.NoFeasibleTrialError, mh.MooHpoError)


def test_import_stays_light():
    code = "import sys, moo_hpo; print(','.join(m for m in ('torch', 'botorch', 'pymoo', 'plotly', 'scipy.stats', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dir_lists_the_lazily_loaded_names():
    import moo_hpo as mh

    assert {"report", "fairness_audit", "DeviceProfile", "size_for_devices", "objectives", "Study"} <= set(dir(mh))


def test_the_probes_are_pointed_to_where_they_are():
    import pytest

    with pytest.raises(AttributeError, match=r"no attribute 'probes': the probes are in moo_hpo.objectives"):
        mh.probes  # noqa: B018 - what the docs call them
    with pytest.raises(AttributeError, match=r"^module 'moo_hpo' has no attribute 'nothing_here'$"):
        mh.nothing_here  # noqa: B018
