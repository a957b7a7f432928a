"""Adaptive perturbation: sequential rounds of paired, size-stratified masks, stopped when the
top-k words of every configured method are stable under the bootstrap.

Fixed sampling (the paper's protocol, ``sampling: fixed``) spends J calls whatever the prompt.
``sampling: adaptive`` spends calls until the explanation stops changing, never more than
``n_perturbations`` perturbations:

1. **The original prompt as the all-ones anchor.** Its response is the original query, so it
   costs no call (the query layer deduplicates it). KernelSHAP (Lundberg & Lee, NeurIPS 2017)
   treats the full coalition the same way: a point it knows without sampling. Every adaptive
   design starts with it.
2. **Paired (antithetic) masks.** Every mask z comes with its complement 1 - z. The KernelSHAP
   reference implementation samples coalitions together with their complements, and Covert &
   Lee (AISTATS 2021, "Improving KernelSHAP: practical Shapley value estimation via linear
   regression") show that paired sampling cuts the variance of the regression estimate by
   large factors. In a pair every word is kept exactly once, so word coverage is balanced by
   construction, and for a linear surrogate y(z) - y(1 - z) carries no intercept and no
   even-order interaction.
3. **Stratified mask sizes.** Pair i of a round of m pairs keeps k words, k the (i + u) / m
   quantile of Binomial(d, keep_prob) restricted to 1..d-1 (u uniform): the sizes of a round
   cover the whole size distribution instead of clustering by chance (stratified sampling;
   KernelSHAP also allocates its samples over coalition sizes rather than leaving them to
   chance). The kept words are a uniform random subset of that size.
4. **Stopping on stability.** S-LIME (Zhou, Hooker & Wang, KDD 2021) chooses the number of
   perturbations by testing whether LIME's selected top features would change with more
   samples; BayLIME (Zhao et al., UAI 2021) and Slack et al. (NeurIPS 2021, "Reliable post hoc
   explanations: modeling uncertainty in explainability") put a posterior on the coefficients
   and ask for as many perturbations as a credible interval of a given width needs. Here,
   after every round each configured method's surrogate is refitted on ``adaptive_bootstrap``
   bootstrap resamples of the pairs drawn so far (a closed-form weighted ridge with the
   method's own kernel weights and output distance: a proxy of its surrogate, exact for
   "ridge" and for a determined "wlr"); the stability of the method is the mean Pearson
   correlation between the bootstrap attributions and the full-sample attributions, i.e. how
   much of the attribution pattern survives resampling (a signal-to-noise ratio: about
   sqrt(signal / (signal + noise)) variance). Sampling stops when the least stable method
   reaches ``adaptive_stability``, when ``n_perturbations`` masks are drawn, or when the mask
   space is used up. The explanation itself is then fitted by the ordinary ``fit_stage`` on
   every perturbation drawn, so adaptive and fixed explanations differ only in their masks.
   (A top-k Jaccard rule, tried first, never stops when fewer than k words matter: the k-th
   place is then a tie among words with no effect, reshuffled by every resample.)
   Pairs also make a flat result trustworthy: every word is removed in one mask of every
   pair, so when no word moves the output of a deterministic model after the first round,
   none will; the attributions are then constant and count as stable.

``AdaptiveSampler`` holds the design and the rule; ``explainer.adaptive_stages`` runs the rounds.
Rounds are ``adaptive_initial`` masks first, then ``adaptive_step`` more per round (both even:
pairs). Only the new prompts of a round are sent; p-values (when configured) are computed once,
on the final set. Everything is seeded by ``config.seed``. Output mode "text" only (the
configuration refuses the others with adaptive sampling).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import METHODS, ExplainConfig, MethodSpec

__all__ = ["AdaptiveTrace", "AdaptiveSampler", "paired_masks", "bootstrap_stability"]

_ENUMERATE_D = 14  # below this, unused complement pairs are enumerated when random draws collide


@dataclass(frozen=True, kw_only=True)
class AdaptiveTrace:
    """What the adaptive sampler did: masks after each round and the stability it measured."""

    sizes: list[int] = field(default_factory=list)  # perturbations (anchor included) after each round
    stability: list[float] = field(default_factory=list)  # least stable method's bootstrap correlation per round
    stopped: str = ""  # "stable", "budget" or "exhausted"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _size_cdf(d: int, keep_prob: float) -> np.ndarray:
    """CDF over k = 1..d-1 of Binomial(d, keep_prob) conditioned on 1 <= k <= d-1."""
    from scipy.stats import binom

    k = np.arange(1, d)
    pmf = binom.pmf(k, d, keep_prob)
    if not np.isfinite(pmf).all() or pmf.sum() <= 0:
        pmf = np.ones_like(k, dtype=float)
    return np.cumsum(pmf / pmf.sum())


def _all_unused_pairs(d: int, seen: set[bytes]) -> list[np.ndarray]:
    bits = np.arange(d)
    out = []
    for code in range(1, 2 ** (d - 1)):  # bit d-1 clear: each complement pair listed once
        z = ((code >> bits) & 1).astype(np.int8)
        if z.tobytes() not in seen and (1 - z).astype(np.int8).tobytes() not in seen:
            out.append(z)
    return out


def paired_masks(d: int, n_pairs: int, *, keep_prob: float, rng: np.random.Generator,
                 seen: set[bytes]) -> np.ndarray:
    """Up to ``n_pairs`` new complement pairs (2 rows each: z, 1 - z) over ``d`` words.

    Neither row is empty, all-ones or in ``seen`` (int8 byte keys; updated in place). Sizes are
    stratified over Binomial(d, keep_prob) (module docstring). Fewer pairs come back only when
    the unused mask space is exhausted. Returns an int8 array of shape (2 * pairs, d).
    """
    if n_pairs < 0:
        raise ValueError(f"The 'n_pairs' parameter must be an int >= 0. Got {n_pairs!r} instead.")
    if d < 2 or n_pairs == 0:
        return np.zeros((0, max(d, 0)), dtype=np.int8)
    cdf = _size_cdf(d, keep_prob)
    rows: list[np.ndarray] = []
    for i in range(n_pairs):
        u = (i + rng.random()) / n_pairs
        k = int(np.searchsorted(cdf, u, side="left")) + 1
        z = None
        for attempt in range(128):
            size = k if attempt < 64 else int(rng.integers(1, d))
            cand = np.zeros(d, dtype=np.int8)
            cand[rng.choice(d, size=size, replace=False)] = 1
            if cand.tobytes() not in seen and (1 - cand).astype(np.int8).tobytes() not in seen:
                z = cand
                break
        if z is None and d <= _ENUMERATE_D:
            unused = _all_unused_pairs(d, seen)
            if unused:
                z = unused[int(rng.integers(len(unused)))]
        if z is None:  # the mask space is used up
            break
        zc = (1 - z).astype(np.int8)
        seen.add(z.tobytes())
        seen.add(zc.tobytes())
        rows += [z, zc]
    return np.stack(rows) if rows else np.zeros((0, d), dtype=np.int8)


def _proxy_penalty(spec: MethodSpec, n_samples: int, d: int) -> float:
    """The ridge penalty of the closed-form proxy of ``spec``'s surrogate (module docstring)."""
    if spec.surrogate == "wlr" and n_samples > d + 1:
        return 1e-6  # least squares; the jitter only keeps resamples with repeated rows solvable
    return 1.0  # Ridge(alpha=1), the underdetermined "wlr" fallback, and Bay-LIME's ridge-like prior


def _weighted_ridge(z: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
    """Coefficients (B, d) of min sum_j w[b,j] (y_j - b0 - z_j.theta)^2 + lam |theta|^2 for every row b of w."""
    sw = w.sum(axis=1, keepdims=True)
    sw = np.where(sw > 0, sw, 1.0)
    zm = (w @ z) / sw  # weighted means (B, d)
    ym = (w @ y) / sw[:, 0]  # (B,)
    # sum_j w (z_j - zm)(z_j - zm)^T = Z^T W Z - sw zm zm^T
    a = np.einsum("bn,ni,nj->bij", w, z, z) - sw[:, :, None] * zm[:, :, None] * zm[:, None, :]
    rhs = w @ (z * y[:, None]) - sw * zm * ym[:, None]
    a = a + lam * np.eye(z.shape[1])[None]
    return np.linalg.solve(a, rhs[:, :, None])[:, :, 0]


def bootstrap_stability(masks: np.ndarray, y: np.ndarray, weights: np.ndarray, units: np.ndarray, *,
                        penalty: float, n_boot: int, rng: np.random.Generator) -> float:
    """Mean Pearson correlation between the attributions of ``n_boot`` bootstrap refits and of the full fit.

    Rows of ``masks``/``y``/``weights`` are grouped into resampling units by ``units`` (a pair's
    two masks share a unit; a unit id of -1 is kept once in every resample: the anchor).
    Attributions are minus the proxy ridge coefficients. A constant attribution vector (nothing
    moved the output) counts as perfectly stable: correlation 1.
    """
    z = np.asarray(masks, float)
    if z.shape[1] < 2:
        return 1.0
    pos = units >= 0
    ids, col = np.unique(units[pos], return_inverse=True)
    mult = np.ones((n_boot + 1, units.size))  # row 0: the full sample
    if ids.size:
        draws = rng.integers(0, ids.size, size=(n_boot, ids.size))
        counts = np.stack([np.bincount(r, minlength=ids.size) for r in draws])
        mult[1:, pos] = counts[:, col]
    w = mult * np.asarray(weights, float)[None, :]
    attributions = -_weighted_ridge(z, np.asarray(y, float), w, penalty)
    a = attributions - attributions.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(a, axis=1)
    scale = max(float(np.abs(attributions).max()), 1e-300)
    flat = norms <= 1e-9 * scale * np.sqrt(z.shape[1])
    corr = (a[1:] @ a[0]) / np.maximum(norms[1:] * norms[0], 1e-300)
    corr = np.where(flat[1:] & flat[0], 1.0, np.where(flat[1:] | flat[0], 0.0, corr))
    return float(np.mean(corr))


def _method_stability(spec: MethodSpec, dist: Any, errors: list[str | None], masks: np.ndarray, units: np.ndarray,
                      config: ExplainConfig, rng: np.random.Generator) -> float:
    from .surrogates import auto_sigma, gaussian_kernel, lime_kernel

    d_in = np.asarray(dist.iwmd if spec.input_distance == "wmd" else dist.mask_cosine, float)
    if spec.kernel == "gaussian":
        sigma = auto_sigma(d_in) if config.sigma == "auto" else float(config.sigma)
        weights = gaussian_kernel(d_in, sigma)
    else:
        weights = lime_kernel(d_in, config.lime_kernel_width)
    owmd, ocos = np.asarray(dist.owmd, float), np.asarray(dist.out_cosine, float)
    y = {"wmd": owmd, "cosine": ocos, "wmd+cosine": owmd + ocos}[spec.output_distance]
    ok = np.array([e is None for e in errors], dtype=bool)
    return bootstrap_stability(masks[ok], y[ok], weights[ok], units[ok],
                               penalty=_proxy_penalty(spec, int(ok.sum()), masks.shape[1]),
                               n_boot=config.adaptive_bootstrap, rng=rng)


class AdaptiveSampler:
    """The adaptive design and its stopping rule, round by round (module docstring).

    ``first()`` gives the first round's masks (the anchor first); after each round the caller
    measures the distances of every mask so far and asks ``next_masks(dist, errors)`` for the
    next round's masks, None once sampling has stopped (``trace.stopped`` says why).
    ``explainer.adaptive_stages`` runs the loop with the model queries.
    """

    def __init__(self, d: int, config: ExplainConfig) -> None:
        self.d = d
        self.config = config
        self.specs = [METHODS[m] for m in config.methods]
        self._rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xADA]))
        self._boot_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xB007]))
        self._seen: set[bytes] = set()
        self.masks = np.zeros((0, d), dtype=np.int8)
        self.units = np.zeros(0, dtype=int)
        self.trace = AdaptiveTrace()

    def _add(self, new: np.ndarray, units: np.ndarray) -> np.ndarray:
        self.masks = np.vstack([self.masks, new])
        self.units = np.concatenate([self.units, units])
        return new

    def first(self) -> np.ndarray:
        """The all-ones anchor and the first ``adaptive_initial`` masks (fewer if the cap or the space is smaller)."""
        anchor = np.ones((1, self.d), dtype=np.int8)
        self._seen.add(anchor[0].tobytes())
        new = paired_masks(self.d, min(self.config.adaptive_initial, self.config.n_perturbations - 1) // 2,
                           keep_prob=self.config.keep_prob, rng=self._rng, seen=self._seen)
        return self._add(np.vstack([anchor, new]), np.concatenate([[-1], np.repeat(np.arange(len(new) // 2), 2)]))

    def stability(self, dist: Any, errors: list[str | None]) -> float:
        """The least stable configured method's bootstrap stability on the masks so far."""
        return min(_method_stability(s, dist, errors, self.masks, self.units, self.config, self._boot_rng)
                   for s in self.specs)

    def next_masks(self, dist: Any, errors: list[str | None]) -> np.ndarray | None:
        """The next round's masks, or None when sampling stops (stable, budget or mask space used up)."""
        if len(errors) != len(self.masks):
            raise ValueError(f"expected the errors of all {len(self.masks)} masks so far, got {len(errors)}")
        stability = self.stability(dist, errors)
        self.trace.sizes.append(len(self.masks))
        self.trace.stability.append(round(stability, 6))
        room = self.config.n_perturbations - len(self.masks)
        if stability >= self.config.adaptive_stability:
            return self._stop("stable")
        if room < 2:
            return self._stop("budget")
        new = paired_masks(self.d, min(self.config.adaptive_step, room) // 2, keep_prob=self.config.keep_prob,
                           rng=self._rng, seen=self._seen)
        if len(new) == 0:
            return self._stop("exhausted")
        start = int(self.units.max()) + 1 if self.units.size else 0
        return self._add(new, start + np.repeat(np.arange(len(new) // 2), 2))

    def _stop(self, why: str) -> None:
        self.trace = dataclasses.replace(self.trace, stopped=why)
        return None
