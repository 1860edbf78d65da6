"""Inference latency on CPU (PyTorch and scikit-learn) and on CUDA GPUs.

* **CPU**: ``time.perf_counter_ns`` around each call, under ``torch.inference_mode`` with a fixed
  intra-op thread count (recorded in ``extra``; restored afterwards). scikit-learn models time
  ``predict`` on a batch of rows.
* **CUDA**: CUDA events around each call, the stream synchronized before reading them.
* Both warm up first (at least ``warmup`` calls and ``warmup_s`` seconds), then time blocks of calls
  until the timed calls add up to ``min_time_s`` seconds, there are ``min_repeats`` of them and the
  median of the last block is within ``rel_tol`` of the running median, or until ``max_repeats``
  calls or (with ``min_repeats`` done) ``max_time_s`` timed seconds, whichever comes first. The
  time floor keeps fast models from being judged on a few milliseconds of the machine's life: one
  scheduler hiccup would shift their whole sample.

Metrics (with a configurable prefix, default ``latency``): ``<prefix>_p50_ms``, ``_p90_ms``,
``_p99_ms``, ``_mean_ms``. ``extra["latency"]`` records the device name, batch size, thread count and
number of timed calls.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import Measurement, StructureProbe, is_torch_module, stack_example, torch_input

__all__ = ["Latency", "summarize_times"]


def summarize_times(times_ms: np.ndarray, prefix: str = "latency") -> dict[str, float]:
    """p50, p90, p99 and mean of a sample of times in milliseconds."""
    t = np.asarray(times_ms, dtype=float)
    return {
        f"{prefix}_p50_ms": float(np.percentile(t, 50)),
        f"{prefix}_p90_ms": float(np.percentile(t, 90)),
        f"{prefix}_p99_ms": float(np.percentile(t, 99)),
        f"{prefix}_mean_ms": float(t.mean()),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Latency(StructureProbe):
    """Time inference of a model on an example input.

    Args:
        example: one input sample without the batch dimension (a feature row, a ``(C, H, W)``
            image ...); it is stacked ``batch_size`` times.
        batch_size: rows per call.
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:1"`` ...); torch modules are moved there.
        threads: intra-op threads on CPU (fixed for the measurement).
        warmup: untimed calls first (at least).
        warmup_s: untimed seconds first (at least): caches, allocator and clock settle.
        block: calls per timed block.
        min_repeats: timed calls at least.
        min_time_s: timed seconds at least (the sum of the timed calls), unless ``max_repeats`` comes first.
        max_repeats: timed calls at most.
        max_time_s: timed seconds (the sum of the timed calls) after which timing stops once
            ``min_repeats`` calls are done, even if the blocks' medians have not settled.
        rel_tol: stop once a block's median is within this share of the running median.
        prefix: metric name prefix.

    Raises:
        ConfigError: for bad arguments.
    """

    needs_training = False
    name = "latency"

    def __init__(
        self,
        example: Any,
        batch_size: int = 1,
        device: str = "cpu",
        threads: int = 1,
        warmup: int = 10,
        warmup_s: float = 0.2,
        block: int = 50,
        min_repeats: int = 100,
        min_time_s: float = 0.5,
        max_repeats: int = 20000,
        max_time_s: float = 10.0,
        rel_tol: float = 0.02,
        prefix: str = "latency",
    ) -> None:
        if (
            batch_size < 1 or threads < 1 or warmup < 0 or block < 1
            or not 1 <= min_repeats <= max_repeats or not 0 <= min_time_s <= max_time_s
        ):
            raise ConfigError(
                "Latency expects batch_size >= 1, threads >= 1, warmup >= 0, block >= 1, "
                "1 <= min_repeats <= max_repeats and 0 <= min_time_s <= max_time_s; received "
                f"{batch_size}, {threads}, {warmup}, {block}, {min_repeats}, {max_repeats}, {min_time_s}, {max_time_s}"
            )
        if not (device == "cpu" or device.startswith("cuda")):
            raise ConfigError(f"device must be 'cpu' or 'cuda[:n]'; received {device!r}")
        self.example, self.batch_size, self.device, self.threads = example, batch_size, device, threads
        self.warmup_s, self.min_time_s, self.max_time_s = warmup_s, min_time_s, max_time_s
        self.warmup, self.block, self.min_repeats, self.max_repeats, self.rel_tol = warmup, block, min_repeats, max_repeats, rel_tol
        self.prefix = prefix
        self.metrics = tuple(summarize_times(np.ones(1), prefix))

    def _batch(self) -> np.ndarray:
        return stack_example(self.example, self.batch_size)

    def _time_loop(self, call: Any, clock: Any) -> np.ndarray:
        t_end = time.perf_counter() + self.warmup_s
        n = 0
        while n < self.warmup or time.perf_counter() < t_end:
            call()
            n += 1
        times: list[float] = []
        timed_ms = 0.0
        while len(times) < self.max_repeats:
            block = [clock(call) for _ in range(min(self.block, self.max_repeats - len(times)))]
            before = np.median(times) if times else None
            times.extend(block)
            timed_ms += sum(block)
            if len(times) < self.min_repeats:
                continue
            settled = before is not None and abs(np.median(block) - before) <= self.rel_tol * before
            if (settled and timed_ms >= 1000.0 * self.min_time_s) or timed_ms >= 1000.0 * self.max_time_s:
                break  # settled over the time floor, or never settled within max_time_s
        return np.asarray(times)

    def measure(self, model: Any) -> Measurement:
        if is_torch_module(model):
            return self._measure_torch(model)
        if self.device != "cpu":
            raise ProbeError(f"latency on {self.device} is measured for torch modules; received {type(model).__name__}")
        if not hasattr(model, "predict"):
            raise ProbeError(f"cannot time {type(model).__name__}: expected predict() or a torch module")
        X = self._batch()

        def clock(call: Any) -> float:
            t0 = time.perf_counter_ns()
            call()
            return (time.perf_counter_ns() - t0) / 1e6

        try:
            times = self._time_loop(lambda: model.predict(X), clock)
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"latency probe: predict failed on a batch of shape {X.shape}: {type(exc).__name__}: {exc}") from exc
        return Measurement(summarize_times(times, self.prefix), {"latency": self._extra("cpu", _cpu_name(), len(times))})

    def _extra(self, device: str, name: str, n: int) -> dict[str, Any]:
        return {"device": device, "device_name": name, "batch_size": self.batch_size, "threads": self.threads, "timed_calls": n}

    def _measure_torch(self, model: Any) -> Measurement:
        import torch

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ProbeError(f"latency on {self.device!r} needs a CUDA GPU; torch.cuda.is_available() is False here")
        device = torch.device(self.device)
        try:
            model = model.to(device).eval()
            x = torch_input(model, self._batch(), device)
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"latency probe could not move the model or input to {self.device}: {exc}") from exc
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

            def clock(call: Any) -> float:
                start.record()
                call()
                end.record()
                end.synchronize()
                return float(start.elapsed_time(end))

            with torch.inference_mode():
                times = self._time_loop(lambda: model(x), clock)
            return Measurement(summarize_times(times, self.prefix), {"latency": self._extra(str(device), torch.cuda.get_device_name(device), len(times))})

        def clock(call: Any) -> float:
            t0 = time.perf_counter_ns()
            call()
            return (time.perf_counter_ns() - t0) / 1e6

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                times = self._time_loop(lambda: model(x), clock)
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"latency probe: forward pass failed on input of shape {tuple(x.shape)}: {type(exc).__name__}: {exc}") from exc
        finally:
            torch.set_num_threads(previous)
        return Measurement(summarize_times(times, self.prefix), {"latency": self._extra("cpu", _cpu_name(), len(times))})
