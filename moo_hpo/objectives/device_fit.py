"""Whether a model fits at least one of several devices, as one metric that a hard constraint can bound.

Per-metric constraints (:func:`~moo_hpo.device_constraints`) skip the candidates above every device's budget on
some metric. Devices that trade one budget against another (a small slow microcontroller, a large fast phone)
leave candidates within the loosest budget of each metric that still fit no single device. :class:`DeviceFit`
measures ``device_excess``: for each device, how far the model is over its tightest budget, as a share of that
budget (``size_kb / max_size_kb - 1`` ...), and of those the smallest. It is at most 0 exactly when some device
takes the model, so ``AtMost("device_excess", 0)`` (:meth:`DeviceFit.constraint`) skips before training every
candidate that fits no device, once its size and latency are measured.

The metric is derived from the metrics other probes measure, not from the model: the study computes it once
those probes have measured the built model, and again once the trained model is measured. Before training, a
budget on a metric measured only after training (training energy) is not judged yet: the value then is a lower
bound of the final one, so a candidate is skipped only when it can fit no device whatever that metric turns out
to be. After training, a device with a budget on a metric no probe measured does not take the model (as
:func:`~moo_hpo.size_for_devices` counts it); when no device can be judged, the trial fails saying which metrics
are missing (and the study warns of such a budget before its first trial).

With probes and ``build``, the metrics are the probes' (and those ``fit`` returns); an objective that returns its
metrics itself (no ``build``) has ``device_excess`` derived from what it returns, after it ran.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import Measurement, Probe

__all__ = ["DeviceFit"]


class DeviceFit(Probe):
    """How far a model is from fitting the device it fits best (at most 0: some device takes it).

    Args:
        devices: the :class:`~moo_hpo.DeviceProfile` s.
        metric: the metric's name.

    Raises:
        ConfigError: for no devices, something that is not a DeviceProfile, or an empty metric name.

    Example:
        >>> import moo_hpo as mh
        >>> fit = mh.objectives.DeviceFit([mh.DeviceProfile("mcu", max_size_kb=50, max_latency_ms=200),
        ...                                mh.DeviceProfile("phone", max_size_kb=500, max_latency_ms=20)])
        >>> fit.derive({"size_kb": 400.0, "latency_p99_ms": 100.0})["device_excess"]  # fits neither
        4.0
        >>> fit.constraint()
        AtMost('device_excess', 0)
    """

    needs_training = False
    #: computed from other probes' metrics (:meth:`derive`), not by measuring the model
    derived = True

    def __init__(self, devices: Sequence[Any], metric: str = "device_excess") -> None:
        from moo_hpo.devices import DeviceProfile, check_unique_names

        if isinstance(devices, DeviceProfile):
            devices = [devices]
        if isinstance(devices, str) or not isinstance(devices, Iterable):
            raise ConfigError(f"DeviceFit expects a list of mh.DeviceProfile objects; received {devices!r}")
        devices = list(devices)  # a generator too
        if not devices or not all(isinstance(d, DeviceProfile) for d in devices):
            raise ConfigError(f"DeviceFit expects a list of mh.DeviceProfile objects; received {devices!r}")
        check_unique_names(devices)
        if not isinstance(metric, str) or not metric.strip():
            raise ConfigError(f"DeviceFit: metric must be a non-empty name; received {metric!r}")
        self.devices = devices
        self.metric = metric
        self.metrics = (metric,)
        self.name = "device_fit"

    @property
    def inputs(self) -> tuple[str, ...]:
        """The metrics the devices budget (measured by other probes)."""
        return tuple(dict.fromkeys(m for d in self.devices for m, _ in d.limits()))

    def constraint(self) -> Any:
        """The hard constraint ``metric <= 0``: some device takes the model."""
        from moo_hpo.constraints import AtMost

        return AtMost(self.metric, 0.0)

    def derive(self, metrics: Mapping[str, float], final: bool = True) -> Measurement:
        """``device_excess`` from the metrics measured so far.

        Args:
            metrics: metric name -> value.
            final: False before training, where a budget on a metric not measured yet is not judged (the value
                is a lower bound); True once every probe measured, where such a device does not take the model.

        Returns:
            The metric, with ``extra["device_fit"]``: the best-fitting device's name; before training, nothing when
            no device can be judged yet.

        Raises:
            ProbeError: after training, when no device could be judged (a budget on a metric nothing measured).
        """
        best, best_name = math.inf, None
        judged = False
        for device in self.devices:
            shares = []
            missing = False
            for name, bound in device.limits():
                if not _measured(metrics, name):
                    missing = True
                    continue
                shares.append(float(metrics[name]) / bound - 1.0)
            if missing and final:
                continue  # not measured: this device cannot be said to take it
            judged = True
            excess = max(shares) if shares else -math.inf
            if excess < best:
                best, best_name = excess, device.name
        if not judged:
            unmeasured = sorted({m for d in self.devices for m, _ in d.limits() if not _measured(metrics, m)})
            raise ProbeError(
                f"no device could be judged: {', '.join(repr(d.name) for d in self.devices)} budget {unmeasured}, which "
                "no probe measured (add the probe that measures it, or return it from fit)"
            )
        if best == -math.inf:  # before training, a device none of whose budgets is measured yet: it may take it
            return Measurement({}, {})
        return Measurement({self.metric: best}, {"device_fit": best_name})

    def over_budget(self, metrics: Mapping[str, float]) -> list[tuple[str, str, float, float]]:
        """The budgets ``metrics`` break, device by device (those not measured yet left out): what a skip names.

        Args:
            metrics: metric name -> value.

        Returns:
            (device name, metric, value, budget) per budget broken, devices in their order.
        """
        return [(device.name, name, float(metrics[name]), bound) for device in self.devices
                for name, bound in device.limits() if _measured(metrics, name) and float(metrics[name]) > bound]

    def measure(self, model: Any) -> Measurement:
        """Not measured from a model: the study derives it (:meth:`derive`) from the other probes' metrics.

        Raises:
            ConfigError: always.
        """
        raise ConfigError("DeviceFit is computed from the metrics of the other probes of a study (derive(metrics)); "
                          "it does not measure a model on its own")

    def __repr__(self) -> str:
        return f"DeviceFit({[d.name for d in self.devices]!r}, metric={self.metric!r})"


def _measured(metrics: Mapping[str, Any], name: str) -> bool:
    """Whether ``metrics`` holds a finite number for ``name`` (an objective's own value may be any number type).

    Raises:
        ProbeError: for a value that is not a number (a text, a None): a budget cannot be judged on it.
    """
    from moo_hpo.trial import _metric_value

    if name not in metrics:
        return False
    try:
        return math.isfinite(_metric_value(metrics[name]))
    except Exception as exc:  # noqa: BLE001 - whatever the conversion raised: not a number
        raise ProbeError(f"{name}, which a device's budget applies to, is not a number: {exc}") from None
