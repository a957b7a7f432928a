"""The query layer's path to batched decoding: a shard's prompts to an in-process local model.

``query_model`` hands the prompts it has to send (after deduplication and the response cache)
to :func:`answer_batch` when :func:`applies` says so: a ``local/`` model, no token
log-probabilities (``local_chat`` serves those), and ``local_batch_size`` > 1. They are decoded
together by ``xai_bench.llm.models.batched`` instead of one litellm call per prompt behind the
model's lock. No queue, scheduler or worker: the list the caller already has is the batch.
Each reply is what the litellm path would have built (text, token counts), with the chunk's
wall time shared among its prompts as latency, so ``Usage.model_seconds`` still adds up to the
time spent in the model. A failure of the decoder is recorded on every prompt of the call, as
failed calls are, and the query layer's failure share decides.
"""

from __future__ import annotations

import asyncio
from typing import Sequence

from .calls import _error_text as error_text
from .families import is_local, local_name
from .replies import ModelReply
from .settings import QuerySettings

__all__ = ["applies", "answer_batch"]


def applies(settings: QuerySettings) -> bool:
    """Whether ``settings`` send their prompts to the batched decoder."""
    return is_local(settings.model) and not settings.logprobs and settings.local_batch_size > 1


def _answer(settings: QuerySettings, prompts: Sequence[str], sample: int) -> dict[str, ModelReply]:
    from .models.batched import DecodeSettings, batched_chat

    params = {"temperature": settings.temperature, "max_tokens": settings.max_tokens,
              "seed": None if settings.seed is None else settings.seed + sample}
    if settings.top_p is not None:
        params["top_p"] = settings.top_p
    decode = DecodeSettings(batch_size=settings.local_batch_size, n_threads=settings.local_threads)
    try:
        out = batched_chat(local_name(settings.model), [settings.messages(p) for p in prompts], settings=decode,
                           **params)
    except Exception as e:  # noqa: BLE001 - recorded per prompt, like a failed call
        return {p: ModelReply(prompt=p, text=None, error=error_text(e)) for p in prompts}
    return {p: ModelReply(prompt=p, text=r.text, prompt_tokens=r.prompt_tokens, completion_tokens=r.completion_tokens,
                          latency_s=r.seconds / max(1, r.chunk_size)) for p, r in zip(prompts, out)}


async def answer_batch(settings: QuerySettings, prompts: Sequence[str], sample: int) -> dict[str, ModelReply]:
    """Replies to ``prompts`` (unique), decoded together off the event loop's thread."""
    return await asyncio.to_thread(_answer, settings, list(prompts), sample)
