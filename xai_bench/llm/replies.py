"""What comes back from the query layer: one ``ModelReply`` per prompt, the ``Usage`` of a
run, the ``QueryResult`` of a batch and ``QueryFailures`` when too many calls failed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import XaiBenchError

__all__ = ["ModelReply", "Usage", "QueryResult", "QueryFailures"]


@dataclass(frozen=True, kw_only=True)
class ModelReply:
    prompt: str
    text: str | None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    cached: bool = False
    attempts: int = 1  # requests sent for this prompt (0 for a cache hit)
    logprobs: list[list[tuple[str, float]]] | None = None  # top log-probabilities per generated position

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@dataclass(kw_only=True)
class Usage:
    """Accounting of one run. ``llm_calls`` counts prompts sent to a model (a prompt retried
    twice is one call and two ``retries``); ``cache_hits`` prompts answered from the cache;
    ``deduplicated`` repeats of a prompt within the run that were not sent again. Tokens,
    cost and model_seconds count fresh calls only: a cache hit costs nothing."""

    llm_calls: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    failed_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model_seconds: float = 0.0

    def add(self, other: "Usage") -> "Usage":
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class QueryResult:
    replies: list[ModelReply]  # aligned with the input prompts
    usage: Usage
    errors: list[str] = field(default_factory=list)


class QueryFailures(XaiBenchError):
    """Too many calls failed; ``result`` holds everything that did succeed."""

    def __init__(self, message: str, result: QueryResult) -> None:
        super().__init__(message)
        self.result = result
