"""Benchmarks run with ``pytest benches/ --benchmark-only`` (the default ``pytest`` run only
collects ``tests/``). Files named ``bench_*.py`` are collected here; at the end, the ratios of
each group's medians to truenorth's are printed."""

from __future__ import annotations

import pytest


def pytest_collect_file(file_path, parent):
    # a bench file named on the command line is already collected by pytest itself
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


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
    for group, times in sorted(groups.items()):
        base = next((t for name, t in times.items() if "truenorth" in name), None)
        if base is None:
            continue
        for name, t in sorted(times.items(), key=lambda kv: kv[1]):
            terminalreporter.write_line(f"{group:28s} {name:45s} {t:9.3f} s  x{t / base:7.1f}")
    for bench in session.benchmarks:
        if bench.extra_info:
            terminalreporter.write_line(f"{bench.name}: {bench.extra_info}")
