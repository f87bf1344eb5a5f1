"""The listing commands: ``truenorth plugins``, ``kinds`` and ``schema``."""

from __future__ import annotations

import argparse
import json
import sys

from .cli_support import EXIT_OK, _registry


def cmd_plugins(args: argparse.Namespace) -> int:
    args.quiet_plugins = True
    reg = _registry(args)
    if args.json:
        sys.stdout.write(json.dumps(reg.to_dict(), indent=2) + "\n")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))
    table = Table(title="truenorth plugins", title_justify="left")
    for c in ("plugin", "version", "kinds", "readers", "reporters", "status"):
        table.add_column(c, overflow="fold")
    for p in reg.plugins:
        status = (
            "disabled"
            if p.disabled
            else ("[red]" + (p.error or "") + "[/]" if p.error else "[green]ok[/]")
        )
        table.add_row(
            p.name + (" (built-in)" if p.builtin else ""),
            f"{p.dist or '-'} {p.version or ''}".strip(),
            ", ".join(p.kinds),
            ", ".join(p.readers),
            ", ".join(p.reporters),
            status,
        )
    console.print(table)
    return EXIT_OK


def cmd_kinds(args: argparse.Namespace) -> int:
    from .errors import UsageError

    args.quiet_plugins = True
    reg = _registry(args)
    if not args.kind:
        if args.json:  # every kind: name, summary, providing plugin, options schema
            listing = [
                {
                    "name": name,
                    "summary": reg.kinds[name].summary,
                    "plugin": reg.provider("kinds", name),
                    "options": reg.kinds[name].options_model.model_json_schema(),
                }
                for name in sorted(reg.kinds)
            ]
            sys.stdout.write(json.dumps(listing, indent=2, default=str) + "\n")
            return EXIT_OK
        clashing = [n for (c, n) in reg.conflicts if c == "kinds"]
        width = max((len(k) for k in [*reg.kinds, *clashing]), default=4)
        for name in sorted(reg.kinds):
            kind = reg.kinds[name]
            print(f"{name:<{width}}  {kind.summary}  [{reg.provider('kinds', name)}]")
        for name in sorted(clashing):  # unusable until one of its plugins is disabled
            print(f"{name:<{width}}  {reg.missing_kind(name)[0]}")
        return EXIT_OK
    kind = reg.kinds.get(args.kind)
    if kind is None:
        msg, expected = reg.missing_kind(args.kind)  # the same words as `run` and `validate`
        raise UsageError(f"{msg} (expected {expected})")
    if args.json:
        sys.stdout.write(json.dumps(kind.options_model.model_json_schema(), indent=2) + "\n")
        return EXIT_OK
    print(f"{kind.name} — {kind.summary}  (plugin: {reg.provider('kinds', kind.name)})")
    print()
    from .engine.schema import schema_type

    print("options (with:):")
    schema = kind.options_model.model_json_schema()
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        typ = schema_type(prop)
        default = "" if name in required else f" = {json.dumps(prop.get('default'), default=str)}"
        desc = prop.get("description", "")
        print(f"  {name}: {typ}{default}{'  (required)' if name in required else ''}")
        if desc:
            print(f"      {desc}")
    if kind.doc:
        print()
        print(kind.doc.strip())
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .engine.schema import pack_schema

    args.quiet_plugins = True
    reg = _registry(args)
    text = json.dumps(pack_schema(reg), indent=2) + "\n"
    if args.out:
        from .io.atomic import atomic_write_text

        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK
