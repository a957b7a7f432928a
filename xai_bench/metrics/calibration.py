"""Calibration of a model's label confidence: expected calibration error, Brier score, reliability.

For a classification or multiple-choice prompt with K labels the model gives a probability
to each label (``llm.models.whitebox.label_logprobs``: the softmax over the labels of the
log-probability of each label as the whole answer). With the gold labels of n prompts:

- ``ece``: expected calibration error of the top label, with ``n_bins`` equal-width bins of
  confidence on [0, 1]: sum over bins of (bin count / n) x |accuracy in bin - mean
  confidence in bin| (Guo et al., 2017, "On calibration of modern neural networks").
  0 is perfect; it is biased upward at small n (an empty-ish bin is noisy), so it is
  always reported with n.
- ``brier``: the multi-class Brier score, mean over prompts of sum_k (p_k - y_k)^2 with y the
  one-hot gold label (Brier, 1950); 0 is perfect, 2 the worst; a uniform guess scores 1 - 1/K.
- ``bins``: the reliability diagram's data: per non-empty bin its edges, count, accuracy and
  mean confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["Calibration", "calibration"]


@dataclass(frozen=True, kw_only=True)
class Calibration:
    n: int
    accuracy: float  # share of prompts whose top label is the gold one
    mean_confidence: float
    ece: float
    brier: float
    bins: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "accuracy": self.accuracy, "mean_confidence": self.mean_confidence, "ece": self.ece,
                "brier": self.brier, "bins": self.bins}


def calibration(probs: Sequence[Sequence[float]] | np.ndarray, gold: Sequence[int] | np.ndarray,
                n_bins: int = 10) -> Calibration:
    """ECE, Brier and reliability bins of label probabilities ``probs`` (n x K, rows sum to 1)
    against ``gold`` (n label indices)."""
    p = np.asarray(probs, dtype=float)
    y = np.asarray(gold, dtype=int)
    if p.ndim != 2 or p.shape[0] != y.shape[0] or p.shape[0] == 0:
        raise ValueError(f"probs must be n x K and gold n labels with n >= 1; got {p.shape} and {y.shape}")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-6) or (p < 0).any():
        raise ValueError("every row of probs must be a probability distribution (non-negative, summing to 1)")
    if ((y < 0) | (y >= p.shape[1])).any():
        raise ValueError(f"gold label indices must lie in [0, {p.shape[1] - 1}]")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    onehot = np.eye(p.shape[1])[y]
    brier = float(((p - onehot) ** 2).sum(axis=1).mean())
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        sel = which == b
        if not sel.any():
            continue
        acc, mean_conf = float(correct[sel].mean()), float(conf[sel].mean())
        ece += sel.sum() / len(y) * abs(acc - mean_conf)
        bins.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(sel.sum()),
                     "accuracy": acc, "confidence": mean_conf})
    return Calibration(n=len(y), accuracy=float(correct.mean()), mean_confidence=float(conf.mean()), ece=float(ece),
                       brier=brier, bins=bins)
