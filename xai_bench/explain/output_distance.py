"""Distribution-level output distances (OWMD between output distributions pi(y|x)).

The paper defines OWMD between the output *distributions* of the model for the original
and a perturbed prompt. The default ``"text"`` mode uses one answer per prompt (exact at
temperature 0, where the distribution is a point mass). Two modes estimate it better:

- ``"samples"``: k answers per prompt at temperature > 0, sample s sent with seed + s (so
  each sample is reproducible and cached under its own key). Each side is the pooled set
  of the output token embeddings of its k answers, every answer carrying mass 1/k spread
  evenly over its tokens (a mixture of the k empirical token distributions). OWMD is the
  Wasserstein-P distance between the two pooled sets. Costs k calls per prompt.
- ``"logprobs"``: one short call (one generated token) per prompt asking for the top-k
  next-token log-probabilities. Each side is the next-token distribution restricted to its
  top k candidates and renormalised to mass 1; the ground cost between two candidate
  tokens is the Euclidean distance between the sentence embeddings of their (stripped)
  strings. OWMD is the Wasserstein-P distance between the two weighted point sets (POT).
  Needs a provider that returns log-probabilities (llama.cpp does; many APIs do).

Options are fields of ``ExplainConfig``: ``output_mode`` ("text" | "samples" | "logprobs"),
``n_samples`` (k for "samples", default 8) and ``top_logprobs`` (k for "logprobs",
default 10, at most 20), validated when the configuration is built.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..config import OutputOptions

__all__ = [
    "output_options", "pooled_wasserstein",
    "next_token_distribution", "logprob_wasserstein", "distribution_owmd",
]

def output_options(config: Any) -> OutputOptions:
    """The output-distance options of an ExplainConfig (validated when it was built)."""
    return config.output_options


def _emd(wa: np.ndarray, wb: np.ndarray, cost: np.ndarray, p: float) -> float:
    import ot

    value = float(ot.emd2(wa / wa.sum(), wb / wb.sum(), cost))
    return max(value, 0.0) ** (1.0 / p)


def pooled_wasserstein(a: Sequence[np.ndarray], b: Sequence[np.ndarray], p: float = 1.0) -> float:
    """W_P between two pooled sets of token embeddings; each sample carries mass 1/len(set)."""
    from .distances import cost_matrix

    if not a or not b:
        raise ValueError(f"expected two non-empty lists of samples, got {len(a)} and {len(b)}")

    def pool(samples: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        pts = np.concatenate([np.asarray(s, float) for s in samples], axis=0)
        w = np.concatenate([np.full(len(s), 1.0 / (len(s) * len(samples))) for s in samples])
        return pts, w

    pa, wa = pool(a)
    pb, wb = pool(b)
    return _emd(wa, wb, cost_matrix(pa, pb, p), p)


def next_token_distribution(top: Sequence[tuple[str, float]]) -> tuple[list[str], np.ndarray]:
    """Candidate tokens and their probabilities renormalised over the top k (duplicates merged)."""
    if not top:
        raise ValueError("expected at least one (token, logprob) pair, got none")
    probs: dict[str, float] = {}
    for tok, lp in top:
        probs[tok] = probs.get(tok, 0.0) + float(np.exp(lp))
    toks = list(probs)
    w = np.array([probs[t] for t in toks], float)
    if not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"log-probabilities do not form a distribution: {list(top)[:5]}")
    return toks, w / w.sum()


def _token_text(tok: str) -> str:
    return tok.strip() or tok


def logprob_wasserstein(a: Sequence[tuple[str, float]], b: Sequence[tuple[str, float]], embedder: Any,
                        p: float = 1.0) -> float:
    """W_P between two next-token distributions, ground cost from token-string embeddings."""
    from .distances import cost_matrix

    ta, wa = next_token_distribution(a)
    tb, wb = next_token_distribution(b)
    ea = embedder.sentence_embeddings([_token_text(t) for t in ta])
    eb = embedder.sentence_embeddings([_token_text(t) for t in tb])
    return _emd(wa, wb, cost_matrix(ea, eb, p), p)


def distribution_owmd(distribution: dict[str, Any], embedder: Any, p: float = 1.0) -> list[float]:
    """OWMD for every perturbation from a QueryStage ``distribution`` record.

    ``{"mode": "samples", "original": [text, ...], "perturbed": [[text, ...], ...]}`` or
    ``{"mode": "logprobs", "original": [[tok, lp], ...], "perturbed": [[[tok, lp], ...] | None, ...]}``
    (None or an empty list where the call failed: distance 0, and the caller leaves it out).
    """
    mode = distribution["mode"]
    original = distribution["original"]
    out: list[float] = []
    if mode == "samples":
        texts = [t for t in original] + [t for s in distribution["perturbed"] for t in (s or [])]
        embs = dict(zip(texts, embedder.token_embeddings(texts)))
        base = [embs[t] for t in original]
        memo: dict[tuple[str, ...], float] = {}
        for samples in distribution["perturbed"]:
            if not samples:
                out.append(0.0)
                continue
            key = tuple(sorted(samples))
            if key not in memo:
                memo[key] = 0.0 if key == tuple(sorted(original)) else pooled_wasserstein(
                    base, [embs[t] for t in samples], p)
            out.append(memo[key])
        return out
    if mode == "logprobs":
        base_lp = [(str(t), float(v)) for t, v in original]
        for top in distribution["perturbed"]:
            if not top:
                out.append(0.0)
                continue
            out.append(logprob_wasserstein(base_lp, [(str(t), float(v)) for t, v in top], embedder, p))
        return out
    raise ValueError(f"Unknown distribution mode {mode!r}; expected 'samples' or 'logprobs'.")
