"""The result of explaining one prompt with one method, with a JSON round-trip.

Sign convention: ``attributions[i]`` is minus the surrogate coefficient of word i.
The surrogate regresses the output shift (distance of the perturbed output from the
original output) on the keep-mask z (1 = word kept). Keeping an important word keeps the
output close to the original, so its raw coefficient is negative; removing it moves the
output further away. We flip the sign so that a LARGER attribution means a MORE important
word, which is how heatmaps and every metric read it. ``raw_coefficients`` keeps the
unflipped values.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..secrets import redact_data

__all__ = ["Explanation", "PerturbationRecord"]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _esc(text: str) -> str:
    return html.escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text)))


def _colours(v: float) -> tuple[str, str]:
    """Background and text colour for v in [-1, 1]: white at 0, red towards +1, blue towards -1."""
    v = max(-1.0, min(1.0, v))
    end = (178, 24, 43) if v >= 0 else (33, 102, 172)
    rgb = [round(255 + (c - 255) * abs(v)) for c in end]
    lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    return "#" + "".join(f"{c:02x}" for c in rgb), ("#000000" if lum > 140 else "#ffffff")


@dataclass(frozen=True, kw_only=True)
class PerturbationRecord:
    """One perturbed prompt and everything measured about it."""

    mask: list[int]
    prompt: str
    response: str
    iwmd: float  # input distance used by this method's kernel (eq. 1 for gSMILE)
    owmd: float  # output shift used as the regression target (eq. 3 for gSMILE)
    p_value: float | None
    weight: float
    included: bool = True
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """Token attributions for one prompt, one model, one method."""

    method: str
    model: str
    prompt: str
    tokens: list[str]
    attributions: list[float]
    intercept: float
    original_response: str
    fit: dict[str, float] = field(default_factory=dict)
    perturbations: list[PerturbationRecord] = field(default_factory=list)
    sigma: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.attributions):
            raise ValueError(
                f"tokens and attributions must have equal length: expected {len(self.tokens)}, got {len(self.attributions)}"
            )
        for i, a in enumerate(self.attributions):
            if not isinstance(a, (int, float)) or not math.isfinite(a):
                raise ValueError(f"attribution {i} ({self.tokens[i]!r}) is not a finite number: {a!r}")

    @property
    def raw_coefficients(self) -> list[float]:
        """The surrogate's own coefficients (attribution = -coefficient)."""
        return [-a for a in self.attributions]

    def top(self, k: int = 5) -> list[tuple[int, str, float]]:
        """The k most important words as (position, word, attribution), most important first."""
        order = sorted(range(len(self.tokens)), key=lambda i: (-self.attributions[i], i))
        return [(i, self.tokens[i], self.attributions[i]) for i in order[:k]]

    def _repr_html_(self) -> str:
        """Inline rendering in Jupyter: a small table of the words coloured by attribution (red
        more important, blue less, white 0; scaled by max |attribution|) with their scores.
        All text is HTML-escaped (control characters shown as ``\\xNN``); no page-wide styles.
        Built here, not by ``heatmap`` (which imports this module)."""
        scale = max((abs(a) for a in self.attributions), default=0.0) or 1.0
        cells, scores = [], []
        for pos, (tok, a) in enumerate(zip(self.tokens, self.attributions)):
            bg, fg = _colours(a / scale)
            style = f"background:{bg};color:{fg};padding:2px 5px;border:1px solid #bbb;white-space:pre-wrap"
            cells.append(f'<td class="word" style="{style}" title="word {pos}">{_esc(tok)}</td>')
            scores.append(f'<td style="font-family:monospace;font-size:.75em;text-align:center">{a:+.3f}</td>')
        body = (f"<tr>{''.join(cells)}</tr><tr>{''.join(scores)}</tr>" if cells
                else '<tr><td style="color:#777;font-style:italic">(no words)</td></tr>')
        return (f'<div class="xai-bench-explanation"><div><b>{_esc(self.method)}</b> &middot; model: '
                f"{_esc(self.model)}</div><div style=\"font-size:.85em;color:#444\">Response: "
                f'<span style="white-space:pre-wrap">{_esc(self.original_response)}</span></div>'
                f'<table style="border-collapse:collapse;margin-top:.3em">{body}</table></div>')

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Explanation":
        data = dict(data)
        data["perturbations"] = [PerturbationRecord(**p) for p in data.get("perturbations", [])]
        return cls(**data)

    def to_json(self, path: str | Path | None = None, *, indent: int = 2) -> str:
        """The JSON text (written to ``path`` when given), redacted by the one policy of
        :mod:`xai_bench.secrets`: known credentials and secret-named keys' values replaced,
        the prompt and responses otherwise kept as given."""
        text = json.dumps(redact_data(self.to_dict()), indent=indent, ensure_ascii=False, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> "Explanation":
        """Load from a JSON string or a path to a JSON file."""
        p = Path(source) if not str(source).lstrip().startswith("{") else None
        text = p.read_text(encoding="utf-8") if p is not None else str(source)
        return cls.from_dict(json.loads(text))
