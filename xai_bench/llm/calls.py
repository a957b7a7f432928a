"""One prompt sent to one model through litellm, with our own retries.

Retries are done here with tenacity, not by litellm: litellm 1.106's ``num_retries``
retries every exception (a 400 or 401 too), backs off only for rate limits (constant,
no wait, for other errors), sets the global ``litellm.num_retries`` to None while it
retries, and for ``openai/`` models also hands ``max_retries`` to the OpenAI SDK, which
retries again underneath, so the number of requests actually sent cannot be counted.
Here litellm gets ``num_retries=0, max_retries=0`` and a call is retried only on rate
limits (429), timeouts, connection errors and 5xx, with exponential backoff and jitter
(honouring a ``Retry-After`` header up to ``retry_max_wait``); every retry is counted.
A call that still fails is returned as a ``ModelReply`` with its error, never raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import time
from typing import Any

from ..errors import ModelError
from .models._litellm import litellm_model_name
from .replies import ModelReply
from .settings import QuerySettings

__all__ = ["is_retryable", "call_with_retries"]


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:500]


_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, timeouts, connection errors and 5xx: worth sending again. Bad requests,
    authentication errors, unknown models and the like are not."""
    import litellm

    if isinstance(exc, (asyncio.TimeoutError, litellm.Timeout, litellm.APIConnectionError, litellm.RateLimitError,
                        litellm.ServiceUnavailableError, litellm.InternalServerError, litellm.BadGatewayError)):
        return True
    status = getattr(exc, "status_code", None)
    try:
        return int(status) in _RETRY_STATUS  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header on the error's HTTP response, if any."""
    for holder in (getattr(exc, "response", None), exc):
        headers = getattr(holder, "headers", None) or getattr(holder, "litellm_response_headers", None)
        if not headers:
            continue
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
            if value is not None:
                return max(0.0, float(value))
        except (TypeError, ValueError, AttributeError):
            continue
    return None


def _top_logprobs(resp: Any) -> list[list[tuple[str, float]]] | None:
    lp = getattr(resp.choices[0], "logprobs", None)
    content = getattr(lp, "content", None) if lp is not None else None
    if content is None and isinstance(lp, dict):
        content = lp.get("content")
    if not content:
        return None
    out = []
    for tok in content:
        tops = tok.get("top_logprobs") if isinstance(tok, dict) else getattr(tok, "top_logprobs", None)
        pairs = []
        for t in tops or []:
            tt = t.get("token") if isinstance(t, dict) else t.token
            tl = t.get("logprob") if isinstance(t, dict) else t.logprob
            pairs.append((str(tt), float(tl)))
        out.append(pairs)
    return out


async def _call_once(litellm: Any, settings: QuerySettings, prompt: str, sample: int) -> ModelReply:
    kwargs: dict[str, Any] = {
        "model": litellm_model_name(settings.model),
        "messages": settings.messages(prompt),
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "timeout": settings.timeout,
        "num_retries": 0,  # retries are ours (module docstring)
        "max_retries": 0,
    }
    if settings.seed is not None:
        kwargs["seed"] = settings.seed + sample
    if settings.top_p is not None:
        kwargs["top_p"] = settings.top_p
    if settings.api_base:
        kwargs["api_base"] = settings.api_base
        if settings.provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "sk-no-key-required"  # self-hosted OpenAI-compatible servers ignore it
    if settings.logprobs:
        kwargs["logprobs"] = True
        kwargs["top_logprobs"] = settings.logprobs
    t0 = time.perf_counter()
    resp = await litellm.acompletion(**kwargs)
    latency = time.perf_counter() - t0
    text = resp.choices[0].message.content or ""
    usage = getattr(resp, "usage", None)
    cost = 0.0
    if not settings.in_process:
        try:
            cost = float(litellm.completion_cost(completion_response=resp) or 0.0)
        except Exception:  # no price known for this model (e.g. a self-hosted server)
            cost = 0.0
    logprobs = _top_logprobs(resp) if settings.logprobs else None
    if settings.logprobs and not logprobs:
        raise ModelError(
            f"The model {settings.model!r} returned no token log-probabilities (asked for top_logprobs="
            f"{settings.logprobs}). Use output_mode 'text' or 'samples' with it, or a provider that returns them."
        )
    return ModelReply(
        prompt=prompt,
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost,
        latency_s=latency,
        logprobs=logprobs,
    )


async def call_with_retries(litellm: Any, settings: QuerySettings, prompt: str, sample: int) -> ModelReply:
    """One prompt with retries on transient errors; returns a reply with ``error`` set on failure."""
    import tenacity

    attempts = 0
    t0 = time.perf_counter()

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = _retry_after(exc) if exc is not None else None
        backoff = settings.retry_initial_wait * (2 ** (state.attempt_number - 1))
        backoff = min(settings.retry_max_wait, backoff) * (0.5 + random.random() / 2)  # jitter
        return min(settings.retry_max_wait, max(backoff, after or 0.0))

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(1 + max(0, settings.num_retries)),
        wait=wait,
        retry=tenacity.retry_if_exception(is_retryable),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                attempts += 1
                reply = await _call_once(litellm, settings, prompt, sample)
    except Exception as e:  # recorded per call; the run decides whether to fail
        return ModelReply(prompt=prompt, text=None, error=_error_text(e), attempts=attempts,
                          latency_s=time.perf_counter() - t0)
    return dataclasses.replace(reply, attempts=attempts)
