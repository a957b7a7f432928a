"""What shapes a request to a model: ``QuerySettings``.

The fields above ``timeout`` (and the sample index) enter the response cache key; the ones
from ``timeout`` on only change how a request is sent. ``ExplainConfig`` carries the same
settings for a run (``xai_bench.explain.explainer.query_settings`` copies them over).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .families import is_in_process, is_local, local_name
from .models._litellm import litellm_model_name

__all__ = ["QuerySettings"]


@dataclass(frozen=True, kw_only=True)
class QuerySettings:
    """Everything that shapes a request. The fields above ``timeout`` (and the sample index)
    are part of the cache key; the ones from ``timeout`` on only change how it is sent."""

    model: str
    temperature: float = 0.0
    max_tokens: int = 48
    top_p: float | None = None
    seed: int | None = 0
    system_prompt: str | None = None
    api_base: str | None = None
    logprobs: int | None = None
    n_samples: int = 1
    # not part of the key
    timeout: float = 120.0
    num_retries: int = 3
    concurrency: int | Mapping[str, int] | None = None
    max_failure_share: float = 0.1
    retry_initial_wait: float = 0.5
    retry_max_wait: float = 20.0
    call_log: str | Path | None = None
    local_batch_size: int = 1  # local/ models: prompts decoded together (xai_bench.llm.local_batch); 1 = one by one
    local_threads: int | None = None  # llama.cpp threads of batched decoding (None: every core)

    @property
    def in_process(self) -> bool:
        return is_in_process(self.model)

    @property
    def provider(self) -> str:
        name = litellm_model_name(self.model)
        return name.split("/", 1)[0] if "/" in name else name

    def effective_concurrency(self) -> int:
        """1 for in-process models; else the limit for this provider (default 4)."""
        if self.in_process:
            return 1
        c = self.concurrency
        if isinstance(c, Mapping):
            c = c.get(self.provider, c.get("default"))
        return max(1, int(c or 4))

    def messages(self, prompt: str) -> list[dict[str, str]]:
        msgs = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": self.system_prompt})
        msgs.append({"role": "user", "content": prompt})
        return msgs

    def request(self, prompt: str, sample: int = 0) -> dict[str, Any]:
        """The cache-key description of one call. With a seed, sample s is sent with seed + s
        (so it is its own key); without one, the sample index itself enters the key."""
        req = {
            "model": self.model,
            "api_base": self.api_base,
            "messages": self.messages(prompt),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": None if self.seed is None else self.seed + sample,
            "logprobs": self.logprobs,
        }
        if self.seed is None and sample:
            req["sample"] = sample
        if is_local(self.model):
            req["backend"] = self._local_backend()
            if self.local_batch_size > 1 and not self.logprobs:  # batched decoding (xai_bench.llm.models.batched)
                req["decode"] = f"batched:{self.local_batch_size}"
        return req

    def _local_backend(self) -> str:
        """The llama.cpp build and weights behind a local model (answers differ between builds)."""
        from .models.llama_build import local_backend_key

        try:
            return local_backend_key(local_name(self.model))
        except Exception as e:  # noqa: BLE001 - an unknown model fails later, where it is called
            return f"unavailable: {type(e).__name__}"
