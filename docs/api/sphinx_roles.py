"""A griffe extension for the API reference: Sphinx cross-reference roles in moo_hpo's docstrings
(``:class:`~moo_hpo.space.Space```, ``:meth:`ask```) are shown as inline code (``Space``, ``ask``)
instead of as raw role text. Used by ``mkdocs.yml``; not part of the package or the site.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

# :role:`target`, :role:`~dotted.target`, :role:`text <target>`, with an optional domain (:py:class:)
_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|obj|exc|const):`(~?)([^`<]+?)(?:\s*<[^>]+>)?`")


def _replace(match: re.Match[str]) -> str:
    tilde, target = match.group(1), match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def strip_roles(text: str) -> str:
    """``text`` with each Sphinx role replaced by inline code of its (short, for ``~``) target."""
    return _ROLE.sub(_replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the docstrings of a loaded package (aliases are resolved to the rewritten objects)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = strip_roles(obj.docstring.value)
            stack.extend(m for m in obj.members.values() if not m.is_alias)
