"""Batched decoding on an in-process llama.cpp model: several prompts per decode step.

``local_chat`` answers one prompt at a time; this module answers a list of chat requests
together through llama-cpp-python's low-level API. Per chunk of ``batch_size`` requests:

1. each request's prompt tokens come from the model's own chat handler, exactly as
   ``Llama.create_chat_completion`` builds them (the handler is run up to the point where
   it would call ``create_completion``; see ``_Recorder``), so the chat template, the
   system prompt and the stop strings are the ones the one-at-a-time path uses;
2. the longest common token prefix of the chunk (chat template + system prompt + the fixed
   head of a data set's template) is decoded once, on sequence 0, and copied to every other
   sequence with ``llama_memory_seq_cp``;
3. the rest of every prompt is decoded, several sequences in one ``llama_batch``;
4. then one token per live sequence per ``llama_decode`` until each sequence stops at an
   end-of-generation token, a stop string or ``max_tokens``, with the same stop rules as
   ``Llama._create_completion`` (including its hold-back of incomplete UTF-8 characters).

Tokens are picked by the sampler chain llama-cpp-python builds for the request
(``Llama._init_sampler``: greedy at temperature 0; at temperature > 0 top-k/top-p/min-p,
temperature and a distribution seeded with the request's own seed, one chain per sequence),
so a request samples the same way it would alone.

Determinism and the response cache
----------------------------------
The KV cache is non-unified: each sequence has its own KV stream, so its attention never
sums over another sequence's cells. Two runs with the same build, weights, batch setting and
prompts give identical answers at temperature 0 (tests/llm/models/test_batched.py), and a
chunk of one request decodes exactly as ``local_chat`` does. Logits of a multi-sequence decode
are not bit-identical to one-at-a-time decoding (matrix products over several rows, a prefix
decoded in another batch), and a greedy choice between near-tied tokens can flip. Measured
with benchmarks/bench_batched.py (64 perturbed prompts of a CoS-E question, SmolLM2-135M,
max_tokens 48, batch size 16): 2 of 64 answers differ from sequential decoding with prefix
reuse, 3 of 64 without; on 24 prompts a unified KV cache changed 4 answers, the non-unified
one 0 or 1 (hence non-unified).

Decision: the batch setting IS part of the response cache key, but only when it is used
(``QuerySettings.request`` adds ``"decode": "batched:<batch_size>"`` for a local model with
``local_batch_size`` > 1). A few answers per hundred differ, and the cache is shared between
runs: without the key, a batched run would leave its answers in the cache and a later
one-at-a-time run of the same configuration would silently read them, so its numbers would
differ from a fresh run's. With the key, ``local_batch_size: 1`` (the default) keeps every
existing cache entry and answer, and a batched run is reproducible for its own setting. The
batch size is keyed, not just "batched", because the chunk a prompt is decoded in depends on
it. Threads are not keyed (llama.cpp's CPU kernels split rows between threads, so the thread
count does not change a result); the count is recorded: ``local_threads`` in config.json and
``default_threads`` in run.json's backend.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ...errors import ModelError, XaiBenchError
from .local import _load, chat_params, default_threads

__all__ = ["BatchedReply", "DecodeSettings", "batched_chat", "chunks", "default_threads", "common_prefix_length"]

# Sampler settings batched decoding reproduces; anything else (grammars, logit biases, mirostat,
# logits processors) is refused rather than silently decoded differently.
_UNSUPPORTED = ("grammar", "logits_processor", "logit_bias")
_KV_UNIFIED = False


@dataclass(frozen=True, kw_only=True)
class DecodeSettings:
    """How requests are decoded (never what they ask): sequences per decode step, threads,
    and whether the shared prompt prefix is decoded once and copied."""

    batch_size: int = 16
    n_threads: int | None = None  # None: default_threads()
    prefix_reuse: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.batch_size, int) and not isinstance(self.batch_size, bool) and 1 <= self.batch_size <= 256):
            raise ValueError(f"The 'batch_size' parameter must be an int in the range [1, 256]. "
                             f"Got {self.batch_size!r} instead.")
        if self.n_threads is not None and not (isinstance(self.n_threads, int) and not isinstance(self.n_threads, bool)
                                               and 1 <= self.n_threads <= 1024):
            raise ValueError(f"The 'n_threads' parameter must be None or an int in the range [1, 1024]. "
                             f"Got {self.n_threads!r} instead.")

    @property
    def threads(self) -> int:
        return self.n_threads or default_threads()

    def describe(self) -> dict[str, Any]:
        """What a run records about its decoding (run.json backend, MLflow tags)."""
        return {"batch_size": self.batch_size, "n_threads": self.threads, "prefix_reuse": self.prefix_reuse,
                "kv_cache": "non-unified"}


@dataclass(frozen=True, kw_only=True)
class BatchedReply:
    """One answer: the text as ``create_chat_completion`` would give it, and its token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seconds: float = 0.0  # wall time of the chunk this request was decoded in, shared by its requests
    chunk_size: int = 1  # requests decoded together in that chunk


class _Captured(XaiBenchError):  # control flow inside _capture, never raised to a caller
    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("create_completion captured")
        self.kwargs = kwargs


class _Recorder:
    """Stands in for a ``Llama`` in its own ``create_chat_completion``: everything is read from
    the real model, except that the final ``create_completion`` call is captured, not run. The
    captured arguments are the prompt tokens, stop strings and sampler settings of the request."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def create_completion(self, **kwargs: Any) -> Any:
        raise _Captured(kwargs)


def _capture(llama: Any, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    from llama_cpp import Llama

    try:
        Llama.create_chat_completion(_Recorder(llama), messages=messages, **params)  # type: ignore[arg-type]
    except _Captured as c:
        return c.kwargs
    raise ModelError("llama-cpp-python's chat handler returned without calling create_completion; batched decoding "
                     "cannot reproduce this chat format. Set batch_size: 1 to decode one prompt at a time.")


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token sequences (0 for none or one empty)."""
    if not sequences:
        return 0
    first, n = sequences[0], min(len(s) for s in sequences)
    for other in sequences[1:]:
        i = 0
        while i < n and other[i] == first[i]:
            i += 1
        n = i
    return n


def _pending_utf8(text: bytes) -> int:
    """Tokens to hold back because ``text`` may end inside a UTF-8 character.

    Same rule as llama-cpp-python 0.3.36's ``_create_completion``: among the last three bytes,
    a lead byte announcing ``num`` bytes at ``k`` bytes from the end (k counted 3, 2, 1 over the
    last three bytes, also when fewer than three exist) asks for ``num - k`` more tokens; the
    last such byte decides; 0 when none does (the caller then keeps its previous count).
    """
    need = 0
    for i, byte in enumerate(text[-3:]):
        k = 3 - i
        for num, lead in ((2, 0xC0), (3, 0xE0), (4, 0xF0)):
            if num > k and byte & lead == lead:
                need = num - k
    return need


class _Seq:
    """One request being decoded: its prompt, sampler, and the stop rules of create_completion."""

    def __init__(self, sid: int, req: dict[str, Any], sampler: Any, llama: Any) -> None:
        self.sid, self.llama, self.sampler = sid, llama, sampler
        self.prompt: list[int] = list(req["prompt"])
        self.max_tokens: int = req["max_tokens"]
        stop = req.get("stop") or []
        self.stops = [s.encode("utf-8") for s in ([stop] if isinstance(stop, str) else stop)]
        self.criteria = req.get("stopping_criteria")
        self.completion: list[int] = []
        self.hold = 0
        self.text = b""
        self.finish: str | None = None

    @property
    def done(self) -> bool:
        return self.finish is not None

    def push(self, token: int) -> None:
        """Take one sampled token; sets ``finish`` and ``text`` when the request is complete."""
        import llama_cpp

        if self.criteria is not None:  # generate() asks them before yielding a token, on the tokens decoded so far
            evaluated = np.asarray(self.prompt + self.completion, dtype=np.intc)
            if self.criteria(evaluated, np.zeros(0, dtype=np.single)):
                self._end(self.llama.detokenize(self.completion, prev_tokens=self.prompt), "stop")
                return
        if llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token):
            self._end(self.llama.detokenize(self.completion, prev_tokens=self.prompt), "stop")
            return
        self.completion.append(token)
        all_text = self.llama.detokenize(self.completion, prev_tokens=self.prompt)
        self.hold = _pending_utf8(all_text) or self.hold
        if self.hold > 0:
            self.hold -= 1
            return
        hits = [s for s in self.stops if s in all_text]
        if hits:
            self._end(all_text[: all_text.index(hits[0])], "stop")
        elif len(self.completion) >= self.max_tokens:
            self._end(all_text, "length")

    def _end(self, text: bytes, reason: str) -> None:
        self.text, self.finish = text, reason

    def reply(self, seconds: float, chunk_size: int) -> BatchedReply:
        return BatchedReply(text=self.text.decode("utf-8", errors="ignore"), prompt_tokens=len(self.prompt),
                            completion_tokens=len(self.completion), finish_reason=self.finish or "length",
                            seconds=seconds, chunk_size=chunk_size)


@dataclass
class _Context:
    """A llama.cpp context on the loaded model, sized for one chunk of sequences."""

    ctx: Any
    n_seq: int
    n_ctx_seq: int
    n_batch: int
    threads: int
    batch: Any = None
    memory: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        import llama_cpp

        if self.batch is not None:
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx is not None:
            self.ctx.close()
            self.ctx = None


def _context(loaded: Any, n_seq: int, n_ctx_seq: int, threads: int) -> _Context:
    """The loaded model's batch context, created (or grown) to hold ``n_seq`` sequences of
    ``n_ctx_seq`` tokens each. Kept on ``loaded`` between calls; freed before the model."""
    import llama_cpp
    from llama_cpp import _internals

    cur: _Context | None = getattr(loaded, "batch_context", None)
    if cur is not None and cur.n_seq >= n_seq and cur.n_ctx_seq >= n_ctx_seq and cur.threads == threads:
        return cur
    if cur is not None:
        n_seq, n_ctx_seq = max(n_seq, cur.n_seq), max(n_ctx_seq, cur.n_ctx_seq)
        cur.close()
        loaded.batch_context = None
    llama = loaded.llama
    params = type(llama.context_params).from_buffer_copy(llama.context_params)  # same rope, attention, KV types
    n_batch = 512
    params.n_ctx = n_seq * n_ctx_seq
    params.n_batch = n_batch
    params.n_ubatch = n_batch
    params.n_seq_max = n_seq
    params.kv_unified = _KV_UNIFIED  # one KV stream per sequence (module docstring)
    params.n_threads = threads
    params.n_threads_batch = threads
    try:
        ctx = _internals.LlamaContext(model=llama._model, params=params, verbose=False)
    except ValueError as e:
        raise ModelError(f"llama.cpp could not create a context for {n_seq} sequences of {n_ctx_seq} tokens "
                         f"({n_seq * n_ctx_seq} KV cells); lower batch_size.") from e
    new = _Context(ctx=ctx, n_seq=n_seq, n_ctx_seq=n_ctx_seq, n_batch=n_batch, threads=threads,
                   batch=llama_cpp.llama_batch_init(n_batch, 0, 1), memory=llama_cpp.llama_get_memory(ctx.ctx))
    loaded.batch_context = new
    return new


def _decode(c: _Context, items: list[tuple[int, int, int, bool]]) -> None:
    """One ``llama_decode`` of (seq_id, token, position, wants_logits) items, at most n_batch of them."""
    import llama_cpp

    b = c.batch
    for i, (sid, tok, pos, logits) in enumerate(items):
        b.token[i] = tok
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = sid
        b.logits[i] = 1 if logits else 0
    b.n_tokens = len(items)
    rc = llama_cpp.llama_decode(c.ctx.ctx, b)
    if rc != 0:
        raise ModelError(f"llama_decode failed with code {rc} on a batch of {len(items)} tokens "
                         f"({'no free KV slot: lower batch_size' if rc == 1 else 'see llama.cpp codes in llama.h'}).")


def _prefill(c: _Context, seqs: list[_Seq], start: int) -> None:
    """Decode every prompt from position ``start``, packing sequences into batches of n_batch
    tokens; each sequence samples its first token right after the batch that held its last
    prompt token (a later decode overwrites the logits)."""
    pending: list[tuple[int, int, int, bool]] = []
    owners: list[tuple[_Seq, int]] = []

    def flush() -> None:
        if pending:
            _decode(c, pending)
            for s, idx in owners:
                s.push(s.sampler.sample(c.ctx, idx))
            pending.clear()
            owners.clear()

    for s in seqs:
        for pos in range(start, len(s.prompt)):
            if len(pending) == c.n_batch:
                flush()
            last = pos == len(s.prompt) - 1
            pending.append((s.sid, s.prompt[pos], pos, last))
            if last:
                owners.append((s, len(pending) - 1))
    flush()


def _run_chunk(loaded: Any, seqs: list[_Seq], settings: DecodeSettings) -> None:
    import llama_cpp

    need = max(len(s.prompt) + s.max_tokens for s in seqs) + 8  # + the UTF-8 hold-back
    c = _context(loaded, settings.batch_size, -(-need // 256) * 256, settings.threads)
    llama_cpp.llama_memory_clear(c.memory, True)
    start = 0
    if settings.prefix_reuse and len(seqs) > 1:
        # every sequence keeps at least its last prompt token, whose logits pick its first token
        start = min(common_prefix_length([s.prompt for s in seqs]), min(len(s.prompt) for s in seqs) - 1)
        prefix = seqs[0].prompt[:start]
        for i in range(0, start, c.n_batch):
            _decode(c, [(0, tok, i + j, False) for j, tok in enumerate(prefix[i:i + c.n_batch])])
        for s in seqs[1:]:
            llama_cpp.llama_memory_seq_cp(c.memory, 0, s.sid, -1, -1)
    _prefill(c, seqs, start)
    while True:
        live = [s for s in seqs if not s.done]
        if not live:
            return
        _decode(c, [(s.sid, s.completion[-1], len(s.prompt) + len(s.completion) - 1, True) for s in live])
        for i, s in enumerate(live):
            s.push(s.sampler.sample(c.ctx, i))


def _sampler(llama: Any, req: dict[str, Any]) -> Any:
    """The sampler chain ``Llama.generate`` would build for this request, seeded the same way."""
    for key in _UNSUPPORTED:
        if req.get(key) is not None:
            raise ModelError(f"Batched decoding does not support {key!r}; set batch_size: 1.")
    seed = req.get("seed")
    llama.set_seed(seed if seed is not None else random.Random(llama._seed).randint(0, 2**32))
    return llama._init_sampler(
        top_k=req["top_k"], top_p=req["top_p"], min_p=req["min_p"], typical_p=req["typical_p"],
        temp=req["temperature"], repeat_penalty=req["repeat_penalty"], frequency_penalty=req["frequency_penalty"],
        presence_penalty=req["presence_penalty"], tfs_z=req["tfs_z"], mirostat_mode=req["mirostat_mode"],
        mirostat_tau=req["mirostat_tau"], mirostat_eta=req["mirostat_eta"])


def _request(llama: Any, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    req = _capture(llama, messages, params)
    n_ctx = llama._n_ctx
    prompt = req["prompt"]
    if len(prompt) >= n_ctx:
        raise ModelError(f"The prompt has {len(prompt)} tokens, more than the model's context of {n_ctx}.")
    max_tokens = req.get("max_tokens")
    if max_tokens is None or max_tokens <= 0:
        max_tokens = n_ctx - len(prompt)
    req["max_tokens"] = min(max_tokens, n_ctx - len(prompt))
    return req


def batched_chat(name: str, requests: Sequence[list[dict[str, Any]]], *, settings: DecodeSettings | None = None,
                 seeds: Sequence[int | None] | None = None, **params: Any) -> list[BatchedReply]:
    """Answer chat requests (lists of messages) on the local model ``name``, ``settings.batch_size``
    at a time. ``params``: temperature, max_tokens, top_p, stop (as for ``local_chat``); ``seeds``
    gives each request its own seed (default: ``params['seed']`` for all). Replies align with
    ``requests``. Token log-probabilities are not served here (use ``local_chat``)."""
    settings = settings or DecodeSettings()
    if params.get("logprobs") or params.get("top_logprobs"):
        raise ModelError("Batched decoding does not return token log-probabilities; use local_chat for them.")
    loaded = _load(name)
    seeds = list(seeds) if seeds is not None else [params.get("seed")] * len(requests)
    if len(seeds) != len(requests):
        raise ValueError(f"seeds: expected {len(requests)} values (one per request), got {len(seeds)}")
    replies: list[BatchedReply] = []
    with loaded.lock:
        llama = loaded.llama
        for lo, hi in chunks(len(requests), settings.batch_size):
            t0 = time.perf_counter()
            seqs = []
            for sid, i in enumerate(range(lo, hi)):
                kwargs = chat_params({**params, "seed": seeds[i]})
                req = _request(llama, list(requests[i]), kwargs)
                seqs.append(_Seq(sid, req, _sampler(llama, req), llama))
            _run_chunk(loaded, seqs, settings)
            dt = time.perf_counter() - t0
            replies.extend(s.reply(dt, len(seqs)) for s in seqs)
    return replies


def chunks(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges over ``n`` requests: as few chunks as ``batch_size`` allows, of equal
    sizes (65 requests at 16 are 5 chunks of 13, not 4 of 16 and one of 1)."""
    if n <= 0:
        return []
    k = -(-n // batch_size)
    bounds = [round(i * n / k) for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))
