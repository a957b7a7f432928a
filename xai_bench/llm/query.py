"""LLM querying: one call per unique prompt, through litellm, with a persistent cache.

Identical prompts in one request list are sent once. Cache hits are answered without a
call; every fresh answer is committed to the cache as soon as it arrives (a crash loses
only the calls in flight) and errors are never cached. Remote models are called
concurrently up to ``concurrency`` (an int, or a mapping from provider to int, e.g.
``{"openai": 8, "anthropic": 2, "default": 4}``); in-process models (``local/``,
``oracle:``, ``control:``) are serialised.

Each call is retried on transient errors only (``calls``, which says why litellm's own
retries are off). A failed call is recorded with its error and never cached; the run
continues and only fails (``QueryFailures``, with a summary by error type) when the share
of failed unique prompts exceeds ``max_failure_share``. ``call_log`` appends one JSON line
per prompt (prompt hash, sample, latency, tokens, cost, cached, attempts, error).

The request settings live in ``settings``, the replies and accounting in ``replies``; both
are re-exported here, the query layer's one entry point.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from ..errors import ModelError
from .cache import ResponseCache, request_key
from .calls import call_with_retries, is_retryable
from . import local_batch
from .families import is_local, local_name
from .models._litellm import get_litellm, litellm_model_name
from .replies import ModelReply, QueryFailures, QueryResult, Usage
from .settings import QuerySettings

__all__ = ["QuerySettings", "ModelReply", "Usage", "QueryResult", "QueryFailures", "query_model", "check_model",
           "is_retryable"]


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
    # in-process local models: the prompts to send are decoded together (llm/local_batch.py)
    batched = await local_batch.answer_batch(settings, todo, sample) if todo and local_batch.applies(settings) else {}

    async def one(p: str) -> None:
        if p in batched:
            reply = batched[p]
        else:
            async with sem:
                reply = await call_with_retries(litellm, settings, p, sample)
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
