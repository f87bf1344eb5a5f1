"""The plugin manager: pluggy + the ``truenorth`` entry-point group, with failure isolation.

Every plugin — built-in or third-party — is an entry point in the ``truenorth`` group (or an
object passed programmatically). Each is imported and registered on its own; a plugin that
fails to import, declares an unknown hook, or raises inside a hook is recorded as a
:class:`PluginInfo` with its ``error`` and the others keep working — unless *strict mode* is on
(``strict=True``, ``truenorth --strict`` or ``TRUENORTH_STRICT=1``), which turns any load error
into a :class:`~truenorth.errors.PluginError`.

Names of rule kinds, readers and reporters are unique: when two plugins register the same name,
the name is *withdrawn* (neither wins silently) and both providers are named in the error.

Environment variables (read at each :func:`load_registry` call):

``TRUENORTH_DISABLE_PLUGINS=a,b``
    Do not load these entry points (built-ins included, by entry-point or distribution name).
``TRUENORTH_PLUGINS=x,y``
    Load only these *third-party* plugins (built-ins always load unless disabled);
    set but empty means no third-party plugins at all.
``TRUENORTH_STRICT=1``
    Strict mode.

Example::

    >>> reg = load_registry()
    >>> "condition" in reg.kinds
    True
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, get_args

import pluggy

from ..errors import PluginError
from . import hookspecs
from .records import CONDITION_FIELDS, Options, Reader, Reporter, ReporterDefault, RuleKind

GROUP = "truenorth"
BUILTIN_PREFIX = "truenorth.builtins."

_HOOKS: dict[str, tuple[str, type]] = {
    "register_rule_kinds": ("kinds", RuleKind),
    "register_readers": ("readers", Reader),
    "register_reporters": ("reporters", Reporter),
}


@dataclass
class PluginInfo:
    """One plugin as the manager saw it."""

    name: str
    module: str
    dist: str | None = None
    version: str | None = None
    builtin: bool = False
    kinds: list[str] = field(default_factory=list)
    readers: list[str] = field(default_factory=list)
    reporters: list[str] = field(default_factory=list)
    error: str | None = None
    disabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "dist": self.dist,
            "version": self.version,
            "builtin": self.builtin,
            "kinds": self.kinds,
            "readers": self.readers,
            "reporters": self.reporters,
            "error": self.error,
            "disabled": self.disabled,
        }


@dataclass
class Registry:
    """The loaded plugins and the records they registered."""

    kinds: dict[str, RuleKind[Any]] = field(default_factory=dict)
    readers: dict[str, Reader] = field(default_factory=dict)
    reporters: dict[str, Reporter] = field(default_factory=dict)
    providers: dict[tuple[str, str], str] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)

    @property
    def errors(self) -> list[PluginInfo]:
        """Plugins that failed to load or register."""
        return [p for p in self.plugins if p.error]

    def provider(self, category: str, name: str) -> str | None:
        return self.providers.get((category, name))

    def missing_kind(self, name: str) -> tuple[str, str]:
        """(message, expected) for a rule kind that is not available: registered by several
        plugins, from a plugin that failed to load, or unknown — one wording for every command."""
        conflict = self.conflicts.get(("kinds", name))
        if conflict:
            return (
                f"rule kind {name!r} is provided by several plugins: {', '.join(conflict)}",
                "exactly one plugin providing it (disable one: TRUENORTH_DISABLE_PLUGINS)",
            )
        failed = [p.name for p in self.errors if p.name == name]
        extra = f" (plugin {failed[0]!r} failed to load; see `truenorth plugins`)" if failed else ""
        return f"unknown rule kind {name!r}{extra}", "one of: " + ", ".join(sorted(self.kinds))

    def reader_for(self, path: str, name: str | None = None) -> Reader | None:
        """The reader named ``name``, or the one whose extension ends ``path`` (longest wins)."""
        if name is not None:
            return self.readers.get(name)
        lowered = path.lower()
        best: tuple[int, Reader] | None = None
        for reader in self.readers.values():
            for ext in reader.extensions:
                e = ext.lower()
                if lowered.endswith(e) and (best is None or len(e) > best[0]):
                    best = (len(e), reader)
        return best[1] if best else None

    def default_formats(self, *, out: bool) -> list[str]:
        """The formats ``truenorth run`` writes without ``--format``, from each reporter's
        ``default``: the ``"always"`` ones, then (with ``--out``) the ``"out"`` ones.

        >>> load_registry().default_formats(out=False)
        ['console']
        """
        wanted = ("always", "out") if out else ("always",)
        return [r.name for level in wanted for r in self.reporters.values() if r.default == level]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugins": [p.to_dict() for p in self.plugins],
            "kinds": {n: self.providers.get(("kinds", n)) for n in sorted(self.kinds)},
            "readers": {n: self.providers.get(("readers", n)) for n in sorted(self.readers)},
            "reporters": {n: self.providers.get(("reporters", n)) for n in sorted(self.reporters)},
            "conflicts": [
                {"category": c, "name": n, "providers": p}
                for (c, n), p in sorted(self.conflicts.items())
            ],
            "errors": [
                {"plugin": p.name, "version": p.version, "error": p.error} for p in self.errors
            ],
        }


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [x.strip() for x in raw.split(",") if x.strip()]


def strict_from_env() -> bool:
    return os.environ.get("TRUENORTH_STRICT", "").strip().lower() in {"1", "true", "yes", "on"}


def _short_error(exc: BaseException) -> str:
    """``Type: message (at file:line)`` — the innermost frame outside importlib's machinery."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<")
        and "importlib" not in f.filename
        and f.filename != __file__
    ]
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _check_kind(kind: RuleKind[Any]) -> str | None:
    name = kind.name
    model = kind.options_model
    if not (isinstance(model, type) and issubclass(model, Options)):
        return f"rule kind {name!r}: options_model must be a subclass of truenorth.Options"
    if not callable(kind.evaluate):
        return f"rule kind {name!r}: evaluate must be callable"
    unknown = [f for f in kind.row_predicates if f not in CONDITION_FIELDS]
    if isinstance(kind.row_predicates, str) or unknown:
        return (
            f"rule kind {name!r}: row_predicates must be a tuple of "
            f"{', '.join(CONDITION_FIELDS)}, got {kind.row_predicates!r}"
        )
    return None


def _check_reader(reader: Reader) -> str | None:
    if not callable(reader.read):
        return f"reader {reader.name!r}: read must be callable"
    if isinstance(reader.extensions, str):
        return f"reader {reader.name!r}: extensions must be a tuple of strings, not a string"
    return None


def _check_reporter(reporter: Reporter) -> str | None:
    if not callable(reporter.write):
        return f"reporter {reporter.name!r}: write must be callable"
    if reporter.default not in get_args(ReporterDefault):
        return (
            f"reporter {reporter.name!r}: default must be one of "
            f"{', '.join(get_args(ReporterDefault))}, got {reporter.default!r}"
        )
    return None


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "kinds": _check_kind,
    "readers": _check_reader,
    "reporters": _check_reporter,
}


def _validate_record(category: str, cls: type, record: Any) -> str | None:
    """Why ``record`` cannot be registered under ``category`` (None if it can)."""
    if not isinstance(record, cls):
        return f"register() expects a truenorth.{cls.__name__}, got {type(record).__name__}"
    name = getattr(record, "name", None)
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("_", "").replace("-", "").isalnum()
    ):
        return f"invalid {cls.__name__} name {name!r} (letters, digits, '_' and '-')"
    return _CHECKS[category](record)


_discovered: list[EntryPoint] | None = None


def _entry_points() -> list[EntryPoint]:
    # discovery reads every installed distribution's metadata: once per process (until
    # clear_cache), also for registries built with extra plugins, which are not cached
    global _discovered
    if _discovered is None:
        eps = list(entry_points(group=GROUP))
        # built-ins first (stable order), then third-party plugins by name
        _discovered = sorted(eps, key=lambda ep: (not ep.value.startswith(BUILTIN_PREFIX), ep.name))
    return list(_discovered)


def _plugin_name(obj: Any) -> str:
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return str(name)


def build_registry(
    plugins: Sequence[Any] = (),
    *,
    strict: bool | None = None,
    use_entry_points: bool = True,
) -> Registry:
    """Load plugins into a fresh :class:`Registry` (see the module doc for the rules)."""
    if strict is None:
        strict = strict_from_env()
    disabled = set(_env_list("TRUENORTH_DISABLE_PLUGINS") or [])
    only = _env_list("TRUENORTH_PLUGINS")
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry()
    loaded: list[tuple[PluginInfo, Any]] = []

    if use_entry_points:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else None
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                dist=dist,
                version=ep.dist.version if ep.dist else None,
                builtin=ep.value.startswith(BUILTIN_PREFIX),
            )
            reg.plugins.append(info)
            if ep.name in disabled or (dist and dist in disabled and not info.builtin):
                info.disabled = True
                continue
            if only is not None and not info.builtin and ep.name not in only and dist not in only:
                info.disabled = True
                continue
            try:
                obj = ep.load()
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                info.error = f"import failed: {_short_error(exc)}"
                continue
            loaded.append((info, obj))
    for obj in plugins:
        info = PluginInfo(name=_plugin_name(obj), module=_plugin_name(obj), dist=None)
        reg.plugins.append(info)
        loaded.append((info, obj))

    for info, obj in loaded:
        try:
            if pm.is_registered(obj):
                info.error = "already registered under another name"
                continue
            pm.register(obj, name=info.name)
            pm.check_pending()
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            info.error = f"registration failed: {_short_error(exc)}"
            if pm.is_registered(obj):
                pm.unregister(obj)
            continue

    infos = {info.name: info for info, _ in loaded}
    broken = {info.name for info, _ in loaded if info.error}
    for hook_name, (category, cls) in _HOOKS.items():
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            found = infos.get(impl.plugin_name)
            if found is None or found.name in broken:
                continue
            info = found
            staged: list[Any] = []

            def register(record: Any, _staged: list[Any] = staged) -> None:
                _staged.append(record)

            try:
                impl.function(register=register)
                for record in staged:
                    problem = _validate_record(category, cls, record)
                    if problem:
                        raise PluginError(problem)
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                info.error = f"{hook_name} failed: {_short_error(exc)}"
                broken.add(info.name)
                continue
            for record in staged:
                _add(reg, category, record, info)

    if strict:
        problems = [
            f"plugin {p.name}{f' ({p.dist} {p.version})' if p.dist else ''}: {p.error}"
            for p in reg.errors
        ]
        if problems:
            raise PluginError("strict mode: plugin errors:\n  " + "\n  ".join(problems))
    return reg


def _add(reg: Registry, category: str, record: Any, info: PluginInfo) -> None:
    table: dict[str, Any] = getattr(reg, category)
    name = record.name
    key = (category, name)
    if key in reg.conflicts:
        reg.conflicts[key].append(info.name)
        _note_conflict(reg, category, name, info)
        return
    if name in table:
        first = reg.providers[key]
        reg.conflicts[key] = [first, info.name]
        del table[name]
        for p in reg.plugins:
            if p.name == first:
                _note_conflict(reg, category, name, p)
                getattr(p, category).remove(name)
        _note_conflict(reg, category, name, info)
        return
    table[name] = record
    reg.providers[key] = info.name
    getattr(info, category).append(name)


def _note_conflict(reg: Registry, category: str, name: str, info: PluginInfo) -> None:
    providers = reg.conflicts[(category, name)]
    msg = f"{category[:-1]} {name!r} is registered by several plugins: {', '.join(providers)}"
    info.error = (
        msg if not info.error or "registered by several" in info.error else f"{info.error}; {msg}"
    )


_cache: dict[tuple[Any, ...], Registry] = {}
_lock = threading.Lock()


def load_registry(plugins: Iterable[Any] = (), *, strict: bool | None = None) -> Registry:
    """The registry for the current environment; cached when no extra plugins are given."""
    plugins = tuple(plugins)
    if strict is None:
        strict = strict_from_env()
    if plugins:
        return build_registry(plugins, strict=strict)
    key = (
        strict,
        os.environ.get("TRUENORTH_DISABLE_PLUGINS"),
        os.environ.get("TRUENORTH_PLUGINS"),
    )
    with _lock:
        reg = _cache.get(key)
        if reg is None:
            reg = build_registry(strict=strict)
            _cache[key] = reg
        return reg


def clear_cache() -> None:
    """Forget cached registries and discovered entry points (tests that change the
    environment call this)."""
    global _discovered
    with _lock:
        _cache.clear()
        _discovered = None
