"""Word heatmaps of explanations: a self-contained HTML page and a PNG figure.

Each explanation becomes one row: the prompt's words in order, each in a box coloured on
a diverging scale (blue = negative, white = 0, red = positive, the matplotlib ``RdBu_r``
colours) with its signed score beside it. The scale is symmetric around 0 and normalised
per explanation by its largest ``|attribution|``, so rows of different methods (gSMILE,
LIME, Bay-LIME) of the same prompt can be compared by pattern while the printed scores
keep the absolute values. By the sign convention of :mod:`xai_bench.explain.explanation`, red
means a more important word.

The HTML page uses inline CSS only (no scripts, no network). matplotlib is imported only
inside :func:`render_png`, so importing this module stays cheap.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..secrets import redact_known
from .explanation import Explanation

__all__ = ["heatmap_figure", "render_html", "render_png"]

# ColorBrewer RdBu reversed: the stops matplotlib builds "RdBu_r" from, so HTML and PNG agree.
_RDBU_R = (
    (0x05, 0x30, 0x61), (0x21, 0x66, 0xAC), (0x43, 0x93, 0xC3), (0x92, 0xC5, 0xDE),
    (0xD1, 0xE5, 0xF0), (0xF7, 0xF7, 0xF7), (0xFD, 0xDB, 0xC7), (0xF4, 0xA5, 0x82),
    (0xD6, 0x60, 0x4D), (0xB2, 0x18, 0x2B), (0x67, 0x00, 0x1F),
)  # fmt: skip
_DEFAULT_TITLE = "Token attributions"
_CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _esc(text: str) -> str:
    """HTML-escaped ``text`` with every C0/C1 control character except tab and newline shown as ``\\xNN``."""
    return html.escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text)))


def _check(explanations: Sequence[Explanation]) -> None:
    if len(explanations) == 0:
        raise ValueError("Expected at least one Explanation to render, got 0. Pass e.g. [expl_gsmile, expl_lime].")
    for i, e in enumerate(explanations):
        if not isinstance(e, Explanation):
            raise TypeError(f"explanations[{i}] must be an Explanation, got {type(e).__name__}.")


def _scale(attributions: Sequence[float]) -> float:
    """Largest |attribution|, or 1.0 when all are zero (avoids dividing by zero)."""
    m = max((abs(a) for a in attributions), default=0.0)
    return m if m > 0 else 1.0


def _format_score(a: float) -> str:
    """Signed, readable score: ``+0.412``, ``-0.031``, ``0.000``, ``+2.0e-05`` for tiny values."""
    if a == 0:
        return "0.000"
    if abs(a) < 5e-4 or abs(a) >= 1e4:
        return f"{a:+.1e}"
    return f"{a:+.3f}"


def _rgb(value: float) -> tuple[float, float, float]:
    """Colour (0-1 floats) of a normalised value in [-1, 1], interpolated on the RdBu_r stops."""
    t = (min(1.0, max(-1.0, value)) + 1.0) / 2.0 * (len(_RDBU_R) - 1)
    i = min(int(t), len(_RDBU_R) - 2)
    f = t - i
    lo, hi = _RDBU_R[i], _RDBU_R[i + 1]
    return tuple((lo[k] + (hi[k] - lo[k]) * f) / 255.0 for k in range(3))  # type: ignore[return-value]


def _text_colour(rgb: Sequence[float]) -> str:
    """Black or white, whichever contrasts better with ``rgb`` (relative luminance, WCAG)."""
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if lum > 0.179 else "#ffffff"


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb[:3])


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .5em}
.legend{display:flex;align-items:center;gap:.6em;font-size:.85em;margin-bottom:1em}
.bar{width:240px;height:14px;border:1px solid #999;background:linear-gradient(to right,%s)}
section{border-top:1px solid #ccc;padding:.6em 0 .8em}
h2{font-size:1.1em;margin:0 0 .3em}
h2 .model{font-weight:normal;color:#555;font-size:.9em;margin-left:.6em}
.response,.scale{margin:.15em 0;font-size:.85em;color:#444}
.response span{white-space:pre-wrap}
.words{display:flex;flex-wrap:wrap;gap:4px;margin-top:.5em}
.word{display:inline-flex;flex-direction:column;align-items:center;padding:3px 6px;border:1px solid #bbb;
border-radius:4px;max-width:100%%;box-sizing:border-box}
.tok{font-size:1em;overflow-wrap:anywhere;white-space:pre-wrap}
.score{font-size:.72em;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;opacity:.9}
.empty{color:#777;font-style:italic}
"""


def _html_section(e: Explanation) -> str:
    esc = _esc
    scale = _scale(e.attributions)
    boxes = []
    for pos, (tok, a) in enumerate(zip(e.tokens, e.attributions)):
        rgb = _rgb(a / scale)
        score = _format_score(a)
        boxes.append(
            f'<span class="word" style="background:{_hex(rgb)};color:{_text_colour(rgb)}" '
            f'title="word {pos}: {esc(score)}"><span class="tok">{esc(tok)}</span>'
            f'<span class="score">{esc(score)}</span></span>'
        )
    words = "".join(boxes) if boxes else '<span class="empty">(no words)</span>'
    max_abs = max((abs(a) for a in e.attributions), default=0.0)
    return (
        f'<section class="explanation">\n<h2><span class="method">{esc(e.method)}</span>'
        f'<span class="model">model: {esc(e.model)}</span></h2>\n'
        f'<p class="response">Response: <span>{esc(e.original_response)}</span></p>\n'
        f'<p class="scale">{len(e.tokens)} words; colour scale &plusmn;max |attribution| = '
        f'{esc(_format_score(max_abs).lstrip("+"))}</p>\n'
        f'<div class="words">{words}</div>\n</section>'
    )


def render_html(
    explanations: Sequence[Explanation], path: str | Path | None = None, *, title: str | None = None
) -> str:
    """Render explanations as one self-contained HTML page, one section per explanation.

    Every word of the prompt is shown in order in a box coloured by its attribution
    (blue negative, white 0, red positive; normalised per explanation by max |attribution|)
    with its signed score below. All user text is HTML-escaped (control characters other than
    tab and newline shown as ``\\xNN``); the page has inline CSS only.

    Args:
        explanations: One or more explanations, typically several methods on the same prompt.
        path: If given, the page is also written there (UTF-8; parent folders are created).
        title: Page heading; defaults to "Token attributions".

    Returns:
        The HTML document as a string.
    """
    _check(explanations)
    esc = _esc
    heading = esc(title if title is not None else _DEFAULT_TITLE)
    gradient = ",".join(_hex([c / 255 for c in stop]) for stop in _RDBU_R)
    legend = (
        '<div class="legend"><span>negative (&minus;max)</span><span class="bar"></span>'
        "<span>positive (+max)</span><span>&nbsp;white = 0; red = more important word; "
        "each row is scaled by its own max |attribution|</span></div>"
    )
    sections = "\n".join(_html_section(e) for e in explanations)
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n<style>{_CSS % gradient}</style>\n</head>\n<body>\n"
        f"<h1>{heading}</h1>\n{legend}\n{sections}\n</body>\n</html>\n"
    )
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(redact_known(page), encoding="utf-8")  # known credentials: xai_bench.secrets
    return page


def _fit(text: str, max_pt: float, measure: Any) -> str:
    """``text`` shortened with an ellipsis until ``measure(text)`` (points) fits ``max_pt``."""
    if measure(text) <= max_pt:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits together with the ellipsis
        mid = (lo + hi + 1) // 2
        if measure(text[:mid] + "…") <= max_pt:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _wrap_title(title: str, max_pt: float, measure: Any, max_lines: int = 2) -> list[str]:
    """``title`` wrapped at spaces onto at most ``max_lines`` lines that ``measure`` (points) fits in
    ``max_pt``. When words are left over, the last line ends in an ellipsis and how many words it
    leaves out (``... … (+23 more words)``), so a long prompt is visibly shortened, never cut mid-air."""
    words = title.split()
    if not words:
        return [""]
    lines: list[list[str]] = []
    i = 0
    while i < len(words) and len(lines) < max_lines:
        cur = [words[i]]
        i += 1
        while i < len(words) and measure(" ".join([*cur, words[i]])) <= max_pt:
            cur.append(words[i])
            i += 1
        lines.append(cur)
    shown = [_fit(" ".join(line), max_pt, measure) for line in lines]  # a single word wider than a line
    if i == len(words):
        return shown
    last = lines[-1]
    while True:
        marker = f" … (+{len(words) - i} more words)"
        if len(last) == 1 or measure(" ".join(last) + marker) <= max_pt:
            break
        last.pop()
        i -= 1
    marker = f" … (+{len(words) - i} more words)"
    head = _fit(" ".join(last), max(max_pt - measure(marker), max_pt / 4), measure)
    return [*shown[:-1], head + (marker[2:] if head.endswith("…") else marker)]


def render_png(
    explanations: Sequence[Explanation], path: str | Path, *, title: str | None = None, dpi: int = 120
) -> Path:
    """Write :func:`heatmap_figure` to a PNG file (parent folders are created); returns the path."""
    fig = heatmap_figure(explanations, title=title, dpi=dpi)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=dpi)
    return out


def heatmap_figure(explanations: Sequence[Explanation], *, title: str | None = None, dpi: int = 120) -> Any:
    """Draw the same heatmap as :func:`render_html` as a matplotlib ``Figure`` (Agg, no pyplot),
    for a notebook to show inline or a caller to save in any format.

    One row per explanation: a header with the method, model and (shortened) response,
    then the words left to right, wrapped onto several lines, each in a box coloured with
    ``RdBu_r`` under a ``CenteredNorm`` at 0 scaled by that row's max |attribution|, with the
    signed score in small text below. A shared colorbar shows the relative scale.
    Words too wide for a line are shortened with an ellipsis; ``$`` is drawn literally. A long
    title (the prompt) wraps onto two lines and then ends in "… (+N more words)".

    Args:
        explanations: One or more explanations.
        title: Figure title; defaults to "Token attributions".
        dpi: Resolution of the figure.

    Returns:
        The ``matplotlib.figure.Figure``.
    """
    _check(explanations)
    if dpi <= 0:
        raise ValueError(f"The 'dpi' parameter must be an int in the range (0, inf). Got {dpi!r} instead.")
    from matplotlib import colormaps, font_manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import CenteredNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = ["DejaVu Sans", *(f for f in _CJK_FONTS if f in installed)]
    word_fp = font_manager.FontProperties(family=family, size=11)
    score_fp = font_manager.FontProperties(family=family, size=7.5)
    head_fp = font_manager.FontProperties(family=family, size=9.5)
    bold_fp = font_manager.FontProperties(family=family, size=10, weight="bold")
    title_fp = font_manager.FontProperties(family=family, size=13, weight="bold")

    fig = Figure(dpi=dpi)
    renderer = FigureCanvasAgg(fig).get_renderer()

    def measure(text: str, fp: Any = word_fp) -> float:  # width in points
        return renderer.get_text_width_height_descent(text, fp, ismath=False)[0] * 72.0 / dpi

    # Layout in points; y grows downwards from the top of the figure.
    width, margin, pad, gap = 900.0, 18.0, 5.0, 5.0
    box_h, score_h, line_h = 18.0, 11.0, 36.0
    usable = width - 2 * margin
    cmap = colormaps["RdBu_r"]
    items: list[tuple[str, Any]] = []  # ("box", (x, y, w, text, score, value, norm)) or ("head", (x, y, text, font))
    title_lines = _wrap_title(title if title is not None else _DEFAULT_TITLE, usable,
                              lambda s: measure(s, title_fp))
    title_h = 17.0
    y = 34.0 + title_h * (len(title_lines) - 1)  # below the title
    for e in explanations:
        norm = CenteredNorm(vcenter=0.0, halfrange=_scale(e.attributions))
        response = " ".join(e.original_response.split())
        method = _fit(e.method, usable / 3, lambda s: measure(s, bold_fp))
        rest_x = margin + measure(method, bold_fp)
        rest = f"   ·   model: {e.model}   ·   response: {response}"
        items.append(("head", (margin, y, method, bold_fp)))
        items.append(("head", (rest_x, y, _fit(rest, width - margin - rest_x, lambda s: measure(s, head_fp)), head_fp)))
        y += 20.0
        x = margin
        if not e.tokens:
            items.append(("head", (margin, y, "(no words)", head_fp)))
            x = width  # force the y advance below
        for tok, a in zip(e.tokens, e.attributions):
            score = _format_score(a)
            shown = _fit(tok, usable / 2 - 2 * pad, measure)  # very long words: at most half a line
            w = max(measure(shown), measure(score, score_fp)) + 2 * pad
            if x > margin and x + w > width - margin:
                x, y = margin, y + line_h
            items.append(("box", (x, y, w, shown, score, a, norm)))
            x += w + gap
        y += line_h + 14.0
    cbar_top = y
    height = cbar_top + 50.0

    fig.set_size_inches(width / 72.0, height / 72.0)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    for i, line in enumerate(title_lines):
        ax.text(margin, 16.0 + title_h * i, line, fontproperties=title_fp, va="center", parse_math=False)
    for kind, spec in items:
        if kind == "head":
            hx, hy, text, fp = spec
            ax.text(hx, hy, text, fontproperties=fp, va="center", color="#222222", parse_math=False)
            continue
        bx, by, w, shown, score, a, norm = spec
        rgba = cmap(norm(a))
        ax.add_patch(FancyBboxPatch((bx, by), w, box_h, boxstyle="round,pad=0,rounding_size=3",
                                    facecolor=rgba, edgecolor="#aaaaaa", linewidth=0.6))  # fmt: skip
        ax.text(bx + w / 2, by + box_h / 2, shown, fontproperties=word_fp, ha="center", va="center",
                color=_text_colour(rgba), parse_math=False)  # fmt: skip
        ax.text(bx + w / 2, by + box_h + score_h / 2 + 1, score, fontproperties=score_fp, ha="center",
                va="center", color="#333333", parse_math=False)  # fmt: skip

    cax = fig.add_axes((margin / width, (height - cbar_top - 20.0) / height, 0.35, 10.0 / height))
    bar = fig.colorbar(ScalarMappable(norm=CenteredNorm(0.0, 1.0), cmap=cmap), cax=cax, orientation="horizontal")
    bar.set_ticks([-1.0, 0.0, 1.0], labels=["−max", "0", "+max"])
    bar.ax.tick_params(labelsize=7.5)
    bar.set_label("attribution / max |attribution| of its row  (red = more important)", fontsize=7.5)
    return fig
