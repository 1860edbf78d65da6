"""Deployment targets: a device's budgets (:class:`DeviceProfile`), and the command line's way of writing one
(``name:size=40kB,latency=5ms``). Device sizing (:mod:`moo_hpo.reports.sizing`), the ``DeviceFit`` probe and the
command line share them."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import ConfigError

if TYPE_CHECKING:
    from moo_hpo.trial import Trial

__all__ = ["UNIT_SUFFIXES", "DeviceProfile", "check_unique_names", "profile_from_text"]


@dataclass(frozen=True)
class DeviceProfile:
    """A deployment target and its budgets (None: no limit).

    Attributes:
        name: the device's name.
        max_size_kb: model size budget, checked against ``size_metric``.
        max_latency_ms: latency budget, checked against ``latency_metric``.
        max_energy_j: energy budget, checked against ``energy_metric``.
        device: where the model runs (``"cpu"``, ``"cuda"``): a latency budget judged on latency the trials measured
            on another kind of device (``extra["latency"]["device"]``) says so in the sizing reason.
        size_metric, latency_metric, energy_metric: the metric names the budgets apply to.
        max_memory_kb: working-memory (RAM) budget beside the size (flash) budget, checked against
            ``memory_metric``: ``peak_memory_kb``, which :class:`~moo_hpo.objectives.PeakMemory` measures.
        memory_metric: the metric the memory budget applies to.
    """

    name: str
    max_size_kb: float | None = None
    max_latency_ms: float | None = None
    max_energy_j: float | None = None
    device: str = "cpu"
    size_metric: str = "size_kb"
    latency_metric: str = "latency_p99_ms"
    energy_metric: str = "energy_per_inference_j"
    max_memory_kb: float | None = None
    memory_metric: str = "peak_memory_kb"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"DeviceProfile: name must be a non-empty string; received {self.name!r}")
        for label in ("device", "size_metric", "latency_metric", "energy_metric", "memory_metric"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"DeviceProfile {self.name!r}: {label} must be a non-empty string; received {value!r}")
        budgets = ("max_size_kb", "max_latency_ms", "max_energy_j", "max_memory_kb")
        if all(getattr(self, label) is None for label in budgets):
            raise ConfigError(f"DeviceProfile {self.name!r} has no budget: give at least one of {', '.join(budgets)}")
        for label, v in ((label, getattr(self, label)) for label in budgets):
            if v is not None and (isinstance(v, bool) or not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0)):
                raise ConfigError(f"DeviceProfile {self.name!r}: {label} must be a positive number or None; received {v!r}")
            if v is not None and type(v) not in (int, float):
                object.__setattr__(self, label, float(v))  # a NumPy number from a table

    def limits(self) -> list[tuple[str, float]]:
        """The budgets given.

        Returns:
            (the metric it applies to, the bound) per budget, in the order size, latency, energy, memory.
        """
        return [(m, b) for m, b in ((self.size_metric, self.max_size_kb), (self.latency_metric, self.max_latency_ms),
                                    (self.energy_metric, self.max_energy_j), (self.memory_metric, self.max_memory_kb))
                if b is not None]

    def fits(self, trial: Trial) -> bool:
        """Whether ``trial`` fits this device.

        Args:
            trial: a trial (its ``metrics``).

        Returns:
            True when every budget's metric was measured and is within it.
        """
        return all(m in trial.metrics and trial.metrics[m] <= b for m, b in self.limits())


#: Unit suffixes a command-line budget may carry: budget -> suffix (lower case) -> factor to the unit of its default
#: metric (``size_kb`` in KiB, ``latency_p99_ms`` in ms, ``energy_per_inference_j`` in J). A kB is a KiB, as in
#: ``size_kb``: bytes divided by 1024.
UNIT_SUFFIXES = {
    "size": {"b": 1 / 1024, "kb": 1.0, "kib": 1.0, "mb": 1024.0, "mib": 1024.0, "gb": 1024.0**2, "gib": 1024.0**2},
    "latency": {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0},
    "energy": {"uj": 1e-6, "µj": 1e-6, "mj": 1e-3, "j": 1.0},
}
UNIT_SUFFIXES["memory"] = UNIT_SUFFIXES["size"]  # a RAM budget, in KiB as peak_memory_kb
#: Per budget: the unit of a plain number, and how the names of the metrics in that unit begin or end.
_UNIT_OF = {"size": ("KiB", lambda m: m.startswith("size_kb") or m.endswith("_kb")),
            "latency": ("ms", lambda m: m.endswith("_ms")),
            "energy": ("J", lambda m: m.endswith("_j")),
            "memory": ("KiB", lambda m: m.endswith("_kb"))}
_DEFAULT_METRIC = {"size": "size_kb", "latency": "latency_p99_ms", "energy": "energy_per_inference_j",
                   "memory": "peak_memory_kb"}


def _budget_value(text: str, key: str, value: str, metric: str | None) -> float:
    """A command-line budget (``40``, ``40kB``, ``1.5MB``, ``500us``, ``2mJ``) as a number in the unit of the metric it
    applies to (``metric``; None for the default one).

    Raises:
        ConfigError: naming the budget, what was received and the units it takes.
    """
    value = value.replace("\u03bc", "\u00b5")  # a Greek mu typed for the micro sign
    digits = value.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZµ")
    unit, units = value[len(digits):], UNIT_SUFFIXES[key]
    try:
        amount = float(digits)
    except ValueError:
        raise ConfigError(f"device {text!r}: {key} must be a number, or a number and a unit ({', '.join(units)}); "
                          f"received {value!r}") from None
    if not unit:
        return amount
    in_bytes = key in ("size", "memory")
    factor = units.get(unit.lower()) if not (not in_bytes and unit[:1] == "M") else None  # MJ, Ms: not milli
    if factor is None:
        case = "in any case" if in_bytes else "milli with a small m"
        raise ConfigError(f"device {text!r}: {key}={value} has the unit {unit!r}; expected one of {', '.join(units)} "
                          f"({case}), or a plain number in {_UNIT_OF[key][0]}")
    plain_unit, in_unit = _UNIT_OF[key]
    if metric is not None and not in_unit(metric):
        raise ConfigError(f"device {text!r}: {key}={value} carries a unit, but the budget applies to {key}_metric="
                          f"{metric!r}, whose unit moo_hpo cannot tell (it reads names like {_DEFAULT_METRIC[key]!r} "
                          f"in {plain_unit}): give a plain number in the unit of {metric!r}")
    return float(f"{amount * factor:.15g}")  # 1200us is 1.2 ms, not 1.2000000000000002


def profile_from_text(text: str) -> DeviceProfile:
    """A device profile written as the command line takes it: ``name:size=KB,latency=MS,energy=J,memory=KB``, with
    ``size_metric=`` (and the like) naming the metric a budget applies to and ``device=`` where the model runs.
    A budget may carry a unit (:data:`UNIT_SUFFIXES`: ``size=40kB``, ``size=1.5MB``, ``latency=500us``,
    ``energy=2mJ``, ``memory=256kB``), converted to its metric's (KiB, ms, J; a kB is a KiB, as in ``size_kb``); a
    plain number is in that unit already.

    Args:
        text: the device as written on the command line.

    Returns:
        The profile.

    Raises:
        ConfigError: naming the text and what is wrong in it.
    """
    name, colon, rest = text.partition(":")
    if not colon and "=" in name:  # budgets without the device's name before them
        raise ConfigError(f"device {text!r} has no name: write it before the budgets, such as mcu:{text}")
    budgets = {"size": "max_size_kb", "latency": "max_latency_ms", "energy": "max_energy_j", "memory": "max_memory_kb"}
    metrics = {"size_metric", "latency_metric", "energy_metric", "memory_metric", "device"}  # a budget's metric, the device
    kwargs: dict[str, Any] = {}
    raw: dict[str, str] = {}  # budget -> its text, read once every metric is known
    for part in filter(None, rest.split(",")):
        key, _, value = (x.strip() for x in part.partition("="))
        if key not in budgets and key not in metrics:
            raise ConfigError(f"device {text!r}: unknown key {key!r}; expected size=, latency=, energy=, memory= (budgets), "
                              "size_metric=, latency_metric=, energy_metric=, memory_metric= (the metrics they apply to) "
                              "or device= (cpu, cuda)")
        field = budgets.get(key, key)
        if field in kwargs:
            raise ConfigError(f"device {text!r}: {key}= given twice; expected each key once")
        if key in metrics:
            if not value:
                raise ConfigError(f"device {text!r}: {key}= needs " + ("a device, such as device=cuda" if key == "device" else
                                                                         f"a metric name, such as {key}=size_kb_int8"))
            kwargs[field] = value
            continue
        kwargs[field] = raw[key] = value
    for key, value in raw.items():
        kwargs[budgets[key]] = _budget_value(text, key, value, kwargs.get(f"{key}_metric"))
    if not name:
        raise ConfigError(f"device {text!r}: expected 'name:size=KB,latency=MS,energy=J,memory=KB'")
    if not any(k.startswith("max_") for k in kwargs):
        raise ConfigError(f"device {text!r} has no budget: give at least one of size=, latency=, energy=, memory= (such as "
                          f"{name}:size=64)")
    return DeviceProfile(name, **kwargs)


def check_unique_names(profiles: Sequence[DeviceProfile]) -> None:
    """Refuse two devices of one name (a study's figures and sizing name each device by it).

    Args:
        profiles: the devices.

    Raises:
        ConfigError: naming the repeated name.
    """
    names = [p.name for p in profiles]
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated is not None:
        raise ConfigError(f"two devices are named {repeated!r}; give each device its own name")
