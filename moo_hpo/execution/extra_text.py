"""Extra data JSON cannot hold (a datetime, a model, a tuple key, a cycle) is kept as its text, so that such a value
in ``mh.Result(metrics, extra={...})`` costs the trial neither its metrics nor the study its run."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from moo_hpo.trial import Result, Trial, TrialStatus, json_default, asked_extra_keys

if TYPE_CHECKING:
    from moo_hpo.study import Study

__all__ = ["as_text", "keep_own_extra_storable", "storable", "tell_keeping_metrics"]

logger = logging.getLogger("moo_hpo")

#: How deep :func:`as_text` follows nested data; deeper levels are kept as their text.
TEXT_DEPTH = 50
#: The longest text kept for one value.
TEXT_LENGTH = 1000


def storable(extra: Any) -> str | None:
    """None when the store can keep ``extra`` as it is (JSON, with NumPy values as numbers and lists), else why not."""
    try:
        json.dumps(extra, allow_nan=True, default=json_default)
    except Exception as exc:  # noqa: BLE001 - a key, a cycle, a value, or a value whose repr fails
        return f"{type(exc).__name__}: {exc}"
    return None


def as_text(value: Any, depth: int = 0, _path: frozenset[int] = frozenset()) -> Any:
    """``value`` with every key and value JSON cannot hold replaced by its text (a container met again on its own
    path by ``"<cycle>"``); NumPy values become numbers and lists, as the store keeps them."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if id(value) in _path:
        return "<cycle>"
    if depth >= TEXT_DEPTH:
        return _text(value)
    path = _path | {id(value)}
    if isinstance(value, Mapping):
        return {_key(k): as_text(v, depth + 1, path) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_text(v, depth + 1, path) for v in value]
    try:
        converted = json_default(value)  # a NumPy array or number
    except Exception:  # noqa: BLE001
        return _text(value)
    return as_text(converted, depth + 1, path)


def _key(key: Any) -> str:
    """A key as JSON writes it (``true``, ``null``, ``3``), or its text (a tuple key)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    return _text(key)


def _text(value: Any) -> str:
    try:
        return str(value)[:TEXT_LENGTH]
    except Exception:  # noqa: BLE001 - a __str__ that fails
        return f"<{type(value).__name__}>"


def tell_keeping_metrics(study: Study, trial: Trial, value: Any, extra: Any, status: TrialStatus | None = None) -> None:
    """Tell a trial; extra data the store cannot keep as it is (in ``extra`` or in a :class:`Result`'s) is kept as
    its text, logged once per study.

    Raises:
        ConfigError: what ``study.tell`` raises otherwise.
    """
    value, extra = _renamed_asked_keys(study, trial, value, extra)
    inner = value.extra if isinstance(value, Result) else None
    why = storable(extra) or storable(inner)
    if why is not None:
        _said_once(study, trial, why)
        if isinstance(value, Result):
            value = Result(value.metrics, as_text(value.extra))
        extra = as_text(extra)
    study.tell(trial, value, extra=extra, status=status)


def keep_own_extra_storable(study: Study, trial: Trial) -> None:
    """What an objective running in the study's process wrote into ``trial.extra`` itself (the study's record, not a
    worker's copy) is kept as its text where JSON cannot hold it, as a worker's is (it stopped the study: the store
    refused the record), logged once per study."""
    own = trial.extra if isinstance(trial.extra, dict) else None
    why = storable(own) if own else None
    if why is not None:
        _said_once(study, trial, why)
        texts = as_text(own)
        own.clear()
        own.update(texts)


def _said_once(study: Study, trial: Trial, why: str) -> None:
    """Log, once per study, that extra data JSON cannot hold is kept as its text."""
    if "extra as text" not in study._notes_logged:
        study._notes_logged.add("extra as text")
        logger.warning("trial %d: extra data JSON cannot hold (%s); its metrics are kept, and such values as their text "
                       "(logged once)", trial.number, why[:300])


def _renamed_asked_keys(study: Study, trial: Trial, value: Any, extra: Any) -> tuple[Any, Any]:
    """The objective's extra data with each key that moo_hpo recorded when the trial was asked (``optimizer``: the
    proposal's audit trail; ``repeat_of``, ``retry_of``) renamed ``user_<key>``, logged once per study: telling it as it
    is would overwrite that record (``study.tell`` refuses it)."""
    inner = value.extra if isinstance(value, Result) else {}
    clash = asked_extra_keys({**(extra if isinstance(extra, Mapping) else {}), **inner})
    if not clash:
        return value, extra
    chosen: dict[str, str] = {}

    def rename(data: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in data.items() if k not in clash}
        for k in clash:
            if k in data:
                name = "user_" + k
                while name in out:  # the objective's data has that name too: neither is dropped
                    name = "user_" + name
                out[name] = data[k]
                chosen[k] = name
        return out

    if isinstance(value, Result):
        value = Result(value.metrics, rename(value.extra))
    extra = rename(extra) if isinstance(extra, Mapping) else extra
    if "asked keys" not in study._notes_logged:
        study._notes_logged.add("asked keys")
        logger.warning("trial %d: the objective's extra data names %s, which moo_hpo records for a trial when it is "
                       "asked (the optimizer's audit trail, the trial it repeats or runs again); kept as %s (logged once)",
                       trial.number, clash, [chosen[k] for k in clash])
    return value, extra
