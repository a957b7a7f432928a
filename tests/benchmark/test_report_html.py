"""report.html (xai_bench.ops.report_html) on a real oracle run: content, escaping, and Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest

from tests.chromium_check import count_tags, ink_share, render_and_check

HOSTILE = '<script>alert("x")</script> [/bold] {{ 7*7 }} \x07bell\x1b[31m'


def _page(run_dir):
    from xai_bench.ops.report_html import write_report_html

    path = write_report_html(run_dir)
    assert path == run_dir / "report.html"
    return path.read_text(encoding="utf-8")


def test_report_html_holds_tables_heatmaps_and_data_versions(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    html = _page(run)
    doc = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    counts = count_tags(html)
    assert counts["script"] == 0
    # one heatmap figure per prompt (2 prompts, 1 model), each a PNG data URI showing every method
    srcs = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', html)
    assert len(srcs) == counts["img"] == 2
    for src, alt in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert all(m in alt for m in ("gsmile", "lime"))
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched
    # per dataset: attribution and fidelity tables, paired comparisons; plus the data-version table
    assert counts["table"] == 4
    cell = doc["results"]["oracle:@rationale"]["paper"]["gsmile"]
    assert f">{cell['att_auroc_n']}<" in html  # the prompts column
    lo, hi = cell["att_auroc_min"], cell["att_auroc_max"]
    if lo != hi:  # 2 prompts: the range, not an interval
        assert "to" in html
    for name, sha in info["fingerprint"]["data"].items():
        assert sha in html and name in html
    assert "not run" in html  # no gate.json yet


def test_report_html_shows_the_gate_verdict(tiny_run, tmp_path):
    from xai_bench.ops.pipeline import run_gate

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    gate = run_gate(run, str(tiny_run), None)  # the run against itself: 2 prompts -> insufficient
    html = _page(run)
    assert f'class="verdict v-{gate["verdict"]}">{gate["verdict"]}<' in html
    assert "not run" not in html
    assert count_tags(html)["table"] == 5  # the insufficient rows are listed


def test_report_html_escapes_run_text(tiny_run, tmp_path):
    """A prompt, a word and a note with markup and control characters are shown as text."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    fit = sorted((run / "fit").glob("*.json"))[0]
    data = json.loads(fit.read_text(encoding="utf-8"))
    for item in data["explanations"]:
        item["explanation"]["prompt"] = HOSTILE
        item["explanation"]["tokens"][0] = "<b>bold</b>"
    fit.write_text(json.dumps(data), encoding="utf-8")
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    metrics["notes"] = [HOSTILE]
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    html = _page(run)
    assert "<script" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "\\x07bell\\x1b[31m" in html  # control characters shown as \xNN
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", html)


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_report_html_renders_in_chromium(smoke_run, tmp_path):
    """The smoke run's page in headless Chromium: every image decoded, every table laid out, no text
    wider than its box, nothing off the page; the screenshot is kept in out/test-artifacts/."""
    from xai_bench.ops.pipeline import run_gate

    run_dir, _, _ = smoke_run
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    run_gate(run, str(run_dir), None)
    html = _page(run)
    expected = count_tags(html)
    check, shot = render_and_check(run / "report.html", "report_html", tmp_path)
    assert expected["img"] == 8 and expected["table"] >= 7  # 8 prompts; 2 datasets x 3 tables + data versions
    assert check["images"] == check["images_ok"] == expected["img"], check
    assert check["tables"] == check["tables_shown"] == expected["table"], check
    assert check["cut"] == [], check["cut"]
    assert check["page_overflow"] <= 0, check
    assert ink_share(shot) > 0.02


def test_xai_bench_run_writes_report_html_beside_report_md(smoke_run):
    run_dir, doc, _ = smoke_run
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert (run_dir / "report.md").is_file()
    assert doc["run"]["run_id"] in html and count_tags(html)["img"] == 8  # one heatmap per prompt
