"""The one optimizer protocol: ``setup`` once, then ``ask`` / ``tell``.

An optimizer's constructor only stores its arguments (scikit-learn style), so
:meth:`Optimizer.get_params` can record them and a study can rebuild the optimizer after a crash.
State is built in :meth:`Optimizer.setup`, and everything an optimizer knows comes from the trials it
is told: a study resumed from its store tells the optimizer every finished trial again, so the
optimizer needs no saved state of its own.
"""

from __future__ import annotations

import inspect
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from moo_hpo.exceptions import ConfigError, UnsupportedError
from moo_hpo.problem import Problem
from moo_hpo.trial import Trial

__all__ = ["ENQUEUED", "Capabilities", "Optimizer", "Proposal", "config_key"]

#: the ``optimizer`` of a trial that runs a configuration the user queued (:meth:`~moo_hpo.Study.enqueue`)
ENQUEUED = "enqueued"


_PATTERNS: dict[tuple, int] = {}  # (names, value types) -> a small number, for compact keys
_PATTERNS_LOCK = threading.Lock()


def config_key(config: dict[str, Any]) -> tuple:
    """A hashable identity of a configuration (types kept apart: 1, 1.0 and True differ).

    The key is ``(pattern, values)``: ``pattern`` numbers the configuration's parameter names and
    value types (the same for every configuration of an unconditional space), so a key holds only
    numbers and plain values, which the garbage collector need not track. Keys are meaningful within
    one process only. Configurations from a space list their parameters in the space's order, so no
    sorting is needed.
    """
    values = tuple(config.values())
    shape = (tuple(config), tuple(map(type, values)))
    pattern = _PATTERNS.get(shape)
    if pattern is None:
        with _PATTERNS_LOCK:  # two threads must not number two shapes alike
            pattern = _PATTERNS.setdefault(shape, len(_PATTERNS))
    return pattern, values


@dataclass(frozen=True)
class Capabilities:
    """What an optimizer can handle; the study checks these when it is built.

    Attributes:
        min_objectives: smallest number of objectives.
        max_objectives: largest number of objectives, or None for any.
        constraints: handles hard constraints itself.
        categorical: handles categorical parameters.
        conditional: handles conditional parameters.
        batch: can propose several trials at once (``ask(n)`` with ``n > 1``); False: the study asks for one at a
            time (and again, with it pending, for the next free worker).
    """

    min_objectives: int = 1
    max_objectives: int | None = None
    constraints: bool = True
    categorical: bool = True
    conditional: bool = True
    batch: bool = True

    def check(self, optimizer_name: str, problem: Problem) -> None:
        """Raise :class:`UnsupportedError` naming everything the optimizer lacks for ``problem``."""
        lacks = []
        m = problem.n_objectives
        if m < self.min_objectives:
            lacks.append(f"needs at least {self.min_objectives} objectives, the study has {m}")
        if self.max_objectives is not None and m > self.max_objectives:
            lacks.append(f"handles at most {self.max_objectives} objective(s), the study has {m}")
        if problem.hard_constraints and not self.constraints:
            lacks.append("does not handle hard constraints")
        if problem.space.has_categorical and not self.categorical:
            lacks.append("does not handle categorical parameters")
        if problem.space.is_conditional and not self.conditional:
            lacks.append("does not handle conditional parameters")
        if lacks:
            raise UnsupportedError(f"optimizer {optimizer_name!r} " + "; ".join(lacks))


@dataclass
class Proposal:
    """A configuration proposed by an optimizer, with optional audit data for the trial's ``extra``.

    Attributes:
        config: the configuration.
        extra: audit data kept in the trial's ``extra``.
        checked: True only when the optimizer built ``config`` with the space's own decoding
            (:meth:`~moo_hpo.space.Space.from_unit`), which yields in-domain values, and checked the
            validity rules itself; the study then skips its own validation of the proposal. Left
            False, the study checks everything and records an invalid proposal as a failed trial.
    """

    config: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    checked: bool = False


class Optimizer(ABC):
    """Base class of every optimizer.

    Subclasses set :attr:`name` and :attr:`capabilities`, store constructor arguments unchanged as
    attributes of the same name, and implement :meth:`ask` (and usually :meth:`tell`).
    """

    name: str = "optimizer"
    capabilities: Capabilities = Capabilities()
    #: whether :meth:`ask` may run in a thread of its own while the study answers the running trials' reports (it
    #: touches only the optimizer's own state, nothing bound to the thread that made it); worth it for a slow ask
    #: (the Bayesian optimizers' model steps). False: asked in the study's thread, reports waiting meanwhile.
    ask_in_thread: bool = False
    problem: Problem

    @property
    def initial_trials(self) -> int:
        """How many trials it proposes before any result steers it (an initial design, a first generation), once set
        up; 0 for one that no result steers (random search, Sobol). Stopping rules wait beyond them."""
        return 0

    def setup(self, problem: Problem) -> None:
        """Bind the optimizer to a study's problem; called once, before any ask or tell.

        Raises:
            UnsupportedError: when the problem needs something the optimizer lacks.
            ConfigError: for an option of the wrong type or range (:meth:`check_options`).
        """
        self.capabilities.check(self.name, problem)
        self.check_options()
        self.problem = problem

    def check_options(self) -> None:
        """Check the constructor's options on their own (a study does when it is given the optimizer, before
        its first trial); options that depend on the problem are checked in :meth:`setup`.

        Raises:
            ConfigError: for an option of the wrong type or range.
        """

    @abstractmethod
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        """Propose up to ``n`` configurations (at least one).

        Args:
            n: how many the study can evaluate now.
            pending: trials proposed earlier and still running.

        Returns:
            Between 1 and ``n`` proposals.
        """

    def tell(self, trials: Sequence[Trial]) -> None:  # noqa: B027 - optional hook
        """Learn from finished trials (complete, failed or skipped). Called once per trial."""

    def budget_grew(self, budget: int) -> None:  # noqa: B027 - optional hook
        """The study expects more trials than when it was set up (a later ``optimize`` call): ``budget`` in all."""

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same name.

        Raises:
            ConfigError: when an argument was not kept as an attribute of its name (the convention that lets a
                study store, copy and rebuild an optimizer).
        """
        return constructor_options(self, "optimizer")

    def __repr__(self) -> str:
        try:
            params = self.get_params()
        except ConfigError:  # an optimizer of the user's that keeps no attributes of its arguments
            params = {}
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({args})"


def constructor_options(owner: object, kind: str) -> dict[str, Any]:
    """``owner``'s constructor arguments, read back from its attributes of the same names (an optimizer's or a
    pruner's ``get_params``).

    Raises:
        ConfigError: when an argument was not kept as an attribute of its name, naming ``kind`` and the class.
    """
    names = option_names(type(owner))
    missing = [p for p in names if not hasattr(owner, p)]
    if missing:
        raise ConfigError(
            f"{kind} {type(owner).__name__}: its constructor takes {missing} but keeps no attribute of that name; "
            f"store each argument as it is given (self.{missing[0]} = {missing[0]}), as moo_hpo's {kind}s do"
        )
    return {p: getattr(owner, p) for p in names}


def option_names(cls: type) -> list[str]:
    """The named options of ``cls``'s constructor (``*args`` and ``**kwargs`` left out). A constructor that names
    none and passes ``**kwargs`` on (a subclass's ``__init__(self, **kwargs)`` calling ``super().__init__(**kwargs)``)
    takes its base's: the nearest constructor up the class's bases that names its options."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        params = inspect.signature(init).parameters
        named = [p for p, v in params.items()
                 if p != "self" and v.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
        if named or not any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values()):
            return named
    return []


def reject_unknown_options(owner: object, unknown: dict[str, Any]) -> None:
    """Refuse constructor options ``owner``'s class does not take, naming the ones it does.

    Raises:
        ConfigError: when ``unknown`` is not empty (Python's own error named a private base class).
    """
    if unknown:
        raise ConfigError(unknown_options_message(type(owner).__name__, option_names(type(owner)), unknown))


def unknown_options_message(label: str, accepted: Sequence[str], unknown: Iterable[str]) -> str:
    """``<label> takes the options [...]; received unknown [...]``, with a hint for a misspelling or a seed."""
    from moo_hpo.naming import closest_name

    unknown = sorted(unknown)
    hints = [f"{close!r} for {name!r}?" for name in unknown if (close := closest_name(name, accepted, abbreviation=True))]
    if "seed" in unknown:
        hints.append("the study's seed drives its optimizer: mh.Study(..., seed=...), or seed in a TOML file's [study]")
    return f"{label} takes the options {list(accepted)}; received unknown {unknown}" + (f" ({', '.join(hints)})" if hints else "")
