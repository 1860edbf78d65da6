"""Inference latency on CPU (PyTorch and scikit-learn) and on CUDA GPUs.

* **CPU**: ``time.perf_counter_ns`` around each call, under ``torch.inference_mode`` with a fixed
  intra-op thread count (recorded in ``extra``; restored afterwards). scikit-learn models time
  ``predict`` on a batch of rows.
* **CUDA**: CUDA events around each call, the stream synchronized before reading them.

The stopping rule, the same on both. First untimed warm-up calls: at least ``warmup`` of them and
``warmup_s`` seconds. Then blocks of ``block`` timed calls until the median of the latest block is
within ``rel_tol`` of the running median (the sample has settled), there are ``min_repeats`` timed calls
and they add up to ``min_time_s`` seconds; or until ``max_repeats`` timed calls. The time floor keeps fast
models from being judged on a few milliseconds of the machine's life: one scheduler hiccup would shift
their whole sample.

``max_time_s`` caps the probe's whole wall time per model, warm-up included, and wins over every rule
above: warm-up ends once it has used a quarter of the cap, and a call starts only while the latest call's
duration says it will end within the cap. A slow model stops with the calls made so far (one warm-up
call and one timed call at least), so the probe's time stays within the cap unless a call takes longer
than the one before it.

Metrics (with a configurable prefix, default ``latency``): ``<prefix>_p50_ms``, ``_p90_ms``,
``_p99_ms``, ``_mean_ms``, from all timed calls. ``extra["latency"]`` (``extra[prefix]``) records the device name, batch
size, the example's shape and thread count (and ``pruned``: the pruned tensors of a model timed as it ships, its
masks made permanent on a copy), and how the measurement went: ``timed_calls``, ``warmup_calls``, ``wall_s`` (the
probe's wall time), ``stopped_by`` (``"settled"``, ``"max_repeats"`` or ``"max_time_s"``) and
``stopped_at_cap`` (True when ``max_time_s`` stopped it: its percentiles come from fewer calls than the
rules above ask for).
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.objectives.base import (
    Measurement,
    StructureProbe,
    check_device,
    check_metric_prefix,
    is_torch_module,
    kept_as_it_was,
)
from moo_hpo.objectives.inputs import check_example, stack_example, torch_input
from moo_hpo.objectives.threads import cpu_threads_held
from moo_hpo.user_warnings import warn

__all__ = ["Latency", "summarize_times"]

WARMUP_SHARE = 0.25  # the share of max_time_s that warm-up may use


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


def _check_arguments(**values: Any) -> None:
    """Raise one ConfigError that names every bad argument of :class:`Latency` and its value."""
    integers = {"batch_size": 1, "threads": 1, "warmup": 0, "block": 1, "min_repeats": 1, "max_repeats": 1}
    problems = []
    for name, value in values.items():
        integer = name in integers
        if isinstance(value, bool) or not isinstance(value, Integral if integer else Real) or (not integer and not math.isfinite(value)):
            problems.append(f"{name} {'an integer' if integer else 'a finite number'} (received {value!r})")
        elif integer and value < integers[name]:
            problems.append(f"{name} >= {integers[name]} (received {value!r})")
        elif name in ("warmup_s", "min_time_s", "rel_tol") and value < 0:
            problems.append(f"{name} >= 0 (received {value!r})")
        elif name == "max_time_s" and value <= 0:
            problems.append(f"max_time_s > 0 (received {value!r})")
    if not problems:
        if values["min_repeats"] > values["max_repeats"]:
            problems.append(f"min_repeats <= max_repeats (received min_repeats={values['min_repeats']!r}, max_repeats={values['max_repeats']!r})")
        if values["min_time_s"] > values["max_time_s"]:
            problems.append(f"min_time_s <= max_time_s (received min_time_s={values['min_time_s']!r}, max_time_s={values['max_time_s']!r})")
    if problems:
        raise ConfigError("Latency expects " + "; ".join(problems))


class Latency(StructureProbe):
    """Time inference of a model on an example input, within a wall-clock cap per model.

    With the defaults a model is measured for about 0.7 s when it is fast and steady (0.2 s of warm-up,
    then at least 0.5 s of timed calls until their median settles, at most 20,000 of them), and never for
    much more than 10 s, however slow it is. See the module docstring for the stopping rule.

    Args:
        example: one input sample without the batch dimension (a feature row, a ``(C, H, W)``
            image ...); it is stacked ``batch_size`` times. A pandas row (``X.iloc[[0]]``, which keeps each column's
            type, or ``X.iloc[0]``) stays a DataFrame with its column names, for pipelines that select columns by name.
        batch_size: rows per call.
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:1"`` ...); torch modules are moved there.
        threads: intra-op threads on CPU (fixed for the measurement: torch's, or a scikit-learn model's BLAS and
            OpenMP thread pools and the ``n_jobs`` of every estimator in it, fitted ones too, given back as they were).
        warmup: untimed calls first (at least, within the cap).
        warmup_s: untimed seconds first (at least, within the cap): caches, allocator and clock settle.
        block: calls per timed block.
        min_repeats: timed calls at least (within the cap).
        min_time_s: timed seconds at least (the sum of the timed calls), unless ``max_repeats`` or
            ``max_time_s`` comes first; None: 0.5, or half of ``max_time_s`` when that is shorter (warm-up takes part of
            the cap, and the timing must be able to settle before it).
        max_repeats: timed calls at most.
        max_time_s: the probe's wall time per model at most, warm-up included: warm-up ends once it has
            used a quarter of it, and no call starts that the latest call's duration says would end after
            it. It wins over ``warmup``, ``min_repeats`` and ``min_time_s``; ``extra["latency"]`` then says
            ``stopped_at_cap``.
        rel_tol: stop once a block's median is within this share of the running median.
        prefix: metric name prefix.

    Raises:
        ConfigError: for bad arguments (a negative count or time, ``min_repeats > max_repeats``,
            ``min_time_s > max_time_s``, ``max_time_s <= 0`` ...).
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
        min_time_s: float | None = None,
        max_repeats: int = 20000,
        max_time_s: float = 10.0,
        rel_tol: float = 0.02,
        prefix: str = "latency",
    ) -> None:
        if min_time_s is None:  # the default floor; under a short cap half of it (Latency(x, max_time_s=0.3) is fine)
            min_time_s = min(0.5, 0.5 * max_time_s) if isinstance(max_time_s, Real) and not isinstance(max_time_s, bool) else 0.5
        _check_arguments(
            batch_size=batch_size, threads=threads, warmup=warmup, warmup_s=warmup_s, block=block, min_repeats=min_repeats,
            min_time_s=min_time_s, max_repeats=max_repeats, max_time_s=max_time_s, rel_tol=rel_tol,
        )
        check_device("Latency", device)
        check_example("Latency", example)
        self.example, self.batch_size, self.device, self.threads = example, batch_size, device, threads
        self.warmup_s, self.min_time_s, self.max_time_s = warmup_s, min_time_s, max_time_s
        self.warmup, self.block, self.min_repeats, self.max_repeats, self.rel_tol = warmup, block, min_repeats, max_repeats, rel_tol
        self.prefix = check_metric_prefix("Latency", prefix)
        self.metrics = tuple(summarize_times(np.ones(1), self.prefix))

    def _batch(self) -> np.ndarray:
        return stack_example(self.example, self.batch_size)

    def _time_loop(self, call: Callable[[], Any], clock: Callable[[Callable[[], Any]], float],
                   now: Callable[[], float] = time.perf_counter, sync: Callable[[], Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Warm up, then time calls by the stopping rule.

        Args:
            call: one inference call.
            clock: ``clock(call)`` makes the call and returns its time in milliseconds.
            now: the wall clock in seconds (the cap and the warm-up seconds are read from it).
            sync: waits for the device after each warm-up call (CUDA), so that warm-up time is the work
                done, not the work queued.

        Returns:
            The timed calls' times in milliseconds, and how the measurement went (``timed_calls``,
            ``warmup_calls``, ``wall_s``, ``stopped_by``, ``stopped_at_cap``).
        """
        start = now()
        deadline = start + self.max_time_s
        warmup_deadline = start + WARMUP_SHARE * self.max_time_s
        warmup_end = start + self.warmup_s
        last = 0.0  # wall seconds of the latest call: will the next one end within the cap?
        n_warmup = 0
        while n_warmup < self.warmup or now() < warmup_end:
            t0 = now()
            if n_warmup and t0 + last > warmup_deadline:
                break
            call()
            if sync is not None:
                sync()
            n_warmup += 1
            last = now() - t0
        times: list[float] = []
        timed_ms = 0.0
        stopped_by = "max_repeats"
        while len(times) < self.max_repeats:
            before = np.median(times) if times else None
            block: list[float] = []
            for _ in range(min(self.block, self.max_repeats - len(times))):
                t0 = now()
                if (times or block) and t0 + last > deadline:
                    stopped_by = "max_time_s"
                    break
                block.append(clock(call))
                last = now() - t0
            times.extend(block)
            timed_ms += sum(block)
            if stopped_by == "max_time_s":
                break
            if len(times) < self.min_repeats:
                continue
            settled = before is not None and abs(np.median(block) - before) <= self.rel_tol * before
            if settled and timed_ms >= 1000.0 * self.min_time_s:
                stopped_by = "settled"
                break
        info = {"timed_calls": len(times), "warmup_calls": n_warmup, "wall_s": round(now() - start, 6),
                "stopped_by": stopped_by, "stopped_at_cap": stopped_by == "max_time_s"}
        return np.asarray(times), info

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

        try:  # BLAS and OpenMP pools, and joblib's (n_jobs), held to threads, as torch's is
            with cpu_threads_held(model, self.threads):
                times, info = self._time_loop(lambda: model.predict(X), clock)
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"latency probe: predict failed on a batch of shape {X.shape}{self._shape_hint()}: "
                             f"{type(exc).__name__}: {exc}") from exc
        return Measurement(summarize_times(times, self.prefix), {self.prefix: self._extra("cpu", _cpu_name(), info)})

    def _shape_hint(self) -> str:
        """For an example given with a batch dimension of 1 (``X[:1]``): what to give instead."""
        shape = np.shape(self.example)
        if len(shape) >= 2 and shape[0] == 1 and not hasattr(self.example, "columns"):  # a one-row DataFrame is a row
            return (f" (the example has shape {shape}: if its leading 1 is a batch dimension, give one sample without it, "
                    "such as X[0], not X[:1])")
        return ""

    def _extra(self, device: str, name: str, info: dict[str, Any]) -> dict[str, Any]:
        return {"device": device, "device_name": name, "batch_size": self.batch_size, "threads": self.threads,
                "example_shape": list(np.shape(self.example)), **info}

    def _warn_if_a_batch(self, model: Any) -> None:
        """Warn (once per probe) when the example looks like a batch of feature rows (``X[:256]``) for a model whose
        first layer is a ``Linear`` one: a linear layer takes the extra dimension, so each call would run
        ``batch_size`` times that many rows, silently, under the name of batch size ``batch_size``."""
        shape = np.shape(self.example)
        if getattr(self, "_warned_batch", False) or len(shape) != 2 or shape[0] <= 1 or hasattr(self.example, "columns"):
            return
        first = next((m for m in model.modules() if next(m.children(), None) is None
                      and any(True for _ in m.parameters(recurse=False))), None)
        if type(first).__name__ == "Linear" and getattr(first, "in_features", None) == shape[1]:
            self._warned_batch = True
            warn(f"Latency's example has shape {shape}, and the model's first layer is a Linear one of {shape[1]} "
                 f"inputs: each timed call runs {self.batch_size} x {shape[0]} rows (recorded as batch_size="
                 f"{self.batch_size}); give one sample, Latency(X[0], batch_size={shape[0]}), for a batch of "
                 f"{shape[0]} rows (if it is one sample, a sequence of {shape[0]} steps, it is timed as meant)")

    def _measure_torch(self, model: Any) -> Measurement:
        """Time the model in eval mode on ``device``; it is handed back in the mode and on the device it came in
        (a probe before training must not switch off dropout and batch norm for the training that follows)."""
        import torch

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ProbeError(f"latency on {self.device!r} needs a CUDA GPU; torch.cuda.is_available() is False here")
        from moo_hpo.objectives.torch_state import as_shipped

        self._warn_if_a_batch(model)
        with kept_as_it_was(model):  # handed back in its mode, on its device
            shipped, pruned = as_shipped(model)  # a pruned model is timed as it ships, without its masks' hooks
            measured = self._time_torch(shipped, torch.device(self.device))
        if pruned:
            measured.extra[self.prefix]["pruned"] = pruned
        return measured

    def _time_torch(self, model: Any, device: Any) -> Measurement:
        import torch

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
                times, info = self._time_loop(lambda: model(x), clock, sync=lambda: torch.cuda.synchronize(device))
            return Measurement(summarize_times(times, self.prefix), {self.prefix: self._extra(str(device), torch.cuda.get_device_name(device), info)})

        def clock(call: Any) -> float:
            t0 = time.perf_counter_ns()
            call()
            return (time.perf_counter_ns() - t0) / 1e6

        try:
            with cpu_threads_held(model, self.threads), torch.inference_mode():
                times, info = self._time_loop(lambda: model(x), clock)
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"latency probe: forward pass failed on input of shape {tuple(x.shape)}{self._shape_hint()}: "
                             f"{type(exc).__name__}: {exc}") from exc
        return Measurement(summarize_times(times, self.prefix), {self.prefix: self._extra("cpu", _cpu_name(), info)})
