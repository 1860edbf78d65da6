"""Device profiles as the command line writes them: budgets with and without units."""

import pytest

import moo_hpo as mh
from moo_hpo.reports.sizing import profile_from_text


@pytest.mark.parametrize(("text", "field", "expected"), [
    ("mcu:size=40", "max_size_kb", 40.0),              # a plain number: in the default metric's unit (KiB)
    ("mcu:size=40kB", "max_size_kb", 40.0),            # a kB is a KiB, as in size_kb
    ("mcu:size=40KiB", "max_size_kb", 40.0),
    ("mcu:size=40000B", "max_size_kb", 40000 / 1024),  # a flash budget in bytes
    ("mcu:size=1.5MB", "max_size_kb", 1536.0),
    ("mcu:size=2 GiB", "max_size_kb", 2 * 1024.0**2),
    ("mcu:latency=500us", "max_latency_ms", 0.5),
    ("mcu:latency=1200us", "max_latency_ms", 1.2),     # exactly 1.2, not 1.2000000000000002
    ("mcu:latency=500µs", "max_latency_ms", 0.5),
    ("mcu:latency=500\u03bcs", "max_latency_ms", 0.5),  # a Greek mu for the micro sign
    ("mcu:latency=2ms", "max_latency_ms", 2.0),
    ("mcu:latency=0.02s", "max_latency_ms", 20.0),
    ("mcu:energy=2mJ", "max_energy_j", 0.002),
    ("mcu:energy=30uJ", "max_energy_j", 3e-5),
    ("mcu:size=3kb,size_metric=size_kb_int8", "max_size_kb", 3.0),  # a metric in KiB by its name
    ("mcu:latency=1ms,latency_metric=cpu_latency_p90_ms", "max_latency_ms", 1.0),
    ("mcu:size=3,size_metric=size_mb", "max_size_kb", 3.0),          # a plain number in the user's metric's unit
    ("mcu:memory=256kB", "max_memory_kb", 256.0),                    # RAM beside the flash
    ("mcu:size=1MB,memory=0.5MB", "max_memory_kb", 512.0),
    ("mcu:memory=64,memory_metric=arena_kb", "max_memory_kb", 64.0),
])
def test_a_budget_may_carry_a_unit(text, field, expected):
    assert getattr(profile_from_text(text), field) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("mcu:size=4q", "size=4q has the unit 'q'; expected one of b, kb, kib, mb, mib, gb, gib (in any case), or a plain number in KiB"),
    ("mcu:latency=3h", "latency=3h has the unit 'h'; expected one of us, µs, ms, s (milli with a small m)"),
    ("mcu:energy=2MJ", "energy=2MJ has the unit 'MJ'; expected one of uj, µj, mj, j (milli with a small m)"),
    ("mcu:size=abc", "size must be a number, or a number and a unit (b, kb, kib, mb, mib, gb, gib); received 'abc'"),
    ("mcu:size=3kb,size_metric=size_mb", "size=3kb carries a unit, but the budget applies to size_metric='size_mb', whose "
     "unit moo_hpo cannot tell (it reads names like 'size_kb' in KiB): give a plain number in the unit of 'size_mb'"),
    ("mcu:energy=1mJ,energy_metric=battery_pct", "energy=1mJ carries a unit, but the budget applies to energy_metric='battery_pct'"),
    ("mcu:ram=64", "unknown key 'ram'; expected size=, latency=, energy=, memory= (budgets)"),
    ("size=20", "has no name: write it before the budgets, such as mcu:size=20"),  # was "has no budget"
])
def test_a_unit_that_cannot_apply_is_refused_naming_what_it_takes(text, message):
    with pytest.raises(mh.ConfigError, match="device " + repr(text).replace("[", r"\[")) as info:
        profile_from_text(text)
    assert message in str(info.value)
