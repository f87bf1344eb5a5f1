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

Limits (for services that load packs they did not write): a pack file larger than
:attr:`PackLimits.max_bytes` is refused before parsing, and alias expansion stops once
:attr:`PackLimits.max_alias_nodes` nodes have been built through aliases (anchors ``&a`` and
aliases ``*a``, merge keys ``<<``): a 393-byte "billion laughs" file would otherwise expand to
gigabytes. Both raise :class:`~truenorth.errors.PackError` located at the file (size) or at the
alias. Each file's load time is logged at DEBUG level on the ``truenorth`` logger, and at
WARNING level when it takes more than :data:`SLOW_LOAD_SECONDS`::

    >>> bomb = "a: &a [x, x, x]\\nb: &b [*a, *a, *a]\\nc: [*b, *b, *b]\\n"
    >>> load_text(bomb, "bomb.yaml", limits=PackLimits(max_alias_nodes=20))
    Traceback (most recent call last):
    ...
    truenorth.errors.PackError: bomb.yaml:3:5: YAML aliases expand to more than 20 nodes ...
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import PackError, Problem
from .records import Location

Path_ = tuple[Any, ...]
MAX_DEPTH = 64

log = logging.getLogger("truenorth")

#: Default size limit of one pack file: 1 MiB. The bundled packs are 1-10 KB; pure-Python YAML
#: parsing runs at roughly 0.3 MB/s on a loaded machine, so 1 MiB bounds parsing to a few seconds.
MAX_PACK_BYTES = 1024 * 1024
#: Default budget of nodes built through aliases (per file or in-memory pack). Reusing a
#: ``with:`` block with ``&anchor``/``*alias`` in a few dozen rules builds a few hundred; 10,000
#: leaves ample headroom while bounding the expansion to well under a second and a few MB.
MAX_ALIAS_NODES = 10_000
#: A file that takes longer than this to load is logged at WARNING level.
SLOW_LOAD_SECONDS = 2.0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        from ..errors import UsageError

        raise UsageError(f"{name}={raw!r}: expected a whole number") from None
    if value < 0:
        from ..errors import UsageError

        raise UsageError(f"{name}={raw!r}: expected a whole number >= 0")
    return value


@dataclass(frozen=True)
class PackLimits:
    """Resource limits applied while reading a pack (see the module docs).

    ``None`` means the default: :data:`MAX_PACK_BYTES` / :data:`MAX_ALIAS_NODES`, or the
    ``TRUENORTH_MAX_PACK_BYTES`` / ``TRUENORTH_MAX_ALIAS_NODES`` environment variables when set
    (the CLI's way to configure them). ``max_alias_nodes=0`` forbids aliases altogether.

    Example::

        >>> PackLimits(max_bytes=64_000).resolved().max_bytes
        64000
    """

    max_bytes: int | None = None
    max_alias_nodes: int | None = None

    def resolved(self) -> _Bounds:
        """These limits with defaults (and environment overrides) filled in."""
        return _Bounds(
            self.max_bytes
            if self.max_bytes is not None
            else _env_int("TRUENORTH_MAX_PACK_BYTES", MAX_PACK_BYTES),
            self.max_alias_nodes
            if self.max_alias_nodes is not None
            else _env_int("TRUENORTH_MAX_ALIAS_NODES", MAX_ALIAS_NODES),
        )


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


@dataclass(frozen=True)
class _Bounds:
    max_bytes: int
    max_alias_nodes: int


class PackLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false (so ``on:``, ``yes``, ``no``, ``off``
    stay strings — ``on: customers`` must not become ``True: customers``). It also remembers
    where each alias (``*name``) was written, so an expansion over budget is located there."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        # (id(parent node), list index or id(key node)) -> mark of the alias in that slot
        self.alias_marks: dict[tuple[int, Any], Any] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if parent is not None and self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            slot = index if isinstance(index, int) else id(index)
            self.alias_marks[(id(parent), slot)] = mark
        return super().compose_node(parent, index)


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
    def __init__(
        self, file: str, max_alias_nodes: int, alias_marks: dict[tuple[int, Any], Any] | None
    ):
        self.file = file
        self.loader = PackLoader("")
        self.doc = Located(None, file)
        self.problems: list[Problem] = []
        self.max_alias_nodes = max_alias_nodes
        self.alias_marks = alias_marks or {}
        self.built: set[int] = set()  # ids of nodes built once: building one again is expansion
        self.nodes = 0
        self.alias_nodes = 0
        self.expanding: Location | None = None  # the outermost alias being expanded

    def _child(self, parent: yaml.Node, slot: Any, node: yaml.Node, path: Path_, depth: int) -> Any:
        if self.expanding is not None or id(node) not in self.built:
            return self.build(node, path, depth)
        # a node built before (an alias or a merge key): the whole subtree counts
        mark = self.alias_marks.get((id(parent), slot))
        self.expanding = _mark(self.file, mark if mark is not None else node.start_mark)
        try:
            return self.build(node, path, depth)
        finally:
            self.expanding = None

    def build(self, node: yaml.Node, path: Path_, depth: int = 0) -> Any:
        self.doc.locations[path] = _mark(self.file, node.start_mark)
        self.nodes += 1
        if self.expanding is not None:
            self.alias_nodes += 1
            if self.alias_nodes > self.max_alias_nodes:
                n = self.max_alias_nodes
                raise PackError(
                    [
                        Problem(
                            f"YAML aliases expand to more than {n} nodes",
                            self.expanding,
                            expected=f"at most {n} nodes built through aliases; raise "
                            "PackLimits.max_alias_nodes or TRUENORTH_MAX_ALIAS_NODES for a "
                            "trusted pack",
                        )
                    ]
                )
        else:
            self.built.add(id(node))
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
                out[key] = self._child(node, id(knode), vnode, key_path, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [
                self._child(node, i, v, (*path, i), depth + 1) for i, v in enumerate(node.value)
            ]
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


def load_text(text: str, file: str = "<string>", *, limits: PackLimits | None = None) -> Located:
    """Parse one YAML document from ``text``; raise :class:`PackError` with locations.

    ``limits`` (default: ``PackLimits()``) bounds alias expansion; the byte limit applies here
    too, counted in UTF-8.
    """
    lim = _bounds(limits)
    t0 = time.perf_counter()
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > lim.max_bytes else 0
    if size > lim.max_bytes:
        raise PackError([_too_big(file, size, lim.max_bytes)])
    alias_marks: dict[tuple[int, Any], Any] = {}
    try:
        loader = PackLoader(text)
        try:
            node = loader.get_single_node()
            alias_marks = loader.alias_marks
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise PackError([_yaml_problem(file, exc)]) from None
    except (ValueError, TypeError, RecursionError) as exc:  # odd characters, deep nesting
        raise PackError([Problem(f"invalid YAML: {exc}", Location(file, 1, 1))]) from None
    builder = _Builder(file, lim.max_alias_nodes, alias_marks)
    if node is None:
        builder.doc.value = None
        return builder.doc
    try:
        builder.doc.value = builder.build(node, ())
    except RecursionError:
        raise PackError([Problem("YAML nesting too deep", Location(file, 1, 1))]) from None
    if builder.problems:
        raise PackError(builder.problems)
    _log_load(file, len(text), builder.nodes, builder.alias_nodes, time.perf_counter() - t0)
    return builder.doc


def _too_big(file: str, size: int, limit: int) -> Problem:
    return Problem(
        f"pack file is {size:,} bytes, over the {limit:,}-byte limit",
        Location(file, 1, 1),
        expected="a smaller pack (split it into several files) or a higher "
        "PackLimits.max_bytes / TRUENORTH_MAX_PACK_BYTES for a trusted pack",
    )


def _log_load(file: str, chars: int, nodes: int, alias_nodes: int, seconds: float) -> None:
    level = logging.WARNING if seconds > SLOW_LOAD_SECONDS else logging.DEBUG
    if log.isEnabledFor(level):
        log.log(
            level,
            "loaded %s: %d characters, %d YAML nodes (%d through aliases) in %.2f s",
            file,
            chars,
            nodes,
            alias_nodes,
            seconds,
        )


def _bounds(limits: PackLimits | None) -> _Bounds:
    return (limits or PackLimits()).resolved()


def load_yaml(path: str | Path, *, limits: PackLimits | None = None) -> Located:
    """Read and parse a YAML file (UTF-8), refusing files over ``limits.max_bytes``."""
    p = Path(path)
    lim = _bounds(limits)
    try:
        with p.open("rb") as fh:
            # read one byte more than allowed: enough to know, without reading a huge file
            raw = fh.read(lim.max_bytes + 1)
        if len(raw) > lim.max_bytes:
            size = max(len(raw), p.stat().st_size)
            raise PackError([_too_big(str(p), size, lim.max_bytes)])
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(
            [Problem(f"not UTF-8 text: {exc.reason}", Location(str(p), 1, 1))]
        ) from None
    except OSError as exc:
        raise PackError(
            [Problem(f"cannot read file: {exc.strerror}", Location(str(p), 1, 1))]
        ) from None
    return load_text(text, str(p), limits=limits)


def from_python(value: Any, file: str = "<dict>", *, limits: PackLimits | None = None) -> Located:
    """Wrap an in-memory pack (a dict) so it flows through the same validation.

    A dict from ``yaml.safe_load`` shares the objects its aliases point to; walking it would
    expand them, so the same alias budget applies: revisiting a list or dict counts its nodes.
    """
    lim = _bounds(limits)
    seen: set[int] = set()
    count = 0

    def walk(v: Any, path: Path_, shared: bool, depth: int) -> None:
        nonlocal count
        if shared:
            count += 1
            if count > lim.max_alias_nodes:
                where = ".".join(map(str, path)) or "(top)"
                raise PackError(
                    [
                        Problem(
                            f"shared (aliased) objects expand to more than "
                            f"{lim.max_alias_nodes} nodes, at {where}",
                            Location(file, 1, 1),
                            expected="a pack without repeated references, or a higher "
                            "PackLimits.max_alias_nodes",
                        )
                    ]
                )
        if depth > MAX_DEPTH:
            where = ".".join(map(str, path[:8]))
            raise PackError(
                [Problem(f"nesting too deep (a cycle?) at {where}...", Location(file, 1, 1))]
            )
        if isinstance(v, (Mapping, list, tuple)):
            if not shared and id(v) in seen:
                shared = True
                count += 1
            seen.add(id(v))
            items = v.items() if isinstance(v, Mapping) else enumerate(v)
            for k, child in items:
                walk(child, (*path, k), shared, depth + 1)

    walk(value, (), False, 0)
    return Located(value, file)
