"""`backchain report` in a real browser: Debian's Chromium, headless, takes a screenshot of the
page of a real small run (``real_run``, tests/flows/conftest.py) and the PNG is read back with
zlib: the right size, and not blank (text, the summary's cards, the acceptance bar's green).

Chromium is required, not optional: `make test` installs it (``apt-get install -y chromium``).
``BACKCHAIN_REPORT_SHOT=path.png`` keeps a copy of the screenshot, to look at.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from ._report_run import RealRun, report_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png_rows(path: Path, rows: int) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the first ``rows`` pixel rows of an 8-bit RGB(A) PNG,
    decoded with zlib (filters undone), so the check needs nothing outside the standard library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompressobj().decompress(b"".join(idat), (stride + 1) * rows)
    out: list[bytes] = []
    prev = bytearray(stride)
    for y in range(rows):
        kind_ = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            if kind_ == 1:
                line[i] = (line[i] + a) & 255
            elif kind_ == 2:
                line[i] = (line[i] + b) & 255
            elif kind_ == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind_ == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        prev = line
    return width, height, bpp, out


def test_the_report_renders_in_a_real_browser(real_run: RealRun, tmp_path: Path) -> None:
    """Chromium draws the page: a 1280x2400 screenshot whose top shows text, the summary's
    cards and the green of the acceptance bar, not a blank page."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (Debian; `make test` installs it)")
    page = tmp_path / "report.html"
    report_html(real_run.db, "acct@1", page)
    shot = tmp_path / "report.png"
    started = time.monotonic()
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    width, height, bpp, rows = _png_rows(shot, 600)
    assert (width, height) == (1280, 2400)
    pixels = [bytes(row[x:x + 3]) for row in rows[::2] for x in range(0, len(row), bpp * 2)]
    colours = {bytes(c >> 4 for c in p) for p in pixels}
    inked = sum(1 for p in pixels if p != b"\xff\xff\xff") / len(pixels)
    assert len(colours) >= 8 and inked > 0.02, (len(colours), inked)
    green = sum(1 for p in pixels if all(abs(c - g) <= 8 for c, g in zip(p, (0x5A, 0xA4, 0x69))))
    assert green > 50, f"no acceptance bar in the top 600 px of {shot} ({time.monotonic() - started:.1f} s)"
    if os.environ.get("BACKCHAIN_REPORT_SHOT"):
        shutil.copyfile(shot, os.environ["BACKCHAIN_REPORT_SHOT"])
