"""Markdown table of every benchmark's median and its ratio to truenorth's in the same group,
from a ``--benchmark-json`` file: ``python benches/ratios_table.py RESULTS.json``.

Groups are listed by their smallest peer/truenorth ratio (worst first), entries by time.
"""

from __future__ import annotations

import json
import sys


def table(path: str) -> str:
    benches = json.load(open(path))["benchmarks"]
    groups: dict[str, dict[str, tuple[float, int]]] = {}
    for b in benches:
        name = b["name"].removeprefix("test_")
        groups.setdefault(b["group"] or "", {})[name] = (b["stats"]["median"], b["stats"]["rounds"])
    rows = []
    for group, times in groups.items():
        base = next((t for n, (t, _) in times.items() if "truenorth" in n), None)
        if base is None:
            continue
        worst = min((t / base for n, (t, _) in times.items() if "truenorth" not in n), default=0)
        rows.append((worst, group, base, times))
    out = ["| group | entry | median | rounds | / truenorth |", "|---|---|---|---|---|"]
    for _, group, base, times in sorted(rows):
        for name, (t, rounds) in sorted(times.items(), key=lambda kv: kv[1][0]):
            out.append(f"| {group} | {name} | {t:.3f} s | {rounds} | {t / base:.2f}× |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(sys.argv[1]))
