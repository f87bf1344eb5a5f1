"""QA regressions (issue 9): what ``truenorth run`` writes and says — a closed pipe, a full disk,
file modes under the umask, one output layout, one document on standard output, rule errors
on standard error whatever the format, and ``--quiet``."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import truenorth
from truenorth.cli import main
from truenorth.engine.result import _as_os_error
from truenorth.io import outset
from truenorth.io.outset import read_manifest, verify

DEMO = Path(truenorth.__file__).parent / "packs" / "engine-demo.yaml"

KANO_PACK = """\
truenorth: 1
pack: k
datasets:
  survey: {path: survey.csv}
rules:
  - {id: kano, kind: kano, with: {source: survey}}
"""


def kano_pack(tmp_path: Path, bad_answer: str | None = None) -> Path:
    rows = ["respondent,feature,functional,dysfunctional"]
    rows += [f"R{i},search,I like it,I dislike it" for i in range(6)]
    if bad_answer:
        rows.append(f"R9,search,{bad_answer},I dislike it")
    (tmp_path / "survey.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "k.yaml").write_text(KANO_PACK)
    return tmp_path / "k.yaml"


def tn(*args: str, umask: int | None = None, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    return subprocess.run(
        [sys.executable, "-m", "truenorth.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
        **kw,
    )


def run(capsys, *args: str) -> tuple[int, str, str]:
    """The command in this process (fast); returns exit code, stdout, stderr."""
    code = main(["run", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def beside(out: Path) -> list[str]:
    """What a run left beside ``out``: staging folders, lock files."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# ------------------------------------------------------------------------------ broken pipe
def test_a_closed_stdout_still_publishes_the_out_folder(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "truenorth.cli", "run", str(DEMO), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # the reader is gone before the first line: every write is EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert f"wrote {out}" in err
    assert verify(out) == [] and (out / "engine-demo" / "report.json").exists()


def test_piping_into_head_prints_one_line_and_writes_the_reports(tmp_path):
    out = tmp_path / "out"
    cmd = f"{sys.executable} -m truenorth.cli run {DEMO} --out {out} | head -1; "
    proc = subprocess.run(
        ["bash", "-c", cmd + 'exit "${PIPESTATUS[0]}"'], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1 and "engine-demo" in proc.stdout
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert verify(out) == []


def test_a_closed_stdout_with_a_json_report_exits_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUENORTH_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "truenorth.cli", "run", str(DEMO), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0 and err == "", err


# ------------------------------------------------------------------------------ disk full
def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["tables", "publish"])
def test_a_full_disk_exits_2_and_publishes_nothing(tmp_path, capsys, monkeypatch, where):
    out = tmp_path / "out"
    assert run(capsys, str(DEMO), "--out", str(out))[0] == 0
    before = read_manifest(out)
    if where == "tables":  # polars writing a CSV table
        monkeypatch.setattr(pl.DataFrame, "write_csv", _enospc)
    else:  # while the manifest is built, after every report was written
        monkeypatch.setattr(outset, "_hash_and_sync", _enospc)
    code, _, err = run(capsys, str(DEMO), "--out", str(out), "--set", "high_value=1000")
    assert code == 2, err
    assert f"--out {out}" in err and "No space left on device" in err
    assert "nothing was published" in err and "wrote" not in err
    monkeypatch.undo()
    assert read_manifest(out) == before and verify(out) == []
    assert beside(out) == []  # the staging folder is gone


def test_polars_write_errors_become_os_errors_with_errno():
    frame = pl.DataFrame({"a": list(range(100_000))})
    for write in (frame.write_parquet, frame.write_csv):
        with pytest.raises((pl.exceptions.ComputeError, OSError)) as caught:
            write("/dev/full")
        converted = _as_os_error(caught.value, Path("t"))
        assert isinstance(converted, OSError) and converted.errno == errno.ENOSPC


# ------------------------------------------------------------------------------ file modes
def _modes(root: Path) -> set[tuple[str, int]]:
    return {
        ("dir" if p.is_dir() else "file", p.stat().st_mode & 0o777)
        for p in [root, *root.rglob("*")]
    }


@pytest.mark.parametrize(
    ("umask", "file", "folder"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_out_and_init_files_follow_the_umask(tmp_path, umask, file, folder):
    out = tmp_path / "out"
    proc = tn("run", str(DEMO), "--out", str(out), umask=umask)
    assert proc.returncode == 0, proc.stderr
    assert _modes(out) == {("dir", folder), ("file", file)}  # report.html included
    ws = tmp_path / "ws"
    assert tn("init", str(ws), umask=umask).returncode == 0
    assert _modes(ws) == {("dir", folder), ("file", file)}


# ------------------------------------------------------------------------------ layout
def test_one_layout_for_one_pack_or_several(tmp_path, capsys):
    kano = kano_pack(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(capsys, str(DEMO), "--out", str(one), "--format", "json")[0] == 0
    assert run(capsys, str(DEMO), str(kano), "--out", str(two), "--format", "json")[0] == 0
    assert sorted(p.name for p in one.iterdir()) == ["_manifest.json", "engine-demo"]
    assert sorted(p.name for p in two.iterdir()) == ["_manifest.json", "engine-demo", "k"]
    assert json.loads((two / "k" / "report.json").read_text())["pack"] == "k"
    manifest = read_manifest(two)
    assert [p["folder"] for p in manifest["packs"]] == ["engine-demo", "k"]
    assert [f["path"] for f in manifest["files"]] == ["engine-demo/report.json", "k/report.json"]
    text = tn("run", "--help").stdout
    assert "DIR/<pack>/report.<ext>" in text and "_manifest.json" in text


def test_an_out_folder_with_other_files_is_refused_before_running(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, stdout, err = run(capsys, str(DEMO), "--out", str(out))
    assert code == 2 and stdout == ""  # nothing ran
    assert f"--out {out}: holds files that truenorth did not write (notes.txt)" in err
    assert (out / "notes.txt").read_text() == "mine" and beside(out) == []


# ------------------------------------------------------------------------------ standard output
@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_several_packs_to_stdout_need_out_for_document_formats(tmp_path, capsys, fmt):
    kano = kano_pack(tmp_path)
    code, stdout, err = run(capsys, str(DEMO), str(kano), "--format", fmt)
    assert code == 2 and stdout == ""
    assert f"--format {fmt} without --out" in err and "2 packs (engine-demo, k)" in err
    code, stdout, _ = run(capsys, str(DEMO), str(kano))  # the console summary is fine
    assert code == 0 and "pack engine-demo" in stdout and "pack k" in stdout


# ------------------------------------------------------------------------------ errors, --quiet
def test_rule_errors_reach_stderr_whatever_the_format(tmp_path, capsys):
    pack = kano_pack(tmp_path, bad_answer="I lurve it")
    out = tmp_path / "out"
    code, stdout, err = run(capsys, str(pack), "--format", "json", "--out", str(out))
    assert code == 2 and stdout == ""
    assert "error: pack k: rule kano (" in err and "I lurve it" in err
    assert f"wrote {out} (run " in err
    code, stdout, err = run(capsys, str(pack), "--format", "json")
    assert code == 2 and json.loads(stdout)["pack"] == "k"  # stdout stays one JSON document
    assert "error: pack k: rule kano (" in err


def test_quiet_keeps_errors_and_drops_the_chatter(tmp_path, capsys):
    pack = kano_pack(tmp_path, bad_answer="I lurve it")
    out = tmp_path / "out"
    code, _, err = run(capsys, str(pack), "--format", "json", "--out", str(out), "--quiet")
    assert code == 2 and verify(out) == []
    assert "error: pack k: rule kano (" in err and "wrote" not in err
    code, _, err = run(capsys, str(DEMO), "--format", "json", "--out", str(out), "-q")
    assert code == 0 and err == ""
