"""Distances between prompts and between outputs, computed with POT.

- ``wasserstein(A, B, p)``: the Wasserstein-P distance between two uniform point clouds
  (bags of token embeddings) with Euclidean ground cost: (min_T <T, C^p>)^(1/p).
  With p = 1 this is the Word Mover's Distance of Kusner et al. (2015): IWMD (eq. 1)
  between prompts, OWMD (eq. 2) between outputs.
- ``cosine_distance(u, v)``: 1 - cos(u, v), for the LIME baselines.
- ``mask_cosine_distance(masks)``: LIME's text distance between each binary mask and the
  all-ones mask of the original prompt.
"""

from __future__ import annotations

import numpy as np

__all__ = ["wasserstein", "wmd", "cost_matrix", "cosine_distance", "mask_cosine_distance"]


def cost_matrix(a: np.ndarray, b: np.ndarray, p: float = 1.0) -> np.ndarray:
    """Euclidean distance matrix between the rows of a and b, raised to the power p.

    Computed from coordinate differences (scipy's cdist), not the |a|^2 + |b|^2 - 2ab
    expansion: that one cancels catastrophically and gives ~1e-8 |a| instead of 0 for
    identical rows, so a prompt or output compared with itself had a non-zero WMD.
    """
    from scipy.spatial.distance import cdist

    d = cdist(np.asarray(a, float), np.asarray(b, float), metric="euclidean")
    return d if p == 1 else d**p


def wasserstein(a: np.ndarray, b: np.ndarray, p: float = 1.0) -> float:
    """Wasserstein-P distance between two uniform bags of vectors (rows)."""
    import ot

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected two 2-D arrays with the same number of columns, got {a.shape} and {b.shape}")
    if a.shape[0] == 0 or b.shape[0] == 0:
        raise ValueError("cannot compute a Wasserstein distance with an empty set of vectors")
    c = cost_matrix(a, b, p)
    wa = np.full(a.shape[0], 1.0 / a.shape[0])
    wb = np.full(b.shape[0], 1.0 / b.shape[0])
    cost = float(ot.emd2(wa, wb, c))
    return max(cost, 0.0) ** (1.0 / p)


def wmd(a: np.ndarray, b: np.ndarray) -> float:
    """Word Mover's Distance (1-Wasserstein, Euclidean ground cost)."""
    return wasserstein(a, b, 1.0)


def cosine_distance(u: np.ndarray, v: np.ndarray) -> float:
    """1 - cosine similarity, in [0, 2]; 0 for identical directions."""
    u = np.asarray(u, float)
    v = np.asarray(v, float)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        return 0.0 if nu == nv else 1.0
    return float(np.clip(1.0 - np.dot(u, v) / (nu * nv), 0.0, 2.0))


def mask_cosine_distance(masks: np.ndarray) -> np.ndarray:
    """Cosine distance between each row of ``masks`` and the all-ones vector: 1 - sqrt(k/d)."""
    masks = np.asarray(masks, dtype=float)
    d = masks.shape[1]
    k = masks.sum(axis=1)
    return np.clip(1.0 - np.sqrt(k / d), 0.0, 1.0)
