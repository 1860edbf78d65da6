"""Energy: NVIDIA GPUs through NVML's total-energy counter, CPUs through RAPL, or an explicit estimate.

* **NVML** (``nvidia-ml-py``): ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the driver
  loaded, Volta and newer). The counter updates every few tens of milliseconds, so a measured window
  shorter than ``min_window_s`` (default 1 s) is extended by repeating the work; energy per
  inference is the window's energy divided by the number of inferences.
* **RAPL** (``/sys/class/powercap/intel-rapl:*/energy_uj``, package domains), where readable; the
  counter's wrap-around (``max_energy_range_uj``) is handled.
* **estimate**: only when asked for (``watts=...``): measured time x the given power, labelled
  ``extra["energy_source"] = "estimate"``, and in the probe's own entry (``extra["energy"]`` or
  ``extra["training_energy"]``) ``"source": "estimate"`` with the ``"watts"``; reports and device sizing label
  such figures (:func:`estimated_metrics`).
* Nothing available: :class:`~moo_hpo.ProbeError` (or NaN with ``extra["energy_source"] =
  "unavailable"`` when ``on_unavailable="nan"``), never an invented number.

CO2e: with ``grid_g_per_kwh`` the probe also reports ``co2e_g`` (energy in kWh x grid intensity).
"""

from __future__ import annotations

import glob
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any


from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import (
    Measurement,
    Probe,
    StructureProbe,
    check_device,
    check_positive_option,
    is_torch_module,
    kept_as_it_was,
)
from moo_hpo.objectives.inputs import check_example, stack_example, torch_input
from moo_hpo.objectives.threads import cpu_threads_held
from moo_hpo.values import is_integer, is_number

__all__ = ["ESTIMATED_BY", "Energy", "EnergyMeter", "TrainingEnergy", "available_energy_source", "estimated_metrics"]

_J_PER_KWH = 3.6e6


class _NvmlCounter:
    def __init__(self, index: int) -> None:
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)  # raises where unsupported
        self.name = pynvml.nvmlDeviceGetName(self._handle)

    def read_j(self) -> float:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1000.0


RAPL_ROOT = "/sys/class/powercap"


class _RaplCounter:
    def __init__(self, root: str | None = None) -> None:
        root = RAPL_ROOT if root is None else root
        self._domains = sorted(d for d in glob.glob(os.path.join(root, "intel-rapl:*")) if os.path.basename(d).count(":") == 1)
        if not self._domains:
            raise OSError(f"no RAPL package domain under {root}")
        self._max = [int(_read(os.path.join(d, "max_energy_range_uj"))) for d in self._domains]
        self.read_uj()  # raises PermissionError where not readable
        self.name = "RAPL " + ", ".join(os.path.basename(d) for d in self._domains)
        self._last = self.read_uj()
        self._total = 0

    def read_uj(self) -> list[int]:
        return [int(_read(os.path.join(d, "energy_uj"))) for d in self._domains]

    def read_j(self) -> float:
        now = self.read_uj()
        for i, (a, b) in enumerate(zip(self._last, now, strict=True)):
            self._total += b - a if b >= a else b + self._max[i] - a  # wrapped around
        self._last = now
        return self._total / 1e6


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def available_energy_source(device: str = "cuda") -> str:
    """``"nvml"``, ``"rapl"`` or ``"unavailable"`` for a device on this machine."""
    if unavailable_reason(device) is not None:
        return "unavailable"
    return "nvml" if device.startswith("cuda") else "rapl"


def unavailable_reason(device: str = "cuda") -> str | None:
    """Why this machine has no energy counter for ``device`` (``"OSError: no RAPL package domain ..."``), or None
    when it has one."""
    meter = EnergyMeter(device)
    return None if meter._counter() is not None else meter._why


def estimate_arguments(device: str) -> str:
    """What to pass for a labelled estimate on ``device``: ``watts=...``, and ``device='cpu'`` too where the device is
    a GPU torch does not see (a watts estimate on it is refused: the work would run on the CPU)."""
    if device == "cpu":
        return "watts=..."
    try:
        import torch

        seen = torch.cuda.is_available() if device.startswith("cuda") else torch.backends.mps.is_available()
    except ImportError:
        seen = False
    if not seen:
        return f"device='cpu', watts=... (torch sees no {'CUDA GPU' if device.startswith('cuda') else 'Apple GPU'} here)"
    return "watts=..."


class EnergyMeter:
    """Measure the energy of a block of code: ``with EnergyMeter("cuda") as m: train(); m.joules``.

    Args:
        device: ``"cuda"``/``"cuda:n"`` (NVML) or ``"cpu"`` (RAPL).
        watts: power for an explicit estimate when no counter is available (None: no estimate).

    Raises:
        ProbeError: on entering, when no counter exists and no ``watts`` were given.
    """

    def __init__(self, device: str = "cuda", watts: float | None = None) -> None:
        self.device, self.watts = device, watts
        self.joules = float("nan")
        self.seconds = float("nan")
        self.source = "unavailable"

    def _counter(self) -> Any:
        try:
            if self.device.startswith("cuda"):
                return _NvmlCounter(int(self.device.split(":")[1]) if ":" in self.device else 0)
            if self.device != "cpu":
                raise ProbeError(f"no energy counter is read for {self.device!r}")  # Apple's GPU: watts=... estimates
            return _RaplCounter()
        except Exception as exc:  # noqa: BLE001
            self._why = f"{type(exc).__name__}: {exc}"
            return None

    def __enter__(self) -> EnergyMeter:
        self._c = self._counter()
        if self._c is None and self.watts is None:
            raise ProbeError(f"no energy counter for {self.device!r} on this machine ({self._why}); pass "
                             f"{estimate_arguments(self.device)} for a labelled estimate")
        self.source = ("nvml" if self.device.startswith("cuda") else "rapl") if self._c is not None else "estimate"
        self._sync()
        self._t0 = time.perf_counter()
        self._e0 = self._c.read_j() if self._c is not None else 0.0
        return self

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
        elif self.device == "mps":
            import torch

            if torch.backends.mps.is_available():
                torch.mps.synchronize()

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._t0
        self.joules = self._c.read_j() - self._e0 if self._c is not None else self.seconds * float(self.watts)


class Energy(StructureProbe):
    """Energy per inference (``energy_per_inference_j``) of a model on an example input.

    Args:
        example: one input sample without the batch dimension, stacked ``batch_size`` times.
        batch_size: rows per inference.
        device: ``"cuda[:n]"`` (NVML), ``"cpu"`` (RAPL) or ``"mps"`` (Apple's GPU: no counter is read, so
            ``watts`` gives an estimate).
        min_window_s: repeat inferences until the measured window is at least this long.
        watts: explicit power for a labelled estimate when no counter exists.
        on_unavailable: ``"error"`` (ProbeError) or ``"nan"`` (NaN + ``energy_source="unavailable"``).
        grid_g_per_kwh: grid carbon intensity; adds ``co2e_per_inference_g``.
        threads: CPU threads the model runs on while measured (torch's intra-op threads, or a scikit-learn model's
            BLAS and OpenMP pools and the ``n_jobs`` of every estimator in it; all given back as they were), as
            :class:`~moo_hpo.objectives.Latency` holds them: trials then compare their models, not the thread
            settings they carry.

    Raises:
        ConfigError: for an option out of range.
    """

    needs_training = False
    name = "energy"

    def __init__(
        self,
        example: Any,
        batch_size: int = 1,
        device: str = "cuda",
        min_window_s: float = 1.0,
        watts: float | None = None,
        on_unavailable: str = "error",
        grid_g_per_kwh: float | None = None,
        threads: int = 1,
    ) -> None:
        if not is_integer(threads) or threads < 1:
            raise ConfigError(f"Energy expects threads an integer >= 1; received {threads!r}")
        if on_unavailable not in ("error", "nan"):
            raise ConfigError(f"on_unavailable must be 'error' or 'nan'; received {on_unavailable!r}")
        if not (is_number(min_window_s) and 0 < min_window_s < math.inf) or not is_integer(batch_size) or batch_size < 1:
            raise ConfigError(f"Energy expects a finite min_window_s > 0 and batch_size an integer >= 1; received {min_window_s!r}, {batch_size!r}")
        check_device("Energy", device, others=("mps",))
        check_positive_option("Energy", "watts", watts)
        check_positive_option("Energy", "grid_g_per_kwh", grid_g_per_kwh, allow_zero=True)
        check_example("Energy", example)
        self.example, self.batch_size, self.device, self.threads = example, batch_size, device, int(threads)
        self.min_window_s, self.watts, self.on_unavailable, self.grid = min_window_s, watts, on_unavailable, grid_g_per_kwh
        self.metrics = ("energy_per_inference_j",) + (("co2e_per_inference_g",) if grid_g_per_kwh is not None else ())

    def _inference(self, model: Any) -> Callable[[], Any]:
        batch = stack_example(self.example, self.batch_size)
        if is_torch_module(model):
            import torch

            usable = (torch.cuda.is_available() if self.device.startswith("cuda")
                      else torch.backends.mps.is_available() if self.device == "mps" else True)
            if not usable and (self.watts is not None or available_energy_source(self.device) != "unavailable"):
                # timed on the CPU, a watts= estimate (or the device's own counter) would be recorded as the device's
                raise ProbeError(f"Energy measures on device={self.device!r}, which torch does not see on this "
                                 "machine: run the study where the device is, or measure on device='cpu'")
            device = torch.device(self.device if usable else "cpu")  # no counter either: the meter says so
            model = model.to(device).eval()
            t = torch_input(model, batch, device)

            def run() -> Any:
                with torch.inference_mode():
                    return model(t)

            return run
        if hasattr(model, "predict"):
            if self.device != "cpu" and (self.watts is not None or available_energy_source(self.device) != "unavailable"):
                # it runs on the CPU: the device's counter would read the device idling, and a watts= estimate would
                # be the CPU's time at the device's power, recorded as the device's (as for a torch module above)
                raise ProbeError(f"Energy measures on device={self.device!r}; {type(model).__name__} runs on the CPU: "
                                 "measure it with device='cpu'")
            return lambda: model.predict(batch)
        raise ProbeError(f"cannot run inference on {type(model).__name__}: expected predict() or a torch module")

    def measure(self, model: Any) -> Measurement:
        if not is_torch_module(model):
            return self._measure(model)
        from moo_hpo.objectives.torch_state import as_shipped

        with kept_as_it_was(model):  # handed back in the mode and on the device it came in
            shipped, pruned = as_shipped(model)  # a pruned model runs as it ships, without its masks' hooks (as Latency)
            measured = self._measure(shipped)
        if pruned and isinstance(measured.extra.get("energy"), dict):
            measured.extra["energy"]["pruned"] = pruned
        return measured

    def _measure(self, model: Any) -> Measurement:
        run = self._inference(model)
        with cpu_threads_held(model, self.threads):
            for _ in range(5):
                run()  # warm-up
            try:
                meter = EnergyMeter(self.device, self.watts)
                with meter:
                    n = 0
                    t0 = time.perf_counter()
                    while n < 10 or time.perf_counter() - t0 < self.min_window_s:
                        run()
                        n += 1
            except ProbeError:
                if self.on_unavailable == "nan":
                    nan = {m: float("nan") for m in self.metrics}
                    return Measurement(nan, {"energy_source": "unavailable"})
                raise
        per = meter.joules / n
        out = {"energy_per_inference_j": per}
        if self.grid is not None:
            out["co2e_per_inference_g"] = per / _J_PER_KWH * self.grid
        return Measurement(out, {"energy_source": meter.source, "energy": {"window_s": meter.seconds, "inferences": n, "device": self.device,
                                                                          "threads": self.threads, **_source(meter)}})


class TrainingEnergy(Probe):
    """Energy of the ``fit`` step, ``energy_train_j`` (and ``co2e_train_g`` with a grid intensity).

    Used in ``study.optimize(fit, build=..., probes=[TrainingEnergy("cuda")])``: the study runs
    ``fit`` inside an :class:`EnergyMeter`. It cannot measure a finished model on its own.

    Args:
        device: ``"cuda[:n]"`` (NVML), ``"cpu"`` (RAPL) or ``"mps"`` (Apple's GPU: no counter is read, so
            ``watts`` gives an estimate).
        watts: explicit power for a labelled estimate when no counter exists.
        grid_g_per_kwh: grid carbon intensity for ``co2e_train_g``.
    """

    needs_training = True
    measures_training = True
    name = "training_energy"

    def __init__(self, device: str = "cuda", watts: float | None = None, grid_g_per_kwh: float | None = None) -> None:
        check_device("TrainingEnergy", device, others=("mps",))
        check_positive_option("TrainingEnergy", "watts", watts)
        check_positive_option("TrainingEnergy", "grid_g_per_kwh", grid_g_per_kwh, allow_zero=True)
        self.device, self.watts, self.grid = device, watts, grid_g_per_kwh
        self.metrics = ("energy_train_j",) + (("co2e_train_g",) if grid_g_per_kwh is not None else ())

    def meter(self) -> EnergyMeter:
        return EnergyMeter(self.device, self.watts)

    def from_meter(self, meter: EnergyMeter) -> Measurement:
        out = {"energy_train_j": meter.joules}
        if self.grid is not None:
            out["co2e_train_g"] = meter.joules / _J_PER_KWH * self.grid
        return Measurement(out, {"energy_source": meter.source, "training_energy": {"seconds": meter.seconds, "device": meter.device,
                                                                                   **_source(meter)}})

    def measure(self, model: Any) -> Measurement:
        raise ProbeError("TrainingEnergy measures the fit step: use it in study.optimize(fit, build=..., probes=[...])")


def _source(meter: EnergyMeter) -> dict[str, Any]:
    """A probe's own record of where its figure came from: ``{"source": "rapl"}``, or for an estimate
    ``{"source": "estimate", "watts": 10.0}``."""
    return {"source": meter.source, **({"watts": float(meter.watts)} if meter.source == "estimate" else {})}


#: Each energy probe's entry in ``trial.extra`` and the metrics it fills (an estimate's CO2e is one too).
ESTIMATED_BY: dict[str, tuple[str, ...]] = {
    "energy": ("energy_per_inference_j", "co2e_per_inference_g"),
    "training_energy": ("energy_train_j", "co2e_train_g"),
}


def estimated_metrics(trials: Sequence[Any]) -> dict[str, str]:
    """The energy metrics that some of ``trials`` estimated (``watts=...``, no counter) rather than measured, each
    with a label for reports: ``{"energy_per_inference_j": "estimate: 10 W x time"}``; and ``peak_memory_kb`` where
    :class:`~moo_hpo.objectives.PeakMemory` estimated it on the CPU (``"estimate: weights + largest layer or
    operation"``).

    A metric estimated by some trials only says how many (``"estimate in 3 of 5 trials: 10 W x time"``); a trial
    recorded before the probes kept their power (only ``extra["energy_source"] = "estimate"``) gives ``"a stated
    power x time"``. Metrics that every trial measured with a counter are left out.

    Args:
        trials: the trials (their ``metrics`` and ``extra``).

    Returns:
        metric name -> label, in the order of :data:`ESTIMATED_BY`; empty when nothing was estimated.
    """
    watts: dict[str, list[float | None]] = {}
    measured: dict[str, int] = {}
    for t in trials:
        extra = t.extra if isinstance(t.extra, dict) else {}
        for key, metrics in ESTIMATED_BY.items():
            own = extra.get(key) if isinstance(extra.get(key), dict) else {}
            source = own.get("source", extra.get("energy_source"))  # the shared key alone: recorded before the probe's own
            for metric in metrics:
                if metric not in (t.metrics or {}) or source == "unavailable":  # unavailable: NaN, neither
                    continue
                if source == "estimate":
                    power = own.get("watts")
                    watts.setdefault(metric, []).append(float(power) if isinstance(power, (int, float)) else None)
                else:
                    measured[metric] = measured.get(metric, 0) + 1
    out = {}
    for metric in (m for metrics in ESTIMATED_BY.values() for m in metrics if m in watts):
        powers = [f"{w:g} W" for w in sorted({w for w in watts[metric] if w is not None})]
        if None in watts[metric]:
            powers.append("a stated power")
        estimated = len(watts[metric])
        share = "" if not measured.get(metric) else f" in {estimated} of {estimated + measured[metric]} trials"
        out[metric] = f"estimate{share}: {' or '.join(powers)} x time"
    memory = _peak_memory_estimates(trials)
    if memory:
        out["peak_memory_kb"] = memory
    return out


def _peak_memory_estimates(trials: Sequence[Any]) -> str | None:
    """The label of ``peak_memory_kb`` where :class:`~moo_hpo.objectives.PeakMemory` estimated it on the CPU (its
    ``extra["peak_memory_method"]`` says so) rather than measured it on a GPU, or None."""
    methods = [t.extra.get("peak_memory_method") for t in trials if isinstance(t.extra, dict)
               and "peak_memory_kb" in (t.metrics or {}) and isinstance(t.extra.get("peak_memory_method"), str)]
    estimated = [m for m in methods if m.startswith("cpu estimate")]
    if not estimated:
        return None
    share = "" if len(estimated) == len(methods) else f" in {len(estimated)} of {len(methods)} trials"
    counted = "weights + " if any("weights and buffers in flash" not in m for m in estimated) else ""
    return f"estimate{share}: {counted}largest layer or operation"
