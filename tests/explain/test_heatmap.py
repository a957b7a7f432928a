"""Tests for xai_bench.explain.heatmap: the HTML page and the PNG figure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xai_bench.explain.explanation import Explanation
from xai_bench.explain.heatmap import render_html, render_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make(
    tokens: list[str], attributions: list[float], *, method: str = "gsmile", response: str = "Paris."
) -> Explanation:
    return Explanation(
        method=method,
        model="toy-model",
        prompt=" ".join(tokens),
        tokens=tokens,
        attributions=attributions,
        intercept=0.0,
        original_response=response,
    )


WORDS = ["alpha", "bravo", "charlie", "delta", "echo"]
SCORES = [0.412, -0.25, 0.0, 0.031, -1.0]


def word_styles(page: str) -> list[str]:
    return re.findall(r'<span class="word" style="([^"]*)"', page)


# --- HTML -------------------------------------------------------------------------------


def test_html_tokens_in_order_and_scores_formatted(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "heat.html"
    page = render_html([make(WORDS, SCORES)], out, title="Capital question")
    assert out.read_text(encoding="utf-8") == page
    firsts = [page.index(w) for w in WORDS]
    assert firsts == sorted(firsts)
    for s in ["+0.412", "-0.250", "0.000", "+0.031", "-1.000"]:
        assert s in page
    assert "Capital question" in page and "toy-model" in page and "Paris." in page
    assert page.startswith("<!DOCTYPE html>")


def test_html_repeated_tokens_each_get_a_box() -> None:
    page = render_html([make(["the", "cat", "the"], [0.1, 0.2, 0.3])])
    assert len(word_styles(page)) == 3
    assert re.findall(r'<span class="tok">([^<]*)</span>', page) == ["the", "cat", "the"]


def test_html_escapes_user_strings() -> None:
    e = make(["<script>alert(1)</script>", "x&y"], [0.5, -0.5], method="<b>m</b>", response='<script>"hi"</script>')
    page = render_html([e], title="<i>t</i>")
    assert "<script>" not in page and "<b>m</b>" not in page and "<i>t</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;&quot;hi&quot;&lt;/script&gt;" in page
    assert "x&amp;y" in page


def test_html_is_self_contained() -> None:
    page = render_html([make(WORDS, SCORES, method=m) for m in ("gsmile", "lime", "baylime")])
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "src=" not in page
    assert page.count('<section class="explanation">') == 3


def test_html_positive_and_negative_differ_and_zero_is_light() -> None:
    styles = word_styles(render_html([make(["up", "down", "flat"], [0.7, -0.7, 0.0])]))
    assert len(set(styles)) == 3
    up, down, flat = (re.search(r"background:#([0-9a-f]{6})", s).group(1) for s in styles)  # type: ignore[union-attr]
    r_up, b_up = int(up[:2], 16), int(up[4:], 16)
    r_down, b_down = int(down[:2], 16), int(down[4:], 16)
    assert r_up > b_up and b_down > r_down  # red for positive, blue for negative
    assert all(int(flat[i : i + 2], 16) > 0xE0 for i in (0, 2, 4))  # near-white for zero


def test_html_all_zero_attributions() -> None:
    page = render_html([make(WORDS, [0.0] * len(WORDS))])
    assert "nan" not in page.lower()
    assert len(set(word_styles(page))) == 1
    assert page.count("0.000") >= len(WORDS)


def test_html_empty_list_rejected() -> None:
    with pytest.raises(ValueError, match="at least one"):
        render_html([])


# --- PNG --------------------------------------------------------------------------------


def check_png(path: Path, min_bytes: int = 3000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes


def test_png_single_word(tmp_path: Path) -> None:
    out = render_png([make(["Hello"], [0.3])], tmp_path / "one.png")
    assert out == tmp_path / "one.png"
    check_png(out)


def test_png_sixty_words_three_methods(tmp_path: Path) -> None:
    words = [f"word{i}" for i in range(60)]
    scores = [((i * 37) % 21 - 10) / 10 for i in range(60)]
    methods = ((1.0, "gsmile"), (0.5, "lime"), (-0.2, "baylime"))
    exps = [make(words, [s * k for s in scores], method=m) for k, m in methods]
    out = render_png(exps, tmp_path / "nested" / "sixty.png", title="Sixty words", dpi=80)
    check_png(out, min_bytes=10_000)


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # no CJK font on minimal systems
def test_png_edge_cases(tmp_path: Path) -> None:
    tokens = ["x" * 300, "café", "naïve", "привет", "Ωμέγα", "costs $5", "$x$", "50%", "日本"]
    exps = [make(tokens, [0.0] * len(tokens), response="long " * 200), make([], [], method="lime")]
    check_png(render_png(exps, tmp_path / "edge.png"))


def test_png_rejects_bad_dpi(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dpi"):
        render_png([make(["a"], [1.0])], tmp_path / "x.png", dpi=0)


def test_html_control_characters_are_visibly_escaped() -> None:
    """Issue 12, item 1: raw C0/C1 control bytes of a prompt must not reach the page; tab/newline stay."""
    e = make(["a\x1b[31mred", "b\x00c\x7f", "d\x9be", "tab\there"], [0.5, -0.5, 0.1, 0.2],
             response="x\x07y\nz")
    page = render_html([e], title="t\x1bitle <b>")
    assert not any(ord(ch) < 0x20 and ch not in "\t\n" or 0x7F <= ord(ch) <= 0x9F for ch in page)
    assert "a\\x1b[31mred" in page and "b\\x00c\\x7f" in page and "d\\x9be" in page
    assert "tab\there" in page and "x\\x07y\nz" in page
    assert "t\\x1bitle &lt;b&gt;" in page


def test_heatmap_figure_is_returned_for_notebooks(tmp_path: Path) -> None:
    """heatmap_figure gives the figure render_png saves: one word box per token, the title, and
    the same PNG bytes when saved; a notebook shows the returned Figure inline."""
    from matplotlib.figure import Figure

    from xai_bench.explain.heatmap import heatmap_figure

    words = ["What", "is", "life"]
    exps = [make(words, [0.1, -0.2, 0.9]), make(words, [0.3, 0.0, 0.5], method="lime")]
    fig = heatmap_figure(exps, title="Inline", dpi=80)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "Inline" in texts
    assert texts.count("life") == 2 and texts.count("What") == 2  # one box per token and method
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    fig.savefig(a, format="png", dpi=80)
    render_png(exps, b, title="Inline", dpi=80)
    assert a.read_bytes() == b.read_bytes()
