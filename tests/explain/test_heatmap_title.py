"""The PNG heatmap's title for long prompts (issue 14: it was cut off at the figure's right edge)."""

from __future__ import annotations

from xai_bench.explain.explanation import Explanation
from xai_bench.explain.heatmap import heatmap_figure


def make(tokens: list[str]) -> Explanation:
    return Explanation(method="gsmile", model="toy-model", prompt=" ".join(tokens), tokens=tokens,
                       attributions=[(-1) ** i * (i + 1) / len(tokens) for i in range(len(tokens))], intercept=0.0,
                       original_response="ok")


def title_texts(fig) -> list:
    """The text artists of the title: the bold 13 pt lines at the top."""
    ax = fig.axes[0]
    return [t for t in ax.texts if t.get_fontsize() == 13 and t.get_fontweight() == "bold"]


def inside(fig, text) -> bool:
    renderer = fig.canvas.get_renderer()
    box = text.get_window_extent(renderer)
    return box.x0 >= 0 and box.x1 <= fig.bbox.width


def test_short_title_is_one_line_as_given():
    fig = heatmap_figure([make("What is the meaning of life ?".split())], title="toy-model: What is the meaning")
    (t,) = title_texts(fig)
    assert t.get_text() == "toy-model: What is the meaning"


def test_long_title_wraps_then_ends_with_the_count_of_words_left_out():
    words = [f"word{i:03d}" for i in range(120)]
    title = "toy-model: " + " ".join(words)
    fig = heatmap_figure([make(words[:12])], title=title)
    fig.canvas.draw()
    lines = title_texts(fig)
    assert len(lines) == 2
    assert all(inside(fig, t) for t in lines)
    first, second = (t.get_text() for t in lines)
    assert first.startswith("toy-model: word000 word001")
    head, marker = second.rsplit(" … (+", 1)
    assert marker.endswith(" more words)")
    shown = (first + " " + head).split()
    assert shown == title.split()[: len(shown)]  # whole words, in order, none dropped in between
    assert int(marker.split()[0]) == len(title.split()) - len(shown)  # the count is exact
    # the rows start below the title: nothing overlaps its second line
    y_title = lines[1].get_window_extent().y0
    others = [t for t in fig.axes[0].texts if t not in lines]
    assert all(t.get_window_extent().y1 <= y_title + 1 for t in others)


def test_a_title_that_fits_in_two_lines_is_not_shortened():
    words = [f"w{i}" for i in range(40)]
    title = " ".join(words)
    fig = heatmap_figure([make(words[:5])], title=title)
    fig.canvas.draw()
    lines = title_texts(fig)
    assert len(lines) == 2 and all(inside(fig, t) for t in lines)
    assert " ".join(t.get_text() for t in lines) == title and "…" not in title
