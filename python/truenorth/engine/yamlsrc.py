"""Safe YAML loading that remembers where every value came from.

:func:`load_yaml` composes the document with :class:`yaml.SafeLoader` (no Python objects, no
tags beyond the YAML core schema), rejects duplicate keys and non-scalar keys, and returns a
:class:`Located` document: plain Python values plus a map from each value's *path* (a tuple of
keys and indexes) to its :class:`~truenorth.engine.records.Location`.

Example::

    >>> doc = load_text("a:\\n  b: [1, 2]\\n", "x.yaml")
    >>> doc.value
    {'a': {'b': [1, 2]}}
    >>> str(doc.loc(("a", "b", 1)))
    'x.yaml:2:10'
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import PackError, Problem
from .records import Location

Path_ = tuple[Any, ...]
MAX_DEPTH = 64


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class PackLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false (so ``on:``, ``yes``, ``no``, ``off``
    stay strings — ``on: customers`` must not become ``True: customers``)."""


PackLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PackLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass
class Located:
    """A parsed YAML document with the location of every node (keys' locations too)."""

    value: Any
    file: str
    locations: dict[Path_, Location] = field(default_factory=dict)
    key_locations: dict[Path_, Location] = field(default_factory=dict)

    def loc(self, path: Path_, *, key: bool = False) -> Location:
        """The location of the value at ``path`` (or of its key); falls back to the parent."""
        path = tuple(path)
        table = self.key_locations if key else self.locations
        if path in table:
            return table[path]
        while path:
            path = path[:-1]
            if path in self.locations:
                return self.locations[path]
        return Location(self.file, 1, 1)


def _mark(file: str, mark: Any) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.loader = PackLoader("")
        self.doc = Located(None, file)
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: Path_, depth: int = 0) -> Any:
        self.doc.locations[path] = _mark(self.file, node.start_mark)
        if depth > MAX_DEPTH:
            raise PackError(
                [Problem("YAML nesting too deep (recursive alias?)", self.doc.locations[path])]
            )
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
            self.problems.append(
                Problem(f"unsupported YAML tag {node.tag!r}", self.doc.locations[path])
            )
            return None
        if isinstance(node, yaml.MappingNode):
            try:
                self.loader.flatten_mapping(node)  # YAML merge keys (<<)
            except yaml.YAMLError as exc:
                raise PackError([_yaml_problem(self.file, exc)]) from None
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                kloc = _mark(self.file, knode.start_mark)
                if not isinstance(knode, yaml.ScalarNode):
                    self.problems.append(Problem("mapping keys must be plain scalars", kloc))
                    continue
                key = self._scalar(knode, kloc)
                if not isinstance(key, Hashable) or isinstance(key, (list, dict)):
                    self.problems.append(Problem("mapping keys must be plain scalars", kloc))
                    continue
                if key in out:
                    first = self.doc.key_locations.get((*path, key))
                    where = f" (first defined at {first})" if first else ""
                    self.problems.append(Problem(f"duplicate key {key!r}{where}", kloc))
                    continue
                key_path = (*path, key)
                self.doc.key_locations[key_path] = kloc
                out[key] = self.build(vnode, key_path, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
        return self._scalar(node, self.doc.locations[path])

    def _scalar(self, node: yaml.Node, loc: Location) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as exc:  # e.g. an impossible date like 2020-13-45, a !!python tag
            # pyyaml's own text repeats the location over several lines: keep the message only
            text = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
            tag = getattr(node, "tag", "")
            if (tag and not tag.startswith("tag:yaml.org,2002:")) or "python/" in str(tag):
                text += " (expected plain YAML values: tags such as !!python/... are not allowed)"
            self.problems.append(Problem(f"invalid value {node.value!r}: {text}", loc))
            return None


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    msg = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return Problem(msg, _mark(file, mark))


def load_text(text: str, file: str = "<string>") -> Located:
    """Parse one YAML document from ``text``; raise :class:`PackError` with locations."""
    try:
        loader = PackLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise PackError([_yaml_problem(file, exc)]) from None
    except (ValueError, TypeError, RecursionError) as exc:  # odd characters, deep nesting
        raise PackError([Problem(f"invalid YAML: {exc}", Location(file, 1, 1))]) from None
    builder = _Builder(file)
    if node is None:
        builder.doc.value = None
        return builder.doc
    try:
        builder.doc.value = builder.build(node, ())
    except RecursionError:
        raise PackError([Problem("YAML nesting too deep", Location(file, 1, 1))]) from None
    if builder.problems:
        raise PackError(builder.problems)
    return builder.doc


def load_yaml(path: str | Path) -> Located:
    """Read and parse a YAML file (UTF-8)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(
            [Problem(f"not UTF-8 text: {exc.reason}", Location(str(p), 1, 1))]
        ) from None
    except OSError as exc:
        raise PackError(
            [Problem(f"cannot read file: {exc.strerror}", Location(str(p), 1, 1))]
        ) from None
    return load_text(text, str(p))


def from_python(value: Any, file: str = "<dict>") -> Located:
    """Wrap an in-memory pack (a dict) so it flows through the same validation."""
    return Located(value, file)
