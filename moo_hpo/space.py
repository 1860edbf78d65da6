"""Search spaces: parameters, conditions, validity rules, sampling and the unit-cube encoding.

A :class:`Space` maps parameter names to :class:`Float`, :class:`Int` or :class:`Categorical`
domains. A parameter may be *conditional* (``active_if={"optimizer": "sgd"}``): it is active only
while its parents take one of the given values, and an inactive parameter is absent from the
configuration. *Validity rules* are predicates over a configuration (``d_model % heads == 0``); a
configuration that breaks one is never evaluated.

Two numeric views of a configuration are shared by every optimizer:

* the **compact unit cube** (one coordinate in ``[0, 1]`` per parameter), used for uniform and Sobol
  sampling: a categorical coordinate picks ``choices[floor(u * k)]``;
* the **encoded unit cube** (:meth:`Space.encode` / :meth:`Space.decode`), used by models: floats and
  integers take one column each (log-scaled where ``log=True``; an integer owns the interval of width
  ``step`` around it, so each value gets the same share of the cube), a categorical with ``k > 1``
  choices takes ``k`` one-hot columns. Inactive parameters are imputed consistently: ``0.5`` in a
  numeric column and all zeros in a one-hot block.

``space.decode(space.encode(configs)) == configs`` holds exactly for every configuration the space
produces (samples and decoded points) and for any value on a linear scale: decoding snaps a float
whose encoding reaches the point, so no last-bit drift from ``exp``/``log`` creeps
in. (Neighbouring floats can share one encoding; a value typed in by hand then comes back within a
few floats.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.params import Categorical, Float, Int, Param, same_value, param_from_dict
from moo_hpo.rules import Config, Rule, as_rule
from moo_hpo.values import is_integer, plain
from moo_hpo.user_warnings import warn

__all__ = ["Categorical", "Float", "Int", "Param", "Rule", "Space", "param_from_dict"]

_RULE_CHECK_SAMPLES = 4096


class _LinearFloats:
    """Decodes every linear (not log) :class:`Float` of a space in one vectorized pass.

    Gives exactly what :meth:`Float.decode_block` gives column by column: linear maps use only
    correctly rounded arithmetic, so the result does not depend on how numpy loops over the array.
    Log-scaled floats keep the per-parameter path (``exp``/``log`` may round differently there).
    """

    def __init__(self, space: Space) -> None:
        self.names: list[str] = []
        self.columns: list[int] = []
        self.params: list[Float] = []
        for j, (name, p) in enumerate(space.params.items()):
            if type(p) is Float and not p.log:
                self.names.append(name)
                self.columns.append(j)
                self.params.append(p)
        self.low = np.array([p.low for p in self.params], dtype=float)
        self.high = np.array([p.high for p in self.params], dtype=float)
        self.width = self.high - self.low

    def decode(self, U: np.ndarray) -> dict[str, list[float]]:
        """Column name -> decoded values for the linear floats among ``U``'s columns."""
        if not self.params:
            return {}
        u = np.clip(U[:, self.columns], 0.0, 1.0)
        x = np.clip(self.low + u * self.width, self.low, self.high)
        x = np.where(u <= 0.0, self.low, np.where(u >= 1.0, self.high, x))
        below = np.maximum(np.nextafter(x, -np.inf), self.low)
        canonical = ((x - self.low) / self.width >= u) & ((x == self.low) | ((below - self.low) / self.width < u))
        rows, cols = np.nonzero(~canonical)
        for j in np.unique(cols):
            sel = rows[cols == j]
            x[sel, j] = self.params[j]._bisect(u[sel, j])
        enc = (x - self.low) / self.width  # a float that encodes to an end of the cube is that bound itself
        x = np.where((u >= 1.0) | (enc >= 1.0), self.high, np.where((u <= 0.0) | (enc <= 0.0), self.low, x))
        return dict(zip(self.names, x.T.tolist(), strict=True))


def _refuse_nan(U: np.ndarray) -> None:
    """Refuse a point of a unit cube with a NaN coordinate (it decodes to no value: clipping keeps NaN).

    Raises:
        ConfigError: naming the first such row.
    """
    bad = np.isnan(U).any(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ConfigError(f"expected coordinates in [0, 1]; received NaN in row {row} ({U[row].tolist()})")


class Space:
    """A search space: named parameters, their conditions and validity rules.

    Args:
        params: mapping of name -> :class:`Param`, or a sequence of ``(name, param)`` pairs.
        rules: validity rules, each a callable ``config -> bool`` or a :class:`Rule`.

    Raises:
        ConfigError: for a duplicate or empty name, a condition on an unknown parameter or value,
            a cycle of conditions, or a rule that no sampled configuration satisfies.
    """

    def __init__(self, params: Mapping[str, Param] | Sequence[tuple[str, Param]], rules: Iterable[Any] = ()):
        if not isinstance(params, (Mapping, Iterable)) or isinstance(params, (str, bytes)):
            raise ConfigError(f"a Space expects a mapping of parameter name to Float, Int or Categorical (or (name, param) "
                              f"pairs); received {params!r:.200}")
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        if not pairs:
            raise ConfigError("a Space expects at least one parameter; received none")
        self.params: dict[str, Param] = {}
        for item in pairs:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ConfigError(f"Space expects (name, param) pairs; received {item!r}")
            name, param = item
            if not isinstance(name, str) or not name:
                raise ConfigError(f"parameter names must be non-empty strings; received {name!r}")
            if name in self.params:
                raise ConfigError(f"parameter names must be unique; received {name!r} twice")
            if not isinstance(param, Param):
                raise ConfigError(
                    f"parameter {name!r} must be Float, Int or Categorical; received {param!r} ({type(param).__name__})"
                )
            self.params[name] = param
        if callable(rules) or isinstance(rules, (str, bytes)) or not isinstance(rules, Iterable):
            rules = [rules]  # one rule alone: a list of one (a str is refused as a rule below)
        self.rules: tuple[Rule, ...] = tuple(as_rule(r) for r in rules)
        self._rules_available = all(r.predicate is not None for r in self.rules)
        self._check_conditions()
        self._conditional = any(p.active_if for p in self.params.values())
        self.order = self._topological_order()
        if self._conditional:
            self._warn_never_active()
        self._slices: dict[str, slice] = {}
        col = 0
        for name, p in self.params.items():
            self._slices[name] = slice(col, col + p.n_columns)
            col += p.n_columns
        self.n_encoded = col
        self._linear_floats = _LinearFloats(self)
        self._domain_checks = tuple((name, p.contains) for name, p in self.params.items())
        if self.rules and all(r.predicate is not None for r in self.rules):
            self._check_rules_satisfiable()

    # ------------------------------------------------------------------ structure
    @property
    def names(self) -> list[str]:
        """Parameter names in definition order."""
        return list(self.params)

    @property
    def dim(self) -> int:
        """Number of parameters (the compact cube's dimension)."""
        return len(self.params)

    @property
    def is_conditional(self) -> bool:
        """True when some parameter has a condition."""
        return self._conditional

    @property
    def has_categorical(self) -> bool:
        """True when some parameter is categorical."""
        return any(isinstance(p, Categorical) for p in self.params.values())

    def columns(self, name: str) -> slice:
        """The encoded columns of parameter ``name``."""
        return self._slices[name]

    def _check_conditions(self) -> None:
        for name, p in self.params.items():
            for parent, values in p.active_if.items():
                if parent == name:
                    raise ConfigError(f"parameter {name!r} cannot be conditioned on itself")
                if parent not in self.params:
                    raise ConfigError(
                        f"parameter {name!r} has a condition on {parent!r}, which is not a parameter of "
                        f"this space; expected one of {self.names}"
                    )
                if isinstance(self.params[parent], Float):
                    warn(f"parameter {name!r} has a condition on {parent!r}, a Float: a continuous value almost "
                         f"never equals {values[0]!r}, so {name!r} will almost never be active; condition on a "
                         "Categorical or an Int")
                for v in values:
                    if not self.params[parent].contains(v):
                        raise ConfigError(
                            f"parameter {name!r} is active when {parent!r} is {v!r}, which {parent!r} "
                            f"can never take ({self.params[parent]!r})"
                        )

    def _topological_order(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise ConfigError(f"conditions form a cycle: {' -> '.join(path + [name])}")
            state[name] = 1
            for parent in self.params[name].active_if:
                visit(parent, path + [name])
            state[name] = 2
            order.append(name)

        for name in self.params:
            visit(name, [])
        return order

    def _warn_never_active(self) -> None:
        """Warn about conditional parameters whose conditions contradict: every condition of a parameter
        and of its parents, grandparents ... must hold at once, so two that ask one ancestor for
        disjoint values can never both hold."""
        needs: dict[str, dict[str, set[Any]] | None] = {}
        for name in self.order:  # parents first
            need: dict[str, set[Any]] | None = {}
            for parent, values in self.params[name].active_if.items():
                for ancestor, allowed in [*(needs[parent] or {}).items(), (parent, set(values))]:
                    if need is None or needs[parent] is None:
                        need = None
                        break
                    need[ancestor] = need.get(ancestor, allowed) & allowed
                    if not need[ancestor]:
                        need = None
                        break
            needs[name] = need
        never = [name for name, need in needs.items() if need is None]
        if never:
            warn(
                f"conditional parameter(s) {never} can never be active: their conditions (with their parents') "
                "ask one parameter for values that exclude each other; they will never be tuned"
            )

    def _check_rules_satisfiable(self) -> None:
        rng = np.random.default_rng(0)
        configs = self.from_unit(rng.random((_RULE_CHECK_SAMPLES, self.dim)))
        for rule in self.rules:
            try:
                if any(rule(c) for c in configs):
                    continue
            except Exception as exc:  # a rule that crashes on valid configs is a definition error
                raise ConfigError(f"validity rule {rule.name!r} raised {type(exc).__name__}: {exc}") from exc
            raise ConfigError(
                f"validity rule {rule.name!r} rejected all {_RULE_CHECK_SAMPLES} sampled configurations; "
                "expected a rule that some configuration of the space satisfies"
            )
        if not any(self.passes_rules(c) for c in configs):
            raise ConfigError(
                f"the validity rules {[r.name for r in self.rules]} together rejected all "
                f"{_RULE_CHECK_SAMPLES} sampled configurations; expected rules that some configuration satisfies"
            )

    # ------------------------------------------------------------------ validity
    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the (parent) values in ``config``."""
        for parent, values in self.params[name].active_if.items():
            if parent not in config or not any(same_value(config[parent], v) for v in values):
                return False
        return True

    def problems(self, config: Mapping[str, Any]) -> list[str]:
        """Everything wrong with ``config`` (empty when it may be evaluated).

        Args:
            config: a configuration.

        Returns:
            One message per problem: a missing, extra or out-of-domain value, or a broken rule.
        """
        if not isinstance(config, Mapping):
            return [f"expected a mapping of parameter name to value; received {type(config).__name__}"]
        config = plain(config)  # np.float32(0.5) is the value 0.5
        if not self.is_conditional and len(config) == len(self.params):  # fast path: all active
            bad = [n for n, contains in self._domain_checks if n not in config or not contains(config[n])]
            if not bad:
                return [f"breaks validity rule {r.name!r}" for r in self.rules if not r(dict(config))]
        out = []
        for name in self.order:
            p = self.params[name]
            active = not p.active_if or self.is_active(name, config)
            if active and name not in config:
                out.append(f"missing value for active parameter {name!r}")
            elif not active and name in config:
                out.append(f"parameter {name!r} is inactive here but has a value ({config[name]!r})")
            elif active and not p.contains(config[name]):
                hint = (" (an integer parameter: expected an int)" if isinstance(p, Int) and isinstance(config[name], (float, str))
                        else " (a number parameter: expected a number, received text)" if isinstance(p, Float) and isinstance(config[name], str)
                        else "")
                out.append(f"{name}={config[name]!r} is outside its domain {p!r}{hint}")
        extra = [k for k in config if k not in self.params]
        if extra:
            out.append(f"unknown parameter(s) {extra}; expected only {self.names}")
        if not out:
            out += [f"breaks validity rule {r.name!r}" for r in self.rules if not r(dict(config))]
        return out

    def is_valid(self, config: Mapping[str, Any]) -> bool:
        """True when ``config`` lies in the space and satisfies every validity rule."""
        return not self.problems(config)

    def validate(self, config: Mapping[str, Any]) -> Config:
        """Return ``config`` as a dict in parameter order, NumPy scalars as the Python values they hold.

        Raises:
            ConfigError: naming every problem found.
        """
        problems = self.problems(config)
        if problems:
            raise ConfigError(f"invalid configuration {dict(config)!r}: " + "; ".join(problems))
        config = plain(config)
        return {n: config[n] for n in self.params if n in config}

    def passes_rules(self, config: Config) -> bool:
        """True when ``config`` satisfies every validity rule (domains not checked)."""
        if not self.rules:
            return True
        config = dict(config)  # a rule that changes its argument must not change the configuration
        return all(r(config) for r in self.rules)

    # ------------------------------------------------------------------ compact cube and sampling
    def from_unit(self, U: np.ndarray) -> list[Config]:
        """Map points of the compact unit cube (one column per parameter) to configurations.

        Inactive parameters ignore their coordinate. Validity rules are not applied here.
        """
        U = np.atleast_2d(np.asarray(U, dtype=float))
        if U.shape[1] != self.dim:
            raise ConfigError(f"expected points with {self.dim} columns (one per parameter); received {U.shape}")
        _refuse_nan(U)
        cols = self._linear_floats.decode(U)
        for j, name in enumerate(self.params):
            if name not in cols:
                cols[name] = self.params[name].from_unit(U[:, j])
        return self._assemble_all({name: cols[name] for name in self.params}, len(U))

    def to_unit(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Map configurations to the compact unit cube (inverse of :meth:`from_unit`).

        A categorical value goes to the middle of its share of the coordinate; an inactive
        parameter to 0.5. One configuration alone is taken as a list of one.
        """
        if isinstance(configs, Mapping):
            configs = [configs]
        configs = [plain(c) for c in configs]  # np.float32(0.5) is the value 0.5
        U = np.full((len(configs), self.dim), 0.5)
        for j, (name, p) in enumerate(self.params.items()):
            rows = [i for i, c in enumerate(configs) if name in c]
            if not rows:
                continue
            values = [configs[i][name] for i in rows]
            if isinstance(p, Categorical):
                U[rows, j] = (np.array([p.index(v) for v in values]) + 0.5) / len(p.choices)
            else:
                U[rows, j] = p.encode_values(values)[:, 0]
        return U

    def _assemble_all(self, cols: dict[str, list[Any]], n: int) -> list[Config]:
        if not self.is_conditional:  # every parameter active: plain rows
            names = list(cols)
            return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]
        return [self._assemble(lambda name, i=i: cols[name][i]) for i in range(n)]

    def _assemble(self, value_of: Callable[[str], Any]) -> Config:
        values: Config = {}
        for name in self.order:
            if self.is_active(name, values):
                values[name] = value_of(name)
        return {n: values[n] for n in self.params if n in values}

    def sample(self, n: int, seed: int | np.random.Generator | None = None, max_tries: int = 100,
               at_least: int | None = None) -> list[Config]:
        """Draw ``n`` valid configurations uniformly (per parameter, on its own scale).

        Args:
            n: number of configurations.
            seed: an int seed or a numpy Generator.
            max_tries: give up after drawing ``max_tries * n`` candidates.
            at_least: when giving up, return the valid ones found if there are this many (None: all ``n`` needed).

        Returns:
            A list of ``n`` valid configurations (or fewer, at least ``at_least``).

        Raises:
            ConfigError: when the validity rules reject too many candidates.
        """
        if not is_integer(n) or n < 0:
            raise ConfigError(f"sample expects n, a number of configurations >= 0; received {n!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return self.fill_valid(int(n), lambda k: rng.random((k, self.dim)), max_tries, at_least)

    def fill_valid(self, n: int, draw: Callable[[int], np.ndarray], max_tries: int = 100,
                   at_least: int | None = None) -> list[Config]:
        """Collect ``n`` valid configurations from a stream of compact-cube points.

        Args:
            n: number wanted.
            draw: ``draw(k)`` returns ``k`` new points of the compact cube.
            max_tries: give up after ``max_tries * n`` candidates.
            at_least: when giving up, return the valid ones found if there are this many (a search that can
                choose among fewer candidates); None: all ``n`` are needed.

        Raises:
            ConfigError: when the validity rules let too few of the candidates drawn pass.
        """
        if at_least is not None and not (is_integer(at_least) and 1 <= at_least <= max(n, 1)):
            raise ConfigError(f"at_least must be an integer from 1 to {max(n, 1)} (n={n}), or None; received {at_least!r}")
        out: list[Config] = []
        drawn = 0
        while len(out) < n:
            if drawn >= max_tries * max(n, 1):
                if at_least is not None and len(out) >= at_least:
                    return out
                raise ConfigError(
                    f"validity rules {[r.name for r in self.rules]} let {len(out)} of the {drawn} candidates drawn pass; "
                    f"expected {n} (rules that a sizeable share of the space satisfies)"
                )
            k = n - len(out) if not self.rules else max(2 * (n - len(out)), 8)
            for c in self.from_unit(draw(k)):
                drawn += 1
                if self.passes_rules(c):
                    out.append(c)
                    if len(out) == n:
                        break
        return out

    # ------------------------------------------------------------------ encoded cube
    def encode(self, configs: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> np.ndarray:
        """Encode configurations to the encoded unit cube.

        Args:
            configs: one configuration or a sequence of them.

        Returns:
            Array of shape ``(n, n_encoded)``.

        Raises:
            ConfigError: when a value lies outside its parameter's domain.
        """
        if isinstance(configs, Mapping):
            configs = [configs]
        configs = [plain(c) for c in configs]  # np.float32(0.5) is the value 0.5
        X = np.empty((len(configs), self.n_encoded))
        for name, p in self.params.items():
            sl = self._slices[name]
            present = [i for i, c in enumerate(configs) if name in c]
            X[:, sl] = 0.0 if isinstance(p, Categorical) and p.n_columns > 1 else 0.5
            if present:
                values = [configs[i][name] for i in present]
                bad = [v for v in values if not p.contains(v)]
                if bad:
                    raise ConfigError(f"cannot encode {name}={bad[0]!r}: outside its domain {p!r}")
                X[present, sl] = p.encode_values(values)
        return X

    def decode(self, X: np.ndarray) -> list[Config]:
        """Decode points of the encoded unit cube to configurations (inactive parameters dropped).

        Args:
            X: array of shape ``(n, n_encoded)``; values are clipped to ``[0, 1]``.

        Returns:
            One configuration per row. Validity rules are not applied here.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.n_encoded:
            raise ConfigError(f"expected {self.n_encoded} encoded columns; received an array of shape {X.shape}")
        _refuse_nan(X)
        cols = {name: p.decode_block(X[:, self._slices[name]]) for name, p in self.params.items()}
        return self._assemble_all(cols, len(X))

    # ------------------------------------------------------------------ (de)serialization
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (rules by name only)."""
        return {
            "params": {name: p.to_dict() for name, p in self.params.items()},
            "rules": [r.name for r in self.rules],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """Rebuild a space from :meth:`to_dict`. Rules come back by name only and cannot be checked."""
        params = [(name, param_from_dict(name, d)) for name, d in data["params"].items()]
        return cls(params, rules=[Rule(name, None) for name in data.get("rules", [])])

    @property
    def rules_available(self) -> bool:
        """False when some rule was restored by name only (see :meth:`from_dict`)."""
        return self._rules_available

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {p!r}" for n, p in self.params.items())
        rules = f", rules={[r.name for r in self.rules]}" if self.rules else ""
        return f"Space({{{inner}}}{rules})"
