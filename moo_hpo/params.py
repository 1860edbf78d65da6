"""Parameter domains of a search space: :class:`Float`, :class:`Int` and :class:`Categorical`.

Each parameter knows its domain, its conditions (``active_if``), how to sample it from the compact unit
cube and how it is encoded in the models' unit cube (see :mod:`moo_hpo.space` for the two cubes).
:func:`param_from_dict` rebuilds one from the JSON form its ``to_dict`` writes (also a TOML study's form).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import plain

__all__ = ["Categorical", "Float", "Int", "Param", "param_from_dict", "same_definition", "same_value"]

_SCALAR_TYPES = (str, int, float, bool, type(None))
_EXACT_INT = 2**53  # every integer up to this magnitude is a float exactly


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells ``1``, ``1.0`` and ``True`` apart (they are equal in Python)."""
    return type(a) is type(b) and a == b


def same_definition(a: Any, b: Any) -> bool:
    """:func:`same_value` through dicts and lists (a space's ``to_dict()``, as given and as its file keeps it:
    ``Categorical([3, 5])`` and ``Categorical([3.0, 5.0])`` are two spaces)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_definition(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_definition(x, y) for x, y in zip(a, b, strict=True))
    return same_value(a, b)


def _normalize_active_if(active_if: Mapping[str, Any] | None) -> dict[str, tuple[Any, ...]]:
    if active_if is None:
        return {}
    if not isinstance(active_if, Mapping) or not active_if:
        raise ConfigError(
            "active_if must be a non-empty mapping of parent name to allowed value(s), "
            f"e.g. {{'optimizer': 'sgd'}}; received {active_if!r}"
        )
    out: dict[str, tuple[Any, ...]] = {}
    for parent, values in active_if.items():
        if isinstance(values, (list, tuple, set, frozenset)):
            values = tuple(values)
        else:
            values = (values,)
        if not values:
            raise ConfigError(f"active_if[{parent!r}] must name at least one value; received an empty list")
        out[str(parent)] = tuple(plain(v) for v in values)  # np.int64(2) is the config's 2
    return out


def _check_log(kind: str, log: Any) -> bool:
    """``log`` is a boolean (``log="yes"`` would otherwise be read as True, ``log="no"`` too)."""
    if not isinstance(log, (bool, np.bool_)):
        raise ConfigError(f"{kind}(log=...) expects True or False; received {log!r}")
    return bool(log)


class Param:
    """Base class of the parameter domains. Subclasses store their arguments and validate them."""

    active_if: dict[str, tuple[Any, ...]]

    @property
    def n_columns(self) -> int:
        """Number of columns this parameter takes in the encoded unit cube."""
        return 1

    def contains(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def from_unit(self, u: np.ndarray) -> list[Any]:  # pragma: no cover - abstract
        """Map compact coordinates in ``[0, 1]`` to values."""
        raise NotImplementedError

    def encode_values(self, values: Sequence[Any]) -> np.ndarray:  # pragma: no cover - abstract
        """Encode values to a ``(n, n_columns)`` block."""
        raise NotImplementedError

    def decode_block(self, block: np.ndarray) -> list[Any]:  # pragma: no cover - abstract
        """Decode a ``(n, n_columns)`` block to values."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _condition_dict(self) -> dict[str, Any]:
        return {"active_if": {k: list(v) for k, v in self.active_if.items()}} if self.active_if else {}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({args})"


_SIGN = np.int64(-(2**63))


def _float_key(x: float) -> np.int64:
    """An integer key that orders floats like their values (adjacent floats differ by 1)."""
    b = np.array([x], dtype=np.float64).view(np.int64)[0]
    return b if b >= 0 else -(b & ~_SIGN)


def _key_float(k: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_float_key`, elementwise."""
    k = np.asarray(k, dtype=np.int64)
    bits = np.where(k >= 0, k, (-k) | _SIGN)
    return bits.view(np.float64)


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a real number; received {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite; received {value!r}")
    return value


class Float(Param):
    """A real-valued parameter in ``[low, high]``.

    Args:
        low: smallest value (inclusive).
        high: largest value (inclusive); must be greater than ``low``.
        log: sample and model on a log scale; needs ``low > 0``.
        active_if: parent name -> allowed value(s); the parameter exists only while they hold.

    Raises:
        ConfigError: for non-finite bounds or a range too wide for a float, ``low >= high``, or ``log`` with
            ``low <= 0``.
    """

    def __init__(self, low: float, high: float, log: bool = False, active_if: Mapping[str, Any] | None = None):
        self.low = _check_number("Float low", low)
        self.high = _check_number("Float high", high)
        self.log = _check_log("Float", log)
        self.active_if = _normalize_active_if(active_if)
        if self.low >= self.high:
            raise ConfigError(f"Float expects low < high; received low={low!r}, high={high!r}"
                              + (f" (to fix the value, use Categorical([{low!r}]))" if self.low == self.high else ""))
        if self.log and self.low <= 0:
            raise ConfigError(f"Float(log=True) expects low > 0; received low={low!r}")
        if not math.isfinite(self.high - self.low):
            raise ConfigError(f"Float expects a range whose width is a finite float; received low={low!r}, high={high!r}")
        self._lo, self._hi = (float(np.log(self.low)), float(np.log(self.high))) if self.log else (self.low, self.high)

    def contains(self, value: Any) -> bool:
        kind = type(value)
        if kind is not float and (kind is bool or not isinstance(value, (float, int))):
            return False
        return self.low <= value <= self.high  # False for NaN; inf is outside finite bounds

    def _forward(self, x: np.ndarray) -> np.ndarray:
        t = np.log(x) if self.log else x
        return (t - self._lo) / (self._hi - self._lo)

    def _backward(self, u: np.ndarray) -> np.ndarray:
        t = self._lo + u * (self._hi - self._lo)
        x = np.clip(np.exp(t) if self.log else t, self.low, self.high)
        # the ends of the interval are exact, whatever the rounding of exp and log
        return np.where(u <= 0.0, self.low, np.where(u >= 1.0, self.high, x))

    def _bisect(self, u: np.ndarray) -> np.ndarray:
        """Smallest float in [low, high] whose encoding is >= u (== u when one exists)."""
        lo = np.full(u.shape, _float_key(self.low))
        hi = np.full(u.shape, _float_key(self.high))
        for _ in range(66):
            active = lo < hi
            if not active.any():
                break
            mid = (lo >> 1) + (hi >> 1) + (lo & hi & 1)  # floor((lo + hi) / 2) without overflow
            below = self._forward(_key_float(mid)) < u
            lo = np.where(active & below, mid + 1, lo)
            hi = np.where(active & ~below, mid, hi)
        return _key_float(lo)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        return self.decode_block(np.asarray(u, dtype=float))

    def encode_values(self, values: Sequence[Any]) -> np.ndarray:
        return self._forward(np.asarray(values, dtype=float)).reshape(-1, 1)

    def decode_block(self, block: np.ndarray) -> list[Any]:
        u = np.clip(np.asarray(block, dtype=float).reshape(-1), 0.0, 1.0)
        x = self._backward(u)
        # Rounding in exp/log can leave x a few ulps from the value that was encoded (the encoding is
        # monotone, so a bisection over float bit patterns finds the right one).
        # Canonical answer: the smallest float whose encoding is >= u. Then decode(encode(decode(u)))
        # returns the same float, because any smaller float encodes below u.
        best = x.copy()
        below = np.maximum(np.nextafter(x, -np.inf), self.low)
        canonical = (self._forward(x) >= u) & ((x == self.low) | (self._forward(below) < u))
        miss = np.flatnonzero(~canonical)
        if miss.size:
            best[miss] = self._bisect(u[miss])
        # a float that encodes to an end of the cube is that end's bound itself (a few ulps inside the
        # bound can encode there too after exp/log rounding)
        enc = self._forward(best)
        best = np.where((u >= 1.0) | (enc >= 1.0), self.high, np.where((u <= 0.0) | (enc <= 0.0), self.low, best))
        return [float(v) for v in best]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log, **self._condition_dict()}


class Int(Param):
    """An integer parameter ``low, low + step, ..., high``.

    Args:
        low: smallest value (inclusive).
        high: largest value (inclusive); must be greater than ``low``.
        log: sample and model on a log scale; needs ``low >= 1`` and ``step == 1``.
        step: spacing between values; ``high - low`` must be a multiple of it.
        active_if: parent name -> allowed value(s); the parameter exists only while they hold.

    Raises:
        ConfigError: for non-integer bounds, bounds beyond +-2**53, ``low >= high``, a bad step, or
            ``log`` with ``low <= 0``.
    """

    def __init__(
        self,
        low: int,
        high: int,
        log: bool = False,
        step: int = 1,
        active_if: Mapping[str, Any] | None = None,
    ):
        for label, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ConfigError(f"Int {label} must be an integer; received {v!r} ({type(v).__name__})")
        self.low, self.high, self.step = int(low), int(high), int(step)
        self.log = _check_log("Int", log)
        self.active_if = _normalize_active_if(active_if)
        if self.low >= self.high:
            raise ConfigError(f"Int expects low < high; received low={low!r}, high={high!r}"
                              + (f" (to fix the value, use Categorical([{low!r}]))" if self.low == self.high else ""))
        if max(abs(self.low), abs(self.high)) > _EXACT_INT:
            raise ConfigError(
                f"Int bounds must lie within +-2**53 (integers a float holds exactly, which sampling and the "
                f"models need); received low={low!r}, high={high!r}: use Float(..., log=True) for wider ranges"
            )
        if self.step < 1:
            raise ConfigError(f"Int expects step >= 1; received step={step!r}")
        if (self.high - self.low) % self.step:
            raise ConfigError(
                f"Int expects high - low to be a multiple of step; received low={low}, high={high}, step={step}"
            )
        if self.log and self.low <= 0:
            raise ConfigError(f"Int(log=True) expects low > 0; received low={low!r}")
        if self.log and self.step != 1:
            raise ConfigError(f"Int(log=True) expects step == 1; received step={step!r}")
        half = 0.5 * self.step
        if self.log:
            self._lo, self._hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
        else:
            self._lo, self._hi = self.low - half, self.high + half
        self.n_values = (self.high - self.low) // self.step + 1

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, (int, np.integer))
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )

    def from_unit(self, u: np.ndarray) -> list[Any]:
        return self.decode_block(np.asarray(u, dtype=float))

    def encode_values(self, values: Sequence[Any]) -> np.ndarray:
        x = np.asarray(values, dtype=float)
        t = np.log(x) if self.log else x
        return ((t - self._lo) / (self._hi - self._lo)).reshape(-1, 1)

    def decode_block(self, block: np.ndarray) -> list[Any]:
        u = np.clip(np.asarray(block, dtype=float).reshape(-1), 0.0, 1.0)
        t = self._lo + u * (self._hi - self._lo)
        x = np.exp(t) if self.log else t
        k = np.clip(np.round((x - self.low) / self.step), 0, self.n_values - 1).astype(np.int64)
        return [self.low + int(i) * self.step for i in k]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "int",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
            **self._condition_dict(),
        }


class Categorical(Param):
    """A parameter that takes one of a list of choices.

    Args:
        choices: strings, numbers, bools or None; at least one, no duplicates (``1`` and ``True``
            count as different choices).
        active_if: parent name -> allowed value(s); the parameter exists only while they hold.

    Raises:
        ConfigError: for an empty list, a duplicate, NaN, or a value that is not a scalar.
    """

    def __init__(self, choices: Iterable[Any], active_if: Mapping[str, Any] | None = None):
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Iterable):
            raise ConfigError(f"Categorical expects a list of choices; received {choices!r}")
        if isinstance(choices, (set, frozenset)) and len(choices) > 1 and any(isinstance(c, (str, bytes)) for c in choices):
            # text is hashed with a seed of its process: the set's order, and a study seed's draws, change per run
            raise ConfigError(f"Categorical expects a list of choices, in an order that stays; received a set of text "
                              f"{choices!r} (its order changes from one run to the next): give sorted(...) or a list")
        items = [c.item() if isinstance(c, np.generic) else c for c in choices]
        if not items:
            raise ConfigError("Categorical expects at least one choice; received an empty list")
        for c in items:
            if not isinstance(c, _SCALAR_TYPES):
                hint = (" (a tuple such as hidden_layer_sizes: give text choices, '64-32', and turn them back in your "
                        "build function)" if isinstance(c, (tuple, list)) else "")
                raise ConfigError(
                    "Categorical choices must be str, int, float, bool or None; "
                    f"received {c!r} ({type(c).__name__}){hint}"
                )
            if isinstance(c, float) and not math.isfinite(c):
                raise ConfigError(f"Categorical choices must be finite; received {c!r}")
        for i, a in enumerate(items):
            for b in items[:i]:
                if same_value(a, b):
                    raise ConfigError(f"Categorical choices must be unique; received {a!r} twice in {items!r}")
        self.choices = tuple(items)
        self.active_if = _normalize_active_if(active_if)

    @property
    def n_columns(self) -> int:
        return len(self.choices) if len(self.choices) > 1 else 1

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices.

        Raises:
            ConfigError: if ``value`` is not a choice.
        """
        for i, c in enumerate(self.choices):
            if same_value(c, value):
                return i
        raise ConfigError(f"{value!r} is not one of the choices {list(self.choices)!r}")

    def contains(self, value: Any) -> bool:
        return any(same_value(c, value) for c in self.choices)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        k = len(self.choices)
        idx = np.clip(np.floor(np.asarray(u, dtype=float) * k), 0, k - 1).astype(int)
        return [self.choices[i] for i in idx]

    def encode_values(self, values: Sequence[Any]) -> np.ndarray:
        k = len(self.choices)
        if k == 1:
            return np.full((len(values), 1), 0.5)
        out = np.zeros((len(values), k))
        for row, v in enumerate(values):
            out[row, self.index(v)] = 1.0
        return out

    def decode_block(self, block: np.ndarray) -> list[Any]:
        block = np.asarray(block, dtype=float).reshape(-1, self.n_columns)
        if len(self.choices) == 1:
            return [self.choices[0]] * len(block)
        return [self.choices[i] for i in np.argmax(block, axis=1)]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices), **self._condition_dict()}


_PARAM_TYPES: dict[str, type[Param]] = {"float": Float, "int": Int, "categorical": Categorical}


def param_from_dict(name: str, spec: Mapping[str, Any]) -> Param:
    """Build one parameter from its description (``{"type": "float", "low": 0, "high": 1, ...}``).

    The form :meth:`Param.to_dict` writes, and the one a TOML study file uses.

    Args:
        name: the parameter's name (for error messages).
        spec: ``type`` (``"float"``, ``"int"`` or ``"categorical"``) and the constructor's arguments.

    Returns:
        The parameter.

    Raises:
        ConfigError: for a missing or unknown type, or arguments the type does not take.
    """
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"parameter {name!r} needs a type (one of {sorted(_PARAM_TYPES)}); received {spec!r}")
    d = dict(spec)
    kind = d.pop("type")
    if kind not in _PARAM_TYPES:
        raise ConfigError(f"parameter {name!r}: unknown type {kind!r}; expected one of {sorted(_PARAM_TYPES)}")
    import inspect

    from moo_hpo.naming import closest_name

    known = [k for k in inspect.signature(_PARAM_TYPES[kind]).parameters if k != "self"]
    unknown = [k for k in d if k not in known]
    if unknown:
        hints = [f"{close!r} for {k!r}?" for k in unknown if (close := closest_name(k, known, abbreviation=True))]
        raise ConfigError(f"parameter {name!r} ({kind}): unknown {unknown}; expected some of {known}"
                          + (f" ({' '.join(hints)})" if hints else ""))
    try:
        return _PARAM_TYPES[kind](**d)
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"parameter {name!r} ({kind}): {exc}") from None
