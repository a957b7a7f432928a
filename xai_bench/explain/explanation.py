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

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Explanation", "PerturbationRecord"]


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Explanation":
        data = dict(data)
        data["perturbations"] = [PerturbationRecord(**p) for p in data.get("perturbations", [])]
        return cls(**data)

    def to_json(self, path: str | Path | None = None, *, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> "Explanation":
        """Load from a JSON string or a path to a JSON file."""
        p = Path(source) if not str(source).lstrip().startswith("{") else None
        text = p.read_text(encoding="utf-8") if p is not None else str(source)
        return cls.from_dict(json.loads(text))
