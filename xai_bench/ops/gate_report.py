"""The gate's result types: ``GateRow`` (one compared metric) and ``GateReport`` (all rows, the verdict)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .thresholds import DEFAULT_CONFIDENCE, DEFAULT_MIN_PROMPTS

__all__ = ["EXIT_CODES", "GateReport", "GateRow", "Overall", "Verdict"]

EXIT_CODES = {"pass": 0, "fail": 1, "input": 2, "insufficient": 3}

Verdict = Literal["pass", "fail", "insufficient", "missing", "new", "info"]
Overall = Literal["pass", "fail", "insufficient"]


@dataclass(frozen=True, kw_only=True)
class GateRow:
    """One compared metric of one model x dataset x method.

    ``baseline`` / ``current``: the ``metrics.json`` means; ``delta`` = current - baseline.
    ``n_pairs``: prompts with a value on both sides; ``n_excluded``: prompts undefined on
    both; ``n_only_baseline`` / ``n_only_current``: prompts defined on one side only.
    ``mean_worse``: mean paired difference oriented so that positive = worse, with its
    t-interval ``ci_low``..``ci_high``; ``tolerance``: the largest mean worsening the rule
    allows. ``rule`` describes the rule, ``reason`` says why the verdict is not ``pass``.
    """

    model: str
    dataset: str
    method: str
    metric: str
    baseline: float | None = None
    current: float | None = None
    delta: float | None = None
    direction: str | None = None
    n_pairs: int = 0
    n_excluded: int = 0
    n_only_baseline: int = 0
    n_only_current: int = 0
    mean_worse: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    tolerance: float | None = None
    rule: str = "-"
    verdict: Verdict
    reason: str = ""


_ROW_VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "insufficient", "missing", "new", "info")


@dataclass(frozen=True, kw_only=True)
class GateReport:
    """Every compared metric and the overall verdict (see the module docstring)."""

    rows: list[GateRow]
    baseline_source: str = ""
    current_source: str = ""
    thresholds_source: str = ""
    confidence: float = DEFAULT_CONFIDENCE
    min_prompts: int = DEFAULT_MIN_PROMPTS

    @property
    def verdict(self) -> Overall:
        """``fail`` (any fail or missing row), else ``insufficient`` (any insufficient row), else ``pass``."""
        if any(r.verdict in ("fail", "missing") for r in self.rows):
            return "fail"
        if any(r.verdict == "insufficient" for r in self.rows):
            return "insufficient"
        return "pass"

    @property
    def passed(self) -> bool:
        """True only for the overall verdict ``pass``."""
        return self.verdict == "pass"

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(_ROW_VERDICTS, 0)
        for r in self.rows:
            out[r.verdict] += 1
        return out

    @property
    def failures(self) -> list[GateRow]:
        return [r for r in self.rows if r.verdict in ("fail", "missing")]

    @property
    def insufficient(self) -> list[GateRow]:
        return [r for r in self.rows if r.verdict == "insufficient"]

    def exit_code(self, *, allow_insufficient: bool = False) -> int:
        """0 pass, 1 fail, 3 insufficient (0 with ``allow_insufficient``)."""
        if self.verdict == "insufficient" and allow_insufficient:
            return EXIT_CODES["pass"]
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: verdict, counts, sources, statistics settings and every row."""
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "counts": self.counts,
            "baseline": self.baseline_source,
            "current": self.current_source,
            "thresholds": self.thresholds_source,
            "confidence": self.confidence,
            "min_prompts": self.min_prompts,
            "rows": [{k: _json_num(v) for k, v in asdict(r).items()} for r in self.rows],
        }


def _json_num(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v
