"""Validity rules of a search space: named predicates a configuration must pass to be evaluated
(``d_model % heads == 0``). A study stores a rule by its name; its code is passed again to propose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moo_hpo.exceptions import ConfigError

__all__ = ["Config", "Rule", "as_rule"]

Config = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    """A named validity rule: ``predicate(config)`` is True for configurations that may be evaluated.

    Plain callables are accepted wherever a rule is; their ``__name__`` names them. Name a lambda
    with ``Rule("d_model % heads == 0", lambda c: c["d_model"] % c["heads"] == 0)``.

    A rule sees only active parameters: use ``config.get(name)`` for conditional ones.
    """

    name: str
    predicate: Callable[[Config], bool] | None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            hint = " (the name comes first: Rule(name, predicate))" if callable(self.name) else ""
            raise ConfigError(f"a rule's name must be a non-empty string{hint}; received {self.name!r}")
        if self.predicate is not None and not callable(self.predicate):
            raise ConfigError(f"rule {self.name!r}: predicate must be callable (config -> bool); received {self.predicate!r}")

    def __call__(self, config: Config) -> bool:
        if self.predicate is None:
            raise ConfigError(
                f"the validity rule {self.name!r} was stored by name only; pass the study's space "
                "(with its rules) to Study.load to propose new trials"
            )
        return bool(self.predicate(config))


def as_rule(rule: Any) -> Rule:
    """``rule`` as a :class:`Rule`: a plain callable is named by its ``__name__``.

    Raises:
        ConfigError: for something that is not callable.
    """
    if isinstance(rule, Rule):
        return rule
    if callable(rule):
        return Rule(getattr(rule, "__name__", repr(rule)), rule)
    raise ConfigError(f"a validity rule must be callable (config -> bool); received {rule!r}")
