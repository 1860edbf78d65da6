"""Each open study gets its own optimizer and pruner instance: they keep the state of the study they work for.

An optimizer proposing for two studies at once would mix their trials; a pruner judging for two would rank one
study's reports against the other's objectives. A study given an instance that another open study uses works on
a fresh copy of it.
"""

from __future__ import annotations

import copy
import logging
import weakref
from typing import Any

__all__ = ["claim_instance"]

logger = logging.getLogger("moo_hpo")

#: id(instance) -> (the instance, the study using it), both held weakly
_OWNERS: dict[int, tuple[Any, Any]] = {}


def claim_instance(instance: Any, owner: Any, kind: str = "optimizer") -> Any:
    """The user's instance for a study (``owner``): the instance itself, or a fresh copy of it when another
    open study already uses it.

    The copy is built from the instance's options (``get_params``), as a new instance would be, else copied whole.
    Which study uses an instance is kept here, weakly, not on the instance, so the instance pickles as before.

    Args:
        instance: the optimizer or pruner the user passed.
        owner: the study that will use it (anything with a ``_closed`` flag).
        kind: what the instance is, for the log line (``"optimizer"``, ``"pruner"``).

    Returns:
        The instance to use.
    """
    claimed = _OWNERS.get(id(instance))
    user = claimed[1]() if claimed is not None and claimed[0]() is instance else None
    if user is not None and user is not owner and not getattr(user, "_closed", False):
        try:
            instance = type(instance)(**instance.get_params())
        except Exception:  # noqa: BLE001 - options that do not rebuild it: a whole copy
            instance = copy.deepcopy(instance)
        logger.info("the %s instance given is used by another open study; this study works on a copy of it", kind)
    key = id(instance)
    try:
        _OWNERS[key] = (weakref.ref(instance, lambda _: _OWNERS.pop(key, None)), weakref.ref(owner))
    except TypeError:  # an instance that takes no weak reference (__slots__): not tracked
        pass
    return instance
