"""LLM querying: one call per unique prompt, through litellm, with a persistent cache.

Identical prompts in one request list are sent once. Cache hits are answered without a
call; every fresh answer is committed to the cache as soon as it arrives (a crash loses
only the calls in flight) and errors are never cached. Remote models are called
concurrently up to ``concurrency`` (an int, or a mapping from provider to int, e.g.
``{"openai": 8, "anthropic": 2, "default": 4}``); in-process models (``local/``,
``oracle:``, ``control:``) are serialised.

Retries are done here with tenacity, not by litellm: litellm 1.106's ``num_retries``
retries every exception (a 400 or 401 too), backs off only for rate limits (constant,
no wait, for other errors), sets the global ``litellm.num_retries`` to None while it
retries, and for ``openai/`` models also hands ``max_retries`` to the OpenAI SDK, which
retries again underneath, so the number of requests actually sent cannot be counted.
Here litellm gets ``num_retries=0, max_retries=0`` and a call is retried only on rate
limits (429), timeouts, connection errors and 5xx, with exponential backoff and jitter
(honouring a ``Retry-After`` header up to ``retry_max_wait``); every retry is counted.

A failed call is recorded with its error and never cached; the run continues and only
fails (``QueryFailures``, with a summary by error type) when the share of failed unique
prompts exceeds ``max_failure_share``. ``call_log`` appends one JSON line per prompt
(prompt hash, sample, latency, tokens, cost, cached, attempts, error).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .cache import ResponseCache, request_key
from .families import is_in_process, is_local, local_name
from ..errors import ModelError, XaiBenchError
from .models._litellm import get_litellm, litellm_model_name

__all__ = ["QuerySettings", "ModelReply", "Usage", "QueryResult", "QueryFailures", "query_model", "check_model",
           "is_retryable"]


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
        return req

    def _local_backend(self) -> str:
        """The llama.cpp build and weights behind a local model (answers differ between builds)."""
        from .models.llama_build import local_backend_key

        try:
            return local_backend_key(local_name(self.model))
        except Exception as e:  # noqa: BLE001 - an unknown model fails later, where it is called
            return f"unavailable: {type(e).__name__}"


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


async def _call(litellm: Any, settings: QuerySettings, prompt: str, sample: int) -> ModelReply:
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
    if is_local(name):
        from .models.local import resolve_local_model

        resolve_local_model(local_name(name))
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
    """Answer every prompt (replies aligned with ``prompts``); see the module docstring.

    Synchronous also where an event loop is already running in this thread (a Jupyter
    notebook): the queries then run in a fresh loop on a worker thread, and this call waits.
    """
    return run_sync(_query_async(list(prompts), settings, cache=cache, progress=progress,
                                 description=description, sample=sample))


def run_sync(coro: Any) -> Any:
    """Run ``coro`` to completion and return its result: ``asyncio.run`` when this thread has
    no running loop, else in a new loop on a worker thread (``asyncio.run`` raises RuntimeError
    inside a running loop, e.g. in a notebook cell). Exceptions are re-raised here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures
    import contextvars

    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="xai-bench-query") as pool:
        return pool.submit(ctx.run, asyncio.run, coro).result()


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


class _CallLog:
    """Appends one JSON line per prompt to ``path`` (flushed per line); no-op without a path."""

    def __init__(self, path: str | Path | None, settings: QuerySettings, sample: int) -> None:
        self._f = None
        self.settings = settings
        self.sample = sample
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._f = open(path, "a", encoding="utf-8")

    def write(self, r: ModelReply) -> None:
        if self._f is None:
            return
        rec = {"time": round(time.time(), 3), "model": self.settings.model, "prompt_sha256": prompt_hash(r.prompt),
               "sample": self.sample, "cached": r.cached, "attempts": r.attempts, "latency_s": round(r.latency_s, 4),
               "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens, "cost_usd": r.cost_usd,
               "error": r.error}
        self._f.write(json.dumps(rec) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


def _summary(errors: Sequence[ModelReply]) -> str:
    kinds = Counter((r.error or "").split(":", 1)[0] for r in errors)
    return ", ".join(f"{n} x {k}" for k, n in kinds.most_common())


async def _query_async(prompts: list[str], settings: QuerySettings, *, cache: ResponseCache | None,
                       progress: bool, description: str, sample: int) -> QueryResult:
    litellm = get_litellm()
    usage = Usage()
    unique = list(dict.fromkeys(prompts))
    usage.deduplicated = len(prompts) - len(unique)
    answers: dict[str, ModelReply] = {}
    todo: list[str] = []
    log = _CallLog(settings.call_log, settings, sample)
    for p in unique:
        hit = None
        if cache is not None:
            hit = cache.get(request_key(settings.request(p, sample)))
        if hit is not None:
            lp = hit.extra.get("logprobs")
            answers[p] = ModelReply(prompt=p, text=hit.text, prompt_tokens=hit.prompt_tokens,
                                    completion_tokens=hit.completion_tokens, cost_usd=0.0, latency_s=0.0, cached=True,
                                    attempts=0, logprobs=[[(t, float(v)) for t, v in pos] for pos in lp] if lp else None)
            usage.cache_hits += 1
            log.write(answers[p])
        else:
            todo.append(p)

    sem = asyncio.Semaphore(settings.effective_concurrency())
    bar = _Progress(total=len(todo), description=f"{description} {settings.model}", enabled=progress and bool(todo))

    async def one(p: str) -> None:
        async with sem:
            reply = await _call(litellm, settings, p, sample)
        if reply.ok and cache is not None:
            req = settings.request(p, sample)
            extra = {"logprobs": reply.logprobs} if reply.logprobs else None
            cache.put(request_key(req), model=settings.model, request=req, text=reply.text or "",
                      prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                      cost_usd=reply.cost_usd, latency_s=reply.latency_s, extra=extra)
        answers[p] = reply
        log.write(reply)
        bar.advance()

    try:
        with bar:
            await asyncio.gather(*(one(p) for p in todo))
    finally:
        log.close()

    failed: list[ModelReply] = []
    for p in todo:
        r = answers[p]
        usage.llm_calls += 1
        usage.retries += max(0, r.attempts - 1)
        usage.model_seconds += r.latency_s
        if r.ok:
            usage.prompt_tokens += r.prompt_tokens
            usage.completion_tokens += r.completion_tokens
            usage.cost_usd += r.cost_usd
        else:
            usage.failed_calls += 1
            failed.append(r)
    errors = [f"{r.prompt[:60]!r}: {r.error}" for r in failed]
    result = QueryResult(replies=[answers[p] for p in prompts], usage=usage, errors=errors)
    if unique and usage.failed_calls / len(unique) > settings.max_failure_share:
        raise QueryFailures(
            f"{usage.failed_calls} of {len(unique)} calls to {settings.model!r} failed after up to "
            f"{settings.num_retries} retries each, more than max_failure_share={settings.max_failure_share:.0%} "
            f"({_summary(failed)}). First error: {errors[0]}. The {len(unique) - usage.failed_calls} answers that "
            "did arrive are cached; rerun to send only the failed calls, or raise max_failure_share.",
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
