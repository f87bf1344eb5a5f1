"""QA regressions (issue 9): an output set is published whole or not at all.

The protocol (truenorth.io.outset) is exercised in-process: a child process is killed
(``os._exit``, no clean-up runs, like ``kill -9``) before and after every step of a publish, and
the target must then hold exactly one complete set; the next writer cleans up what it left.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from truenorth.errors import OutputError
from truenorth.io import outset
from truenorth.io.lock import lock_beside
from truenorth.io.outset import MANIFEST, OutputSet, read_manifest, verify


def publish(target: Path, files: dict[str, str], meta: dict | None = None) -> dict:
    with OutputSet.open(target) as out:
        for rel, text in files.items():
            (out.staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (out.staging / rel).write_text(text)
        return out.publish(meta or {"tag": files.get("tag", "")})


def contents(target: Path) -> dict[str, str]:
    return {
        p.relative_to(target).as_posix(): p.read_text()
        for p in sorted(target.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


OLD = {"p/report.json": "old", "p/old-only.csv": "1", "tag": "old"}
NEW = {"p/report.json": "new", "p/customers.csv": "2\n" * 1000, "tag": "new"}


def test_publish_lists_every_file_with_its_checksum(tmp_path):
    target = tmp_path / "out"
    manifest = publish(target, NEW, {"packs": ["p"]})
    assert read_manifest(target) == manifest and manifest["packs"] == ["p"]
    assert [f["path"] for f in manifest["files"]] == ["p/customers.csv", "p/report.json", "tag"]
    assert manifest["files"][0]["bytes"] == 2000
    assert verify(target) == []
    (target / "p" / "report.json").write_text("tampered")
    assert verify(target) == ["changed: p/report.json"]


def test_a_new_set_replaces_the_old_one_whole(tmp_path):
    target = tmp_path / "out"
    first = publish(target, OLD)
    second = publish(target, NEW)
    assert contents(target) == NEW  # old-only.csv is gone: no file of the old run survives
    assert first["run_id"] != second["run_id"] == read_manifest(target)["run_id"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging, no lock file


def test_an_unpublished_set_leaves_the_target_untouched(tmp_path):
    target = tmp_path / "out"
    publish(target, OLD)
    with pytest.raises(KeyboardInterrupt), OutputSet.open(target) as out:
        (out.staging / "half.csv").write_text("x")
        raise KeyboardInterrupt
    assert contents(target) == OLD and verify(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _fallback(monkeypatch) -> None:
    """No RENAME_EXCHANGE (other systems, some filesystems): the two-rename fallback."""
    monkeypatch.setattr(outset, "_exchange", lambda a, b: False)


def test_the_fallback_swap_also_replaces_the_set(tmp_path, monkeypatch):
    _fallback(monkeypatch)
    target = tmp_path / "out"
    publish(target, OLD)
    publish(target, NEW)
    assert contents(target) == NEW and verify(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# Every function of a publish that touches the disk, per swap mode (the fallback never calls
# _exchange successfully; the exchange never needs _rename when the target exists).
CRASH_POINTS = [
    ("exchange", "_hash_and_sync"),
    ("exchange", "_fsync_dir"),
    ("exchange", "_exchange"),
    ("exchange", "_remove_tree"),
    ("fallback", "_hash_and_sync"),
    ("fallback", "_fsync_dir"),
    ("fallback", "_rename"),
    ("fallback", "_remove_tree"),
]


def _crash_child(target: Path, step: str, nth: int, when: str, fallback: bool) -> int:
    """Publish NEW over ``target`` in a child that dies (os._exit: no clean-up, like kill -9)
    around the nth call of ``step``; returns how many calls of ``step`` the child made."""
    counter = target.parent / "calls"
    counter.write_text("0")
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            if fallback:
                outset._exchange = lambda a, b: False
            real = getattr(outset, step)
            calls = [0]

            def wrapped(*args, **kwargs):
                calls[0] += 1
                counter.write_text(str(calls[0]))
                if calls[0] == nth and when == "before":
                    os._exit(9)
                out = real(*args, **kwargs)
                if calls[0] == nth and when == "after":
                    os._exit(9)
                return out

            setattr(outset, step, wrapped)
            publish(target, NEW)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    calls = int(counter.read_text())
    counter.unlink()
    return calls


def _fresh_old_set(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    publish(target, OLD)


@pytest.mark.parametrize(("mode", "step"), CRASH_POINTS)
def test_a_crash_at_any_step_leaves_one_complete_set(tmp_path, mode, step):
    target = tmp_path / "out"
    fallback = mode == "fallback"
    _fresh_old_set(target)
    total = _crash_child(target, step, 0, "never", fallback)  # a whole publish: count the calls
    assert total >= 1 and contents(target) == NEW
    seen = []
    for nth in range(1, total + 1):
        for when in ("before", "after"):
            _fresh_old_set(target)
            _crash_child(target, step, nth, when, fallback)
            # A reader at this instant sees the old set or the new one, complete, never a mix.
            # With the fallback the folder may be missing (killed between its two renames).
            if target.exists():
                assert verify(target) == [], (nth, when)
                state = contents(target)
                assert state in (OLD, NEW), (nth, when, state)
                seen.append("new" if state == NEW else "old")
            else:
                assert fallback and step == "_rename", (nth, when)
                seen.append("missing")
            # The next writer recovers from whatever the crash left, and publishes cleanly.
            with OutputSet.open(target) as out:
                if seen[-1] == "missing":
                    assert contents(target) == OLD  # put back before anything else
                (out.staging / "tag").write_text("third")
                out.publish()
            assert contents(target) == {"tag": "third"} and verify(target) == []
            assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], (nth, when)
    assert len(seen) == 2 * total
    if step == "_remove_tree":  # the set was already swapped in
        assert set(seen) == {"new"}
    if step == "_hash_and_sync":  # still building the manifest
        assert set(seen) == {"old"}


def test_recovery_puts_back_the_old_set_after_a_crash_between_the_two_renames(tmp_path):
    target = tmp_path / "out"
    publish(target, OLD)
    os.rename(target, tmp_path / ".out.old-20261206T000000Z-1-abcdef")
    (tmp_path / ".out.staging-20261206T000000Z-1-abcdef").mkdir()
    with OutputSet.open(target) as out:
        assert contents(target) == OLD and verify(target) == []
        assert {p.name for p in tmp_path.iterdir()} == {"out", out.staging.name, ".out.lock"}


def test_a_second_writer_fails_at_once_naming_the_first(tmp_path):
    target = tmp_path / "out"
    publish(target, OLD)
    with OutputSet.open(target):
        with pytest.raises(OutputError, match=rf"another truenorth run \(pid {os.getpid()} on "):
            OutputSet.open(target)
    with lock_beside(target):  # the lock alone (as another process would hold it)
        with pytest.raises(OutputError, match="wait for it to finish or give another folder"):
            OutputSet.open(target)
    assert contents(target) == OLD
    publish(target, NEW)  # released: the next writer goes through


def test_files_truenorth_did_not_write_are_never_replaced(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(
        OutputError, match=r"holds files that truenorth did not write \(notes.txt\)"
    ):
        OutputSet.open(target)
    assert (target / "notes.txt").read_text() == "mine"

    other = tmp_path / "other"
    publish(other, OLD)
    with OutputSet.open(other) as out:
        (other / "p" / "added-meanwhile.txt").write_text("mine too")
        (out.staging / "x").write_text("new")
        with pytest.raises(OutputError, match=r"added-meanwhile\.txt"):
            out.publish()
    assert (other / "p" / "added-meanwhile.txt").read_text() == "mine too"
    assert not out.staging.exists()


def test_an_empty_folder_and_temp_files_of_killed_writers_are_fine(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    publish(target, OLD)
    (target / "p" / ".customers.csv.3f2a1b.tmp").write_bytes(b"x" * 1000)  # an old killed run
    publish(target, NEW)
    assert contents(target) == NEW and verify(target) == []


def test_a_folder_that_cannot_be_an_output_set_is_refused_up_front(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        OutputSet.open(afile)
    with pytest.raises(OutputError, match="is a mount point"):
        OutputSet.open("/")
    assert afile.read_text() == "keep"


def test_a_symlinked_output_folder_is_replaced_where_it_points(tmp_path):
    real = tmp_path / "real"
    publish(real, OLD)
    link = tmp_path / "link"
    link.symlink_to(real)
    publish(link, NEW)
    assert link.is_symlink() and contents(link) == NEW == contents(real)


def test_disk_full_while_publishing_publishes_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out"
    publish(target, OLD)

    def full(path, *, sync=True):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(outset, "_hash_and_sync", full)
    with pytest.raises(OutputError, match=r"No space left on device.*nothing was published"):
        publish(target, NEW)
    monkeypatch.undo()
    assert contents(target) == OLD and verify(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staging_folder_and_manifest_follow_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        publish(tmp_path / "out", NEW)
    finally:
        os.umask(old)
    modes = {
        p.name: p.stat().st_mode & 0o777 for p in [tmp_path / "out", *(tmp_path / "out").rglob("*")]
    }
    assert modes["out"] == modes["p"] == 0o700
    assert modes[MANIFEST] == 0o600
    json.loads((tmp_path / "out" / MANIFEST).read_text())


def test_recovery_leaves_other_targets_staging_alone(tmp_path):
    # ".out.staging-x" is the staging folder of "out"; the target "out.staging-x" has its own
    # (".out.staging-x.staging-<id>"), which a run into "out" must not take for a leftover.
    neighbour = tmp_path / "out.staging-x"
    with OutputSet.open(neighbour) as other:
        (other.staging / "f").write_text("busy")
        publish(tmp_path / "out", NEW)
        assert (other.staging / "f").read_text() == "busy"
    with pytest.raises(ValueError, match="run id"):
        OutputSet.open(tmp_path / "out", run_id="a.b")
