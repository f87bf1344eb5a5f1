"""Benchmarks run with ``pytest benches/ --benchmark-only`` (the default ``pytest`` run only
collects ``tests/``). Files named ``bench_*.py`` are collected here; at the end, the ratios of
each group's medians to truenorth's are printed, then one line per group with the fastest
peer of each family (fastest Polars variant, DuckDB, the project's reference, lifetimes),
worst ratio first, also written to ``benches/results_ratios.json``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FAMILIES = ("polars", "duckdb", "reference", "lifetimes")


def pytest_collect_file(file_path, parent):
    # a bench file named on the command line is already collected by pytest itself
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def _family(name: str) -> str:
    if "truenorth" in name:
        return "truenorth"
    if "polars:" in name:
        return "polars"
    for family in FAMILIES[1:]:
        if family in name:
            return family
    return name


def _label(name: str) -> str:
    """The peer's part of a parametrized summary id (``1M-int-sorted-polars:two_level``)."""
    inner = re.search(r"\[(.*)\]", name)
    return inner.group(1).rsplit("-", 1)[-1] if inner and "-" in inner.group(1) else name


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, dict[str, float]] = {}
    for bench in session.benchmarks:
        if not bench.stats or not bench.stats.rounds:
            continue
        groups.setdefault(bench.group or "", {})[bench.name] = bench.stats.median
    terminalreporter.section("truenorth ratios (median time / truenorth median time)")
    headline = []
    for group, times in sorted(groups.items()):
        base = next((t for name, t in times.items() if _family(name) == "truenorth"), None)
        if base is None:
            continue
        for name, t in sorted(times.items(), key=lambda kv: kv[1]):
            terminalreporter.write_line(f"{group:28s} {name:55s} {t:9.3f} s  x{t / base:7.2f}")
        row = {"group": group, "truenorth_s": base}
        for family in FAMILIES:
            mine = {n: t for n, t in times.items() if _family(n) == family}
            if mine:
                best = min(mine, key=mine.__getitem__)
                row[family] = {"peer": _label(best), "s": mine[best], "ratio": mine[best] / base}
        headline.append(row)
    if headline:

        def worst(row):
            ratios = [row[f]["ratio"] for f in ("polars", "duckdb", "lifetimes") if f in row]
            return min(ratios, default=float("inf"))

        headline.sort(key=worst)
        terminalreporter.section("fastest peer of each family / truenorth, worst first")
        for row in headline:
            cells = [f"{f} x{row[f]['ratio']:.2f} ({row[f]['peer']})" for f in FAMILIES if f in row]
            terminalreporter.write_line(
                f"{row['group']:30s} truenorth {row['truenorth_s']:.3f} s  " + "  ".join(cells)
            )
        out = Path(__file__).with_name("results_ratios.json")
        out.write_text(json.dumps(headline, indent=1))
    for bench in session.benchmarks:
        if bench.extra_info:
            terminalreporter.write_line(f"{bench.name}: {bench.extra_info}")
