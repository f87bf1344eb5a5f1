"""The HTML report in a real headless browser (Debian's chromium): no console errors, real pixels.

Chromium logs every console message (errors, CSP violations, failed loads) to stderr as
``...:INFO:CONSOLE:...`` lines with ``--enable-logging=stderr``. The report has no scripts and a
CSP that blocks every fetch, so *any* console line is a failure. A negative control checks the
detector really sees errors, so a silent browser cannot make the test pass vacuously.

CI installs the browser with ``apt-get install -y chromium``.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from test_html_report import full_result  # same folder (pytest prepend import mode)

from truenorth.builtins import html as html_reporter

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (CI: apt-get install -y chromium)")
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and raw RGB(A) rows of an 8-bit, non-interlaced PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if ctype == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, (depth, interlace)
            channels = {2: 3, 6: 4}[colour]
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, channels)]  # type: ignore[return-value]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    html_reporter.write(full_result(), path)
    return path


def test_detector_sees_console_errors(tmp_path):
    """Negative control: a page with a script error and a blocked fetch is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>"
    )
    out = _chromium(tmp_path, bad, "--dump-dom")
    assert any("undefinedFunction" in line for line in console_lines(out.stderr)), out.stderr


def test_report_renders_without_console_errors(report, tmp_path):
    out = _chromium(tmp_path, report, "--dump-dom")
    assert out.returncode == 0, out.stderr
    assert console_lines(out.stderr) == []
    dom = out.stdout
    # The browser parsed every chart: the DOM holds the SVGs and the findings table.
    assert len(re.findall(r"<svg\b", dom)) >= 11
    assert "KPIs against thresholds" in dom and "<h2>Findings</h2>" in dom
    assert "<script" not in dom.lower()


def test_screenshot_shows_the_charts(report, tmp_path):
    shot = tmp_path / "report.png"
    out = _chromium(tmp_path, report, "--window-size=1024,1400", f"--screenshot={shot}")
    assert shot.exists(), out.stderr
    assert console_lines(out.stderr) == []
    width, height, pixels = decode_png(shot.read_bytes())
    assert (width, height) == (1024, 1400)
    colours = set(pixels)
    non_white = sum(1 for p in pixels if p != b"\xff\xff\xff") / len(pixels)
    # A blank or unstyled page has a handful of colours and little ink; charts have many.
    assert len(colours) > 200, len(colours)
    assert non_white > 0.08, non_white
    # The bar colour of the charts and the Kano must-be red are on screen.
    assert b"\x3b\x6e\xa8" in colours
    assert b"\xc4\x47\x3d" in colours


def test_report_of_the_bundled_review_renders_cleanly(tmp_path):
    """The real thing: the whole bundled pack on the bundled data, rendered by the browser."""
    import truenorth

    packs = Path(truenorth.__file__).parent / "packs"
    files = [packs / f"{d}.yaml" for d in ("clv", "kano", "journey", "kpi", "canvas", "maturity")]
    result = truenorth.Engine.load(files).run()
    assert result.errors == []
    page = tmp_path / "review.html"
    html_reporter.write(result, page)
    out = _chromium(tmp_path, page, "--dump-dom")
    assert out.returncode == 0, out.stderr
    assert console_lines(out.stderr) == []
    assert len(re.findall(r"<svg\b", out.stdout)) >= 14
    assert "Mean P(alive) by frequency and recency" in out.stdout
