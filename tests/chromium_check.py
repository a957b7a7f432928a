"""Render a page in headless Chromium (Debian's ``chromium`` package): a screenshot, and a check that
every image loaded, every table is laid out and no text is cut off, computed by a script in the page.

The page is copied with a small script appended; Chromium runs it on ``load`` (``--dump-dom`` with a
virtual time budget waits for it) and writes its findings as JSON into ``<pre id="xai-check">``:

- ``images`` / ``images_ok``: ``<img>`` elements, and those decoded (``naturalWidth > 0``) and shown;
- ``tables`` / ``tables_shown``: ``<table>`` elements, and those with a non-zero box;
- ``page_overflow``: how far the page is wider than the window (0 = nothing off the right edge);
- ``cut``: elements whose content is wider (or, when their overflow is not visible, taller) than
  their box: text that would be clipped or spill over its neighbours.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"
WIDTH = 1280

_SCRIPT = """
<script>
window.addEventListener("load", () => {
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const imgs = [...document.images], tables = [...document.querySelectorAll("table")];
  const cut = [];
  for (const el of document.body.querySelectorAll("*")) {
    const cs = getComputedStyle(el);
    if (cs.display === "inline" || el.clientWidth === 0) continue;
    const wide = el.scrollWidth > el.clientWidth + 1;
    const tall = cs.overflowY !== "visible" && el.scrollHeight > el.clientHeight + 1;
    if (wide || tall) cut.push(el.tagName + ": " + (el.textContent || "").trim().slice(0, 80));
  }
  const out = {images: imgs.length, images_ok: imgs.filter(i => i.complete && i.naturalWidth > 0 && shown(i)).length,
               tables: tables.length, tables_shown: tables.filter(shown).length, cut: cut,
               page_overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
               height: document.documentElement.scrollHeight};
  const pre = document.createElement("pre");
  pre.id = "xai-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.counts = {"img": 0, "table": 0, "script": 0}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.counts:
            self.counts[tag] += 1


def count_tags(html: str) -> dict[str, int]:
    """``<img>``, ``<table>`` and ``<script>`` elements in ``html`` (parsed, not rendered)."""
    c = _Counter()
    c.feed(html)
    return c.counts


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): `make browser` (root apt-get) installs it; it "
                    "renders report.html and the trend page in this test")
    return CHROMIUM


def _chromium(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([require_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-extensions", f"--window-size={WIDTH},1000", *args],
                          capture_output=True, text=True, timeout=timeout)


def render_and_check(page: Path, name: str, tmp_path: Path) -> tuple[dict, Path]:
    """(the in-page check's findings, the screenshot) of ``page``; the screenshot is also copied to
    ``out/test-artifacts/<name>.png``."""
    html = page.read_text(encoding="utf-8")
    probe = tmp_path / f"{name}.check.html"
    probe.write_text(html.replace("</body>", _SCRIPT + "</body>", 1), encoding="utf-8")
    r = _chromium("--virtual-time-budget=15000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="xai-check">(.*?)</pre>', r.stdout, re.S)
    assert found, f"chromium printed no check result (exit {r.returncode}): {r.stderr[-2000:]}"
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                       .replace("&amp;", "&"))
    height = min(max(int(check["height"]), 600), 16000)
    shot = tmp_path / f"{name}.png"
    r = _chromium(f"--window-size={WIDTH},{height}", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 0, f"no screenshot (exit {r.returncode}): {r.stderr[-2000:]}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / f"{name}.png")
    return check, shot


def ink_share(png: Path) -> float:
    """Share of the screenshot's pixels that are not (near) white: 0 for a blank page."""
    from PIL import Image

    with Image.open(png) as im:
        grey = im.convert("L")
        hist = grey.histogram()
    return sum(hist[:240]) / max(1, sum(hist))
