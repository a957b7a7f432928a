"""Attribution consistency: spread of each word's attribution over repeated runs.

gSMILE paper, section 4.4.4 and section 5.2.4 / Table 4: the same analysis is repeated
R times on the same prompt with different perturbation seeds (paper: R = 10 runs of
J = 64 perturbations); for each token the variance and standard deviation of its
attribution across runs are computed.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .registry import register_metric

__all__ = ["consistency", "per_token_consistency"]


def _as_runs(attribution_runs: Sequence[Sequence[float]] | np.ndarray, ddof: int) -> np.ndarray:
    runs = np.asarray(attribution_runs, dtype=np.float64)
    if runs.ndim != 2:
        raise ValueError(
            f"attribution_runs: expected a 2-D array (R runs, d words), got an array of shape {runs.shape}"
        )
    r, d = runs.shape
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ValueError(f"ddof: expected an integer >= 0, got {ddof!r}")
    if r <= ddof:
        raise ValueError(f"attribution_runs: expected more than ddof={ddof} runs (R > ddof), got R = {r}")
    if d == 0:
        raise ValueError("attribution_runs: expected at least 1 word (d >= 1), got d = 0")
    if not np.all(np.isfinite(runs)):
        run, word = (int(v[0]) for v in np.nonzero(~np.isfinite(runs)))
        raise ValueError(
            f"attribution_runs: expected finite numbers, got {float(runs[run, word])!r} at run {run}, word {word}"
        )
    return runs


def per_token_consistency(
    attribution_runs: Sequence[Sequence[float]] | np.ndarray, *, ddof: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Per-token (variance, standard deviation) across runs, each of shape (d,).

    Row r of ``attribution_runs`` (shape (R, d)) holds the attributions of the d words in
    run r; the words must be in the same order in every run. ``ddof=1`` (default) gives
    the sample variance sum((a - mean)^2) / (R - 1), an unbiased estimate of the
    run-to-run variance; ``ddof=0`` divides by R (numpy's default). The paper does not
    say which it used.
    """
    runs = _as_runs(attribution_runs, ddof)
    var = np.var(runs, axis=0, ddof=ddof)
    return var, np.sqrt(var)


@register_metric(
    "consistency_var",
    higher_is_better=False,
    range=(0.0, math.inf),
    description="mean over tokens of each token's attribution variance across repeated runs",
)
@register_metric(
    "consistency_std",
    higher_is_better=False,
    range=(0.0, math.inf),
    description="mean over tokens of each token's attribution standard deviation across repeated runs",
)
def consistency(attribution_runs: Sequence[Sequence[float]] | np.ndarray, *, ddof: int = 1) -> dict[str, float]:
    """ATT consistency of one prompt (gSMILE paper, section 4.4.4, Table 4).

    Definition. For each word i, the variance v_i and standard deviation s_i = sqrt(v_i)
    of its attribution over the R runs (rows of ``attribution_runs``, shape (R, d)),
    with ``ddof`` degrees of freedom removed (default 1: divide by R - 1; see
    ``per_token_consistency``). Then

        consistency_var = mean_i v_i
        consistency_std = mean_i s_i   (not sqrt(consistency_var); by Jensen's
                                        inequality it is at most that)

    Values are in the units of the attributions, which are not normalised, so they are
    only comparable between runs on the same output distance and scale.

    Range: both in [0, inf), LOWER is better (0 = identical attributions in every run).

    Raises ValueError when the input is not 2-D, has R <= ddof runs, no words, or
    non-finite values.
    """
    var, std = per_token_consistency(attribution_runs, ddof=ddof)
    return {"consistency_std": float(np.mean(std)), "consistency_var": float(np.mean(var))}
