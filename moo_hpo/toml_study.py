"""The TOML study format of ``moo-hpo run``: a study description read into a study, its objective and run options.

A study description is code, like a Python script: its ``entry`` names a Python file beside it, which runs.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shlex
import sys
import tomllib
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import moo_hpo as mh
from moo_hpo.naming import closest_name
from moo_hpo.storage import storage_path

__all__ = ["STUDY_KEYS", "TOML_TABLES", "CliError", "beside_hint", "is_study_file", "one_line", "study_from_toml"]


class CliError(Exception):
    """A user mistake on the command line (missing file, malformed TOML ...)."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip().splitlines()
    return f"{text[0] if text else type(exc).__name__}"


def is_study_file(path: Path) -> bool:
    """Whether ``path`` is an SQLite file (a study's store), by its first bytes."""
    with contextlib.suppress(OSError), path.open("rb") as fh:
        return fh.read(15) == b"SQLite format 3"
    return False


def _space_from_toml(table: dict[str, Any]) -> mh.Space:
    from moo_hpo.space import param_from_dict

    try:
        return mh.Space({name: param_from_dict(f"space.{name}", spec) for name, spec in table.items()})
    except mh.ConfigError as exc:
        raise CliError(str(exc)) from None


def _optimizer_from_toml(table: Any) -> str | Any:
    """The ``[optimizer]`` table: ``name`` plus the optimizer's options (``pop_size = 24``)."""
    if table is None:
        return "auto"
    if isinstance(table, str):
        return table
    if not isinstance(table, dict) or "name" not in table:
        raise CliError(f"[optimizer] needs name = 'auto', 'nsga2', 'ehvi', ...; received {table!r}")
    options = {k: v for k, v in table.items() if k != "name"}
    if table["name"] == "auto":
        if options:
            raise CliError(f"[optimizer] name = 'auto' takes no options; received {sorted(options)}")
        return "auto"
    from moo_hpo.optimizers import make_optimizer

    try:
        return make_optimizer(table["name"], options)
    except TypeError as exc:
        raise CliError(f"[optimizer] {table['name']!r}: {exc}") from None


def _pruner_from_toml(table: Any) -> Any:
    """The ``[pruner]`` table: ``name = "moasha"`` (or ``"hyperband"``, ``"dominated"``) plus its options."""
    if table is None:
        return None
    if not isinstance(table, dict) or "name" not in table:
        raise CliError(f"[pruner] needs name = 'moasha', 'hyperband' or 'dominated'; received {table!r}")
    from moo_hpo.pruners import make_pruner

    return make_pruner(table["name"], {k: v for k, v in table.items() if k != "name"})


_ENTRY_MODULES: set[str] = set()  # modules this process imported as a study file's entry


@contextlib.contextmanager
def entry_modules_by_value() -> Iterator[None]:
    """While the objective is pickled for Dask workers, which cannot import them: cloudpickle sends the code of the
    study files' entry modules (files beside a study file) by value. Only then: local worker processes import them,
    so that a trial's traceback names the file and shows its lines (code sent by value is ``<dynamic-code>``)."""
    import cloudpickle

    registered = []
    for name in sorted(_ENTRY_MODULES):
        module = sys.modules.get(name)
        if module is not None and name not in cloudpickle.list_registry_pickle_by_value():
            cloudpickle.register_pickle_by_value(module)
            registered.append(module)
    try:
        yield
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


def _check_not_shadowing(spec: str, module_name: str, local: Path, base: Path) -> None:
    """Refuse an entry file named as a module of Python's or an installed package (``json.py``): once its folder
    leads ``sys.path``, it would stand in for that module everywhere in the run, moo_hpo's own imports too.

    Raises:
        CliError: naming the module and where the other one is.
    """
    import importlib.machinery
    import site
    import sysconfig

    top = module_name.split(".")[0]
    mine = f"{top}/" if (base / top).is_dir() else f"{top}.py"  # the file or folder to rename
    if top in sys.stdlib_module_names:
        raise CliError(f"entry {spec!r}: {mine} has the name of Python's standard module {top!r}, which it would stand in "
                       "for everywhere in this run; rename it")
    loaded = sys.modules.get(top)
    if loaded is not None:  # imported already (plotly by a report): where from
        origin = Path(loaded.__file__).resolve() if getattr(loaded, "__file__", None) else None
    else:  # where it is, the study file's folder left out (it may be the current folder, first on sys.path)
        elsewhere = [p for p in sys.path if Path(p or ".").resolve() != base.resolve()]
        try:
            found = importlib.machinery.PathFinder.find_spec(top, elsewhere)
        except (ImportError, ValueError):
            return
        origin = Path(found.origin).resolve() if found is not None and found.origin else None
    folders = [*site.getsitepackages(), site.getusersitepackages(), *(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))]
    installed = {Path(f).resolve() for f in folders}
    if origin is not None and base.resolve() not in origin.parents and any(folder in origin.parents for folder in installed):
        raise CliError(f"entry {spec!r}: {mine} has the name of an installed module {top!r} ({origin}), which it would "
                       "stand in for everywhere in this run; rename it")


def _module_beside(spec: str, name: str, base: Path) -> str:
    """The module name of an entry's file beside the study file, however the file is written: ``train``,
    ``train.py``, ``./train.py``, ``sub/train`` or ``sub.train``, or its absolute path inside the study's folder.

    Raises:
        CliError: for an absolute path outside the study file's folder.
    """
    path = name.replace("\\", "/")
    if Path(path).is_absolute():
        try:
            path = Path(path).resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            raise CliError(f"entry {spec!r} must name a Python file next to the study file (in {str(base)!r}), "
                           "written as 'train:evaluate' or 'train.py:evaluate'") from None
    while path.startswith("./"):
        path = path[2:]
    if path.endswith(".py") and (base / path).is_file():
        path = path[: -len(".py")]  # a file's name ('train.py:fit'): its module
    return path.strip("/").replace("/", ".")


def _line_in(exc: BaseException) -> str:
    """`` (train.py, line 3)``: the line of the entry's own code at which its import failed: the first frame past the
    import machinery (the module being imported, or the package it lies in); empty when there is none."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # the first is the caller's import_module
    own = next((f for f in frames if not f.filename.startswith("<frozen ") and "importlib" not in Path(f.filename).parts), None)
    return f" ({Path(own.filename).name}, line {own.lineno})" if own is not None else ""


def _not_installed(name: str) -> bool:
    """Whether the top-level package of module ``name`` cannot be found in this Python (rather than a module
    of an installed package, or a file of the user's, that does not exist)."""
    try:
        return importlib.util.find_spec(name.split(".")[0]) is None
    except (ImportError, ValueError):
        return False


def _entry_point(spec: str, base: Path, anywhere: bool = False) -> Callable[..., Any]:
    """The objective named ``module:function``.

    From a study file (``anywhere=False``) the module must be a Python file or package next to it, named as a
    module (``train:fit``) or as the file (``train.py:fit``): a study file is code, like a script, and may only run
    code that lies beside it. A module named
    on the command line (``--entry``) may be any importable one.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CliError(f"entry must be 'module:function'; received {spec!r}")
    if not anywhere:
        module_name = _module_beside(spec, module_name, base)
        rel = Path(*module_name.split("."))
        candidates = [base / rel.with_suffix(".py"), base / rel / "__init__.py"]
        local = next((c.resolve() for c in candidates if c.is_file()), None)
        if local is None:
            raise CliError(
                f"entry {spec!r} must name a Python file next to the study file ({rel}.py or {rel}/ in {str(base)!r}); "
                "to run a function of an installed module, name it on the command line: --entry MODULE:FUNCTION"
            )
        _check_not_shadowing(spec, module_name, local, base)
        loaded = sys.modules.get(module_name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != local:
            if module_name not in _ENTRY_MODULES:
                raise CliError(f"entry {spec!r}: a module {module_name!r} from elsewhere is already imported; rename {local.name}")
            del sys.modules[module_name]  # the entry of an earlier study file of this process
        _ENTRY_MODULES.add(module_name)
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))  # kept: worker processes import the entry the same way
    if anywhere and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # --entry: a module in the current folder (last: it shadows nothing installed)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or module_name == exc.name or module_name.startswith(exc.name + "."):
            raise  # the entry's own module: the caller says where it looked
        where = _line_in(exc)
        if _not_installed(exc.name):
            raise CliError(f"entry {spec!r}: importing {module_name} failed{where}: it imports {exc.name!r}, which is "
                           f"not installed in this Python ({sys.executable}): install it there (pip install ...)") from exc
        raise CliError(f"entry {spec!r}: importing {module_name} failed{where}: {type(exc).__name__}: {one_line(exc)}") from exc
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - the module's own code failed (a SyntaxError, an error at import)
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise CliError(f"entry {spec!r}: importing {module_name} failed{where}: {type(exc).__name__}: {one_line(exc)}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n, None))]
        near = closest_name(attr, names)
        raise CliError(f"{spec!r}: {module_name} has no callable {attr!r}" + (f"; did you mean {near!r}?" if near else ""))
    return fn


#: what a study description may hold: its tables, and the keys of [study]
TOML_TABLES = ("study", "space", "objectives", "constraints", "optimizer", "pruner", "enqueue")
STUDY_KEYS = ("entry", "name", "seed", "storage", "optimizer", "n_trials", "timeout", "n_workers", "trial_timeout", "dask",
              "resources", "retries", "max_trials_per_worker")


def _check_keys(where: str, table: dict[str, Any], known: Sequence[str]) -> None:
    """Refuse names a study description does not know (a misspelled table would otherwise be ignored)."""
    unknown = [k for k in table if k not in known]
    if unknown:
        hints = [f"{close!r} for {k!r}?" for k in unknown if (close := closest_name(k, known, abbreviation=True))]
        raise CliError(f"{where}: unknown {unknown}; expected some of {list(known)}{' (' + ' '.join(hints) + ')' if hints else ''}")


def _check_shape(doc: dict[str, Any]) -> None:
    """Refuse a TOML whose tables have the wrong shape ([objectives] written for [[objectives]] ...)."""
    for key in ("objectives", "constraints", "enqueue"):
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise CliError(f"{key} must be a list of tables, each written as [[{key}]] (double brackets); "
                           f"received {value!r}"[:300])
    for key in ("study", "space", "optimizer", "pruner"):
        if key in doc and not isinstance(doc[key], (dict, str) if key == "optimizer" else dict):
            raise CliError(f"[{key}] must be a table; received {type(doc[key]).__name__} {doc[key]!r}"[:300])
    space = doc.get("space", {})
    for name, spec in space.items():
        if not isinstance(spec, dict):
            raise CliError(f"[space.{name}] must be a table (type = ..., low = ..., high = ...); received {spec!r}"[:300])
    study_t = doc.get("study", {})
    for key, kind, what in (("entry", str, "'module:function'"), ("name", str, "a string"), ("storage", str, "a file path"),
                            ("dask", str, "a scheduler address")):
        if key in study_t and not isinstance(study_t[key], kind):
            raise CliError(f"[study] {key} must be {what}; received {study_t[key]!r}")
    if "retries" in study_t and (isinstance(study_t["retries"], bool) or not isinstance(study_t["retries"], int) or study_t["retries"] < 0):
        raise CliError(f"[study] retries must be an integer >= 0; received {study_t['retries']!r}")


def study_from_toml(path: Path, entry: str | None = None) -> tuple[mh.Study, Callable[..., Any], dict[str, Any]]:
    """Build a study from a TOML description; returns the study, the objective function and the run options.

    A study file is code, like a Python script: its ``entry`` runs. It may name a Python file next to
    it only; ``entry`` given here (the command line's ``--entry``) replaces it and may name any module.
    """
    if not path.exists():
        raise CliError(f"no study description at {str(path)!r}")
    raw = path.read_bytes()
    if is_study_file(path):
        raise CliError(f"{str(path)!r} is a study file (SQLite), not a TOML study description; run a .toml, or read this "
                       "one with moo-hpo report / front / serve")
    try:
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CliError(f"{str(path)!r} is not a TOML study description (not UTF-8 text: {exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:  # named with its file, as every other error of the command line is
        raise CliError(f"{str(path)!r} is not valid TOML: {exc}") from None
    _check_keys("the TOML", doc, TOML_TABLES)
    _check_shape(doc)
    study_t = doc.get("study")
    if not isinstance(study_t, dict) or ("entry" not in study_t and entry is None):
        raise CliError("the TOML needs a [study] table with entry = 'module:function' (a file next to it)")
    _check_keys("[study]", study_t, STUDY_KEYS)
    for key in ("n_trials", "n_workers"):
        if key in study_t and (isinstance(study_t[key], bool) or not isinstance(study_t[key], int) or study_t[key] < 1):
            raise CliError(f"[study] {key} must be an integer >= 1; received {study_t[key]!r}")
    objectives = []
    for o in doc.get("objectives", []):
        _check_keys(f"objective {o.get('name')!r}", o, ("name", "direction", "ref"))
        try:  # "min" and "max" too, as Objective reads them
            objectives.append(mh.Objective(o.get("name"), o.get("direction", "minimize"), ref=o.get("ref")))
        except mh.ConfigError as exc:
            raise CliError(f"objective {o.get('name')!r}: {exc}") from None
    constraints = []
    for c in doc.get("constraints", []):
        _check_keys(f"constraint {c.get('name')!r}", c, ("name", "at_most", "at_least", "soft", "penalty"))
        if ("at_most" in c) == ("at_least" in c):
            raise CliError(f"constraint {c.get('name')!r} needs exactly one of at_most / at_least")
        kind = mh.AtMost if "at_most" in c else mh.AtLeast
        constraints.append(kind(c.get("name"), c.get("at_most", c.get("at_least")), soft=c.get("soft", False), penalty=c.get("penalty", 1.0)))
    base = path.parent.resolve()
    fn = _entry_point(entry, base, anywhere=True) if entry else _entry_point(study_t["entry"], base)
    storage = study_t.get("storage")
    if storage is not None:
        if storage.endswith(("/", "\\")):
            raise CliError(f"[study] storage must name a file (such as 'study.db'); received the folder {storage!r}")
        storage = str(Path(storage_path(storage, base=path.parent)).resolve())  # beside the TOML; sqlite:///s.db: s.db
    if "optimizer" in doc and "optimizer" in study_t:
        raise CliError("name the optimizer once: in [optimizer] or as optimizer = ... in [study], not both")
    optimizer = _optimizer_from_toml(doc.get("optimizer", study_t.get("optimizer")))
    pruner = _pruner_from_toml(doc.get("pruner"))
    new_file = storage is not None and not Path(storage).exists()
    try:
        study = mh.Study(_space_from_toml(doc.get("space", {})), objectives, constraints, optimizer=optimizer,
                         storage=storage, seed=study_t.get("seed"), name=study_t.get("name"), pruner=pruner)
    except BaseException:
        if new_file:  # a description refused as its study was created: no empty study file left behind
            for leftover in (storage, f"{storage}-wal", f"{storage}-shm", f"{storage}-journal"):
                Path(leftover).unlink(missing_ok=True)
        raise
    try:
        _enqueue_from_toml(study, doc.get("enqueue", []))
    except BaseException:
        study.close()  # refused: the study file is free again, for the corrected description
        raise
    options = {k: study_t[k] for k in ("n_trials", "timeout", "n_workers", "trial_timeout", "resources", "retries",
                                       "max_trials_per_worker") if k in study_t}
    if "dask" in study_t:
        options["executor"] = study_t["dask"]
    return study, fn, options


def _enqueue_from_toml(study: mh.Study, tables: list[dict[str, Any]]) -> None:
    """Queue each ``[[enqueue]]`` table's configuration, unless the study already ran or queued it: a resumed study
    runs a TOML's baseline once, not once per run (a configuration listed twice runs twice).

    Raises:
        CliError: naming the table (1-based) and what does not fit the space.
    """
    from moo_hpo.completion import holds, is_partial
    from moo_hpo.exceptions import ConfigError
    from moo_hpo.optimizers.base import ENQUEUED
    from moo_hpo.retries import RETRY_OF
    from moo_hpo.study import _as_chosen

    configs = []  # (the table's values, the configuration queued: the table's, its left-out parameters drawn)
    for number, table in enumerate(tables, 1):  # every table checked, and completed, before any is queued
        given = _as_chosen(study.space, table)
        try:
            if not given:
                raise ConfigError("expected the values of some parameters; received an empty table")
            if is_partial(study.space, given):
                configs.append((given, study._completed(given, offset=number)))
                continue
            problems = study.space.problems(given)
        except ConfigError as exc:
            problems = [str(exc)]
        if problems:
            raise CliError(f"[[enqueue]] {number} (of {len(tables)}): the configuration {given!r:.300} does not fit the "
                           f"space: {'; '.join(problems)}")
        configs.append((given, given))
    seen = [t.config for t in study.trials if t.optimizer == ENQUEUED and RETRY_OF not in t.extra] + study.queued
    for given, config in configs:
        match = next((c for c in seen if holds(c, given)), None)  # run or queued already (a partial one: completed)
        if match is not None:
            seen.remove(match)
            continue
        study.enqueue(config)


def beside_hint(exc: mh.ConfigError, base: Path) -> Exception:
    """``exc``, or a CliError that says how to bring a module beside the study file to Dask workers that lack it
    (its entry travels with the objective; the modules the entry imports do not)."""
    import re

    missing = re.search(r"No module named '([\w.]+)'", str(exc))
    name = missing.group(1).partition(".")[0] if missing else None
    if name and ((base / f"{name}.py").is_file() or (base / name).is_dir()):
        return CliError(
            f"{exc}. {name!r} lies beside the study file, and only the entry's own code travels to the Dask workers: "
            f"install it on the workers, start them with PYTHONPATH={shlex.quote(str(base.resolve()))} (a worker does "
            "not look in the folder it starts in), or add "
            f"`import cloudpickle, {name}; cloudpickle.register_pickle_by_value({name})` to the entry file"
        )
    return exc
