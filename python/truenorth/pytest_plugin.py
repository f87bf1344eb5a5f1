"""A pytest plugin: the test cases inside rule packs as pytest items.

``pytest rules/`` collects every pack file under ``rules/`` that has a ``tests:`` section and
runs each case as one item (``rules/kpi.yaml::kpi: lowering nps_warn ...``), so ``-k``
selection, ``-x``, ``--lf``, JUnit XML and the rest of pytest apply to pack tests, next to a
plugin's own Python tests. A failing case shows what was expected and what the run produced.

Which YAML files are collected: files (or folders) named on the command line, and — when the
ini option ``truenorth_packs = true`` is set — packs under the configured ``testpaths``. Other
YAML files (CI configs, fixtures) are never read as packs: only files whose top level holds
``truenorth:`` and ``tests:`` are collected. Registered through the ``pytest11`` entry point,
so installing truenorth is enough; ``-p no:truenorth`` turns it off.

A pack spread over several files (files of one folder sharing ``pack:``) is loaded once, and
each file's cases are collected under that file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "truenorth_packs",
        "collect the test cases of truenorth packs under testpaths (not only under paths "
        "named on the command line)",
        type="bool",
        default=False,
    )


def _named_on_command_line(path: Path, config: pytest.Config) -> bool:
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False
    path = path.resolve()
    for arg in config.args:
        target = Path(arg.split("::")[0]).resolve()
        if path == target or target in path.parents:
            return True
    return False


def _head(path: Path) -> dict[str, Any] | None:
    """The top level of a YAML file when it is a truenorth pack, else None (never raises)."""
    try:
        with path.open("rb") as fh:
            doc = yaml.safe_load(fh.read(1 << 20))
    except (OSError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, dict) and "truenorth" in doc else None


def _has_pack_tests(path: Path) -> bool:
    doc = _head(path)
    return doc is not None and bool(doc.get("tests"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    config = parent.config
    wanted = _named_on_command_line(file_path, config) or config.getini("truenorth_packs")
    if not wanted or not _has_pack_tests(file_path):
        return None
    return PackFile.from_parent(parent, path=file_path)


class PackTestFailure(Exception):
    """A pack test case failed: its failure lines."""

    def __init__(self, name: str, failures: list[str]):
        super().__init__(name)
        self.failures = failures


_ENGINES: dict[tuple[Path, ...], Any] = {}


def _engine_of(path: Path) -> Any:
    """The engine of the pack ``path`` belongs to: the YAML files of its folder that declare
    the same ``pack:`` (loaded once per session)."""
    from truenorth import Engine

    name = (_head(path) or {}).get("pack")
    files = tuple(
        sorted(
            f.resolve()
            for f in path.parent.iterdir()
            if f.suffix in (".yaml", ".yml") and (_head(f) or {}).get("pack") == name
        )
    )
    if files not in _ENGINES:
        _ENGINES[files] = Engine.load(list(files))
    return _ENGINES[files]


class PackFile(pytest.File):
    """A pack file: one item per test case written in it."""

    def collect(self) -> Iterator[pytest.Item]:
        from truenorth import PackError

        try:
            engine = _engine_of(self.path)
        except PackError as exc:
            raise self.CollectError(f"the pack does not load:\n{exc}") from None
        mine = str(self.path.resolve())
        for case, doc, path, _base in engine.pack.tests:
            loc = doc.loc(path)
            if str(Path(loc.file).resolve()) == mine:
                yield PackTestItem.from_parent(self, name=case.name, engine=engine, line=loc.line)


class PackTestItem(pytest.Item):
    """One test case of a pack, run through the pack's engine."""

    def __init__(self, *, engine: Any, line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.line = line

    def runtest(self) -> None:
        (outcome,) = self.engine.run_tests(names=[self.name])
        if not outcome.passed:
            raise PackTestFailure(self.name, list(outcome.failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PackTestFailure):
            lines = [f"pack test {self.name!r} ({self.path}:{self.line}) failed:"]
            lines += [f"  - {f}" for f in excinfo.value.failures]
            return "\n".join(lines)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, f"pack test: {self.name}"
