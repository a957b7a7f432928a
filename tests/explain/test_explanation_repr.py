"""Explanation._repr_html_: inline rendering in notebooks (issue 14, item 2)."""

from __future__ import annotations

from xai_bench.explain.explanation import Explanation


def _exp() -> Explanation:
    return Explanation(method="gsmile", model="oracle:<b>x</b>", prompt="<script>alert(1)</script> & life",
                       tokens=["<script>alert(1)</script>", "&", "life"], attributions=[0.5, -0.25, 1.0],
                       intercept=0.0, original_response="It's <i>fine</i> & \x07")


def test_repr_html_is_an_escaped_fragment_with_every_token():
    page = _exp()._repr_html_()
    assert isinstance(page, str)
    # a fragment for a notebook cell, not a whole page that would restyle the notebook
    assert "<html" not in page and "<body" not in page and "body{" not in page
    # every user text escaped
    assert "<script>" not in page and "<b>x</b>" not in page and "<i>fine</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "oracle:&lt;b&gt;x&lt;/b&gt;" in page
    assert "&amp;" in page and "\x07" not in page
    # one coloured box per token, in order, with the signed score
    for tok in ("&lt;script&gt;", "&amp;", "life"):
        assert tok in page
    assert page.index("&lt;script&gt;") < page.index(">life<")
    assert "+0.500" in page and "-0.250" in page and "+1.000" in page
    assert page.count('class="word"') == 3
    assert "\\x07" in page  # the control character shown, not dropped
    # colours: the most important word is the strongest red, the negative one blue
    assert 'class="word" style="background:#b2182b' in page


def test_repr_html_with_no_tokens():
    e = Explanation(method="lime", model="m", prompt="", tokens=[], attributions=[], intercept=0.0,
                    original_response="")
    assert "(no words)" in e._repr_html_()
