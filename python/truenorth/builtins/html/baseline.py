"""The report's "Since the baseline" section (``run --baseline``): new and resolved findings,
rules whose outcome changed, metric deltas, and a warning when the pack or its params changed
(so a moved number is not read as a changed business)."""

from __future__ import annotations

from typing import Any

from .svg import esc, fmt

MAX_ROWS = 50


def baseline_section(result: Any) -> str:
    """The section's HTML, or ``""`` when the run has no baseline."""
    diff = getattr(result, "baseline", None)
    if diff is None:
        return ""
    a = diff.a
    parts = [
        f'<p class="meta">compared with run <code>{esc(a.get("run_id"))}</code> of '
        f"{esc(a.get('created'))}: <b>{len(diff.new)}</b> new, <b>{len(diff.resolved)}</b> "
        f"resolved, {len(diff.unchanged)} unchanged findings</p>"
    ]
    if diff.pack_changed or diff.params_changed:
        what = []
        if diff.pack_changed:
            what.append("the pack's rules or datasets changed")
        for k, (old, new) in diff.changed_params().items():
            what.append(f"param <code>{esc(k)}</code>: {esc(old)} → {esc(new)}")
        parts.append(
            '<p class="warn"><b>Not like for like:</b> ' + "; ".join(what)
            + ". Differences may come from the pack, not the business.</p>"
        )  # fmt: skip
    parts.append(_findings("New findings", diff.new))
    parts.append(_findings("Resolved findings", diff.resolved))
    if diff.flipped:
        rows = "".join(
            f"<tr><td><code>{esc(f['rule_id'])}</code></td><td>{esc(f['baseline'])}</td>"
            f"<td>{esc(f['now'])}</td></tr>"
            for f in diff.flipped
        )
        parts.append(
            "<h3>Rules that changed outcome</h3><table><thead><tr><th>rule</th><th>baseline</th>"
            f"<th>now</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if diff.metrics:
        rows = "".join(
            f"<tr><td><code>{esc(m['table'])}</code></td>"
            f"<td>{esc(', '.join(f'{k}={v}' for k, v in m['key'].items()))}</td>"
            f"<td>{esc(m['column'])}</td><td>{_num(m['baseline'])}</td><td>{_num(m['now'])}</td>"
            f"<td>{_signed(m['delta'])}</td><td>{_pct(m['relative'])}</td></tr>"
            for m in diff.metrics[:MAX_ROWS]
        )
        more = (
            f'<p class="empty">{len(diff.metrics) - MAX_ROWS} more in the JSON diff</p>'
            if len(diff.metrics) > MAX_ROWS
            else ""
        )
        parts.append(
            '<h3>Metric deltas</h3><div class="scroll"><table><thead><tr><th>table</th>'
            "<th>row</th><th>column</th><th>baseline</th><th>now</th><th>Δ</th><th>Δ %</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></div>{more}"
        )
    return f"<section><h2>Since the baseline</h2>{''.join(parts)}</section>"


def _findings(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f'<h3>{esc(title)}</h3><p class="empty">none</p>'
    body = "".join(
        f"<tr><td>{esc(r.get('severity'))}</td><td><code>{esc(r.get('rule_id'))}</code></td>"
        f"<td>{esc(r.get('subject'))}</td><td>{esc(r.get('message'))}</td></tr>"
        for r in rows[:MAX_ROWS]
    )
    more = f'<p class="empty">{len(rows) - MAX_ROWS} more</p>' if len(rows) > MAX_ROWS else ""
    return (
        f'<h3>{esc(title)} ({len(rows)})</h3><div class="scroll"><table><thead><tr>'
        "<th>severity</th><th>rule</th><th>subject</th><th>message</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>{more}"
    )


def _num(v: Any) -> str:
    return "–" if v is None else esc(fmt(v))


def _signed(v: Any) -> str:
    return "–" if v is None else esc(("+" if v > 0 else "") + fmt(v))


def _pct(v: Any) -> str:
    return "–" if v is None else esc(f"{v * 100:+.1f} %")
