"""A run's differences from its baseline (:class:`truenorth.engine.history.RunDiff`) as Markdown:
shared by ``truenorth diff --format markdown`` and the "Since the baseline" section of the
Markdown report of ``run --baseline``."""

from __future__ import annotations

from typing import Any


def caveats(diff: Any) -> list[str]:
    out = []
    if diff.pack_changed:
        out.append(
            f"the pack changed (hash {str(diff.a.get('pack_hash'))[:12]} → "
            f"{str(diff.b.get('pack_hash'))[:12]}): differences may come from the rules, "
            "not the business"
        )
    for k, (old, new) in diff.changed_params().items():
        out.append(f"param {k}: {old} → {new}")
    return out + list(diff.notes)


def num(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:,.4g}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)


def diff_markdown(diff: Any, heading: str) -> str:
    """Markdown of a :class:`~truenorth.engine.history.RunDiff` under ``heading`` (a level-2
    heading line; the parts are level 3)."""
    a, b = diff.a, diff.b
    out = [
        heading,
        "",
        f"Run `{b.get('run_id')}` ({b.get('created')}) against `{a.get('run_id')}` "
        f"({a.get('created')}): **{len(diff.new)} new**, {len(diff.resolved)} resolved, "
        f"{len(diff.unchanged)} unchanged findings.",
        "",
    ]
    notes = caveats(diff)
    if notes:
        out += [f"> **Note:** {c}" for c in notes] + [""]

    def cell(v: Any) -> str:
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

    for title, rows in (("New findings", diff.new), ("Resolved findings", diff.resolved)):
        if rows:
            out += [
                f"### {title}",
                "",
                "| severity | rule | subject | message |",
                "|---|---|---|---|",
            ]
            out += [
                f"| {cell(r.get('severity'))} | `{cell(r['rule_id'])}` | {cell(r.get('subject'))} "
                f"| {cell(r.get('message'))} |"
                for r in rows
            ]
            out.append("")
    if diff.flipped:
        out += ["### Rules that changed outcome", "", "| rule | baseline | now |", "|---|---|---|"]
        out += [f"| `{f['rule_id']}` | {f['baseline']} | {f['now']} |" for f in diff.flipped]
        out.append("")
    if diff.metrics:
        out += ["### Metric deltas", "", "| table | row | column | baseline | now | Δ | Δ % |"]
        out.append("|---|---|---|---:|---:|---:|---:|")
        for m in diff.metrics:
            key = ", ".join(f"{k}={v}" for k, v in m["key"].items())
            rel = "" if m["relative"] is None else f"{m['relative'] * 100:+.1f} %"
            out.append(
                f"| `{m['table']}` | {cell(key)} | {m['column']} | {num(m['baseline'])} "
                f"| {num(m['now'])} | {num(m['delta'])} | {rel} |"
            )
        out.append("")
    return "\n".join(out)
