"""Plain values: numbers given as Python or NumPy scalars, and NumPy scalars turned into Python ones.

Users compute bounds, budgets and configurations with NumPy (``np.arange``, ``np.quantile``, a pandas column):
an ``np.int64(500)`` bound or ``np.float32(0.5)`` learning rate is the same number as ``500`` or ``0.5``. Argument
checks accept both (never a bool, which Python counts as an integer), and what moo_hpo stores (a study file's JSON)
holds Python values only, so that it reads back the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["choice_text", "is_flag", "is_integer", "is_number", "plain"]


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer: a Python ``int`` or a NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number: a Python ``int`` or ``float`` or a NumPy integer or floating scalar,
    not a bool (NaN and infinities are numbers: callers check the range they need)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def is_flag(value: Any) -> bool:
    """Whether ``value`` is a yes/no flag: a bool, a NumPy bool, or the integer 0 or 1 (not the text ``"no"``, which
    Python would take for True)."""
    return isinstance(value, (bool, np.bool_)) or (is_integer(value) and value in (0, 1))


def plain(value: Any) -> Any:
    """``value`` with every NumPy scalar turned into the Python value it holds (``np.int64(3)`` -> ``3``,
    ``np.str_("a")`` -> ``"a"``, ``np.bool_(True)`` -> ``True``), in mappings, lists and tuples too (a mapping
    becomes a dict, a tuple stays a tuple). Anything else is returned as it is."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):  # a named tuple keeps its type
        return tuple(plain(v) for v in value)
    return value


def choice_text(value: Any, digits: int = 6) -> str:
    """A parameter's value as reports and the command line print it, telling apart choices that print alike: a
    float keeps a decimal point (``1.0``, not ``1``, which is an int choice), to ``digits`` significant digits; text
    that reads as a number, a bool or None is quoted (``'1'``, ``'True'``); anything else as ``str`` gives it."""
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        text = f"{float(value):.{digits}g}"
        return text if any(c in text for c in ".enia") else text + ".0"  # 1e-05, inf, nan keep theirs
    if isinstance(value, str):
        try:
            float(value)
            reads_as_other = True
        except ValueError:
            reads_as_other = value.strip() in ("True", "False", "None", "true", "false", "null")
        return repr(value) if reads_as_other or value != value.strip() or not value else value
    return str(value)

