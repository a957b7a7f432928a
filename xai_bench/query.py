"""LLM querying: one call per unique prompt, through litellm, with a persistent cache.

Identical prompts in one request list are sent once. Remote models are called
concurrently up to ``concurrency``; in-process models (``local/``, ``oracle:``) are
serialised. Retries with backoff on rate limits and transient errors are litellm's
(``num_retries``). A failed call is recorded with its error and never cached; the run
continues and only fails (``QueryFailures``) when the share of failed prompts exceeds
``max_failure_share``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from .cache import ResponseCache, request_key
from .errors import ModelError, XaiBenchError
from .models._litellm import get_litellm, litellm_model_name

__all__ = ["QuerySettings", "ModelReply", "Usage", "QueryResult", "QueryFailures", "query_model"]


@dataclass(frozen=True, kw_only=True)
class QuerySettings:
    """Everything that shapes a request (all part of the cache key except the last four)."""

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
    concurrency: int | None = None
    max_failure_share: float = 0.1

    @property
    def in_process(self) -> bool:
        return self.model.startswith(("local/", "oracle:", "oracle/", "control:", "control/"))

    def effective_concurrency(self) -> int:
        if self.in_process:
            return 1
        return max(1, self.concurrency or 4)

    def messages(self, prompt: str) -> list[dict[str, str]]:
        msgs = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": self.system_prompt})
        msgs.append({"role": "user", "content": prompt})
        return msgs

    def request(self, prompt: str, sample: int = 0) -> dict[str, Any]:
        return {
            "model": self.model,
            "api_base": self.api_base,
            "messages": self.messages(prompt),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": None if self.seed is None else self.seed + sample,
            "logprobs": self.logprobs,
        }


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

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


@dataclass(kw_only=True)
class Usage:
    """Accounting of one run. llm_calls counts requests actually sent to a model."""

    llm_calls: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    failed_calls: int = 0
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


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:500]


async def _call(litellm: Any, settings: QuerySettings, prompt: str, sample: int) -> ModelReply:
    kwargs: dict[str, Any] = {
        "model": litellm_model_name(settings.model),
        "messages": settings.messages(prompt),
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "timeout": settings.timeout,
        "num_retries": settings.num_retries,
    }
    if settings.seed is not None:
        kwargs["seed"] = settings.seed + sample
    if settings.top_p is not None:
        kwargs["top_p"] = settings.top_p
    if settings.api_base:
        kwargs["api_base"] = settings.api_base
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
    return ModelReply(
        prompt=prompt,
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost,
        latency_s=latency,
    )


def check_model(model: str) -> None:
    """Raise ModelError naming the problem if ``model`` cannot be resolved to a provider."""
    litellm = get_litellm()
    name = litellm_model_name(model)
    if name.startswith("oracle/"):
        from .models.oracle import parse_keywords

        try:
            parse_keywords(name[len("oracle/") :])
        except ValueError as e:
            raise ModelError(str(e)) from e
        return
    if name.startswith("control/"):
        return
    if name.startswith("local/"):
        from .models.local import resolve_local_model

        resolve_local_model(name[len("local/") :])
        return
    try:
        litellm.get_llm_provider(name)
    except Exception as e:
        raise ModelError(
            f"Unknown model {model!r}: litellm cannot tell its provider. Use a provider prefix such as "
            "'openai/gpt-4o-mini', 'anthropic/claude-3-haiku-20240307', 'ollama/llama3', or a built-in model: "
            "'local/smollm2-135m', 'local/qwen2.5-0.5b', 'oracle:<word>,<word>'."
        ) from e


def query_model(
    prompts: Sequence[str],
    settings: QuerySettings,
    *,
    cache: ResponseCache | None = None,
    progress: bool = True,
    description: str = "querying",
    sample: int = 0,
) -> QueryResult:
    """Answer every prompt (replies aligned with ``prompts``); see the module docstring."""
    return asyncio.run(_query_async(list(prompts), settings, cache=cache, progress=progress,
                                    description=description, sample=sample))


async def _query_async(prompts: list[str], settings: QuerySettings, *, cache: ResponseCache | None,
                       progress: bool, description: str, sample: int) -> QueryResult:
    litellm = get_litellm()
    usage = Usage()
    unique = list(dict.fromkeys(prompts))
    usage.deduplicated = len(prompts) - len(unique)
    answers: dict[str, ModelReply] = {}
    todo: list[str] = []
    for p in unique:
        hit = None
        if cache is not None:
            hit = cache.get(request_key(settings.request(p, sample)))
        if hit is not None:
            answers[p] = ModelReply(prompt=p, text=hit.text, prompt_tokens=hit.prompt_tokens,
                                    completion_tokens=hit.completion_tokens, cost_usd=0.0, latency_s=0.0, cached=True)
            usage.cache_hits += 1
        else:
            todo.append(p)

    sem = asyncio.Semaphore(settings.effective_concurrency())
    bar = _Progress(total=len(todo), description=f"{description} {settings.model}", enabled=progress and bool(todo))

    async def one(p: str) -> None:
        async with sem:
            try:
                reply = await _call(litellm, settings, p, sample)
            except Exception as e:  # recorded per call; the run decides below whether to fail
                reply = ModelReply(prompt=p, text=None, error=_error_text(e))
            if reply.ok and cache is not None:
                req = settings.request(p, sample)
                cache.put(request_key(req), model=settings.model, request=req, text=reply.text or "",
                          prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                          cost_usd=reply.cost_usd, latency_s=reply.latency_s)
            answers[p] = reply
            bar.advance()

    with bar:
        await asyncio.gather(*(one(p) for p in todo))

    errors: list[str] = []
    for p in todo:
        r = answers[p]
        usage.llm_calls += 1
        usage.model_seconds += r.latency_s
        if r.ok:
            usage.prompt_tokens += r.prompt_tokens
            usage.completion_tokens += r.completion_tokens
            usage.cost_usd += r.cost_usd
        else:
            usage.failed_calls += 1
            errors.append(f"{p[:60]!r}: {r.error}")
    result = QueryResult(replies=[answers[p] for p in prompts], usage=usage, errors=errors)
    if unique and usage.failed_calls / len(unique) > settings.max_failure_share:
        first = errors[0] if errors else ""
        raise QueryFailures(
            f"{usage.failed_calls} of {len(unique)} calls to {settings.model!r} failed "
            f"(more than max_failure_share={settings.max_failure_share:.0%}). First error: {first}",
            result,
        )
    return result


class _Progress:
    """A rich progress bar over model calls (a no-op when disabled)."""

    def __init__(self, *, total: int, description: str, enabled: bool) -> None:
        self.enabled = enabled
        self.total = total
        self.description = description
        self._p: Any = None
        self._task: Any = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeRemainingColumn(), transient=False)
            self._p.__enter__()
            self._task = self._p.add_task(self.description, total=self.total)
        return self

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)
