"""Kernels and local surrogate models fitted to (mask, output shift, weight) triples.

Kernels
- gSMILE (eq. 4 / 12): w = exp(-(d / sigma)^2), d = IWMD. ``sigma="auto"`` uses the median
  of the non-zero distances (the median sample gets weight e^-1; at least half of the
  weights are >= 0.37), so the weights never collapse.
- LIME: w = sqrt(exp(-d^2 / width^2)), d = cosine distance of the masks (LIME's text default,
  width 0.25 on the unscaled cosine distance, i.e. LIME's 25 on distances x 100).

Surrogates (scikit-learn): "wlr" weighted least squares (eq. 6, LinearRegression with
sample weights); "ridge" LIME's Ridge(alpha=1); "bayesian_ridge" Bay-LIME's BayesianRidge.
All return the raw coefficients theta (attribution = -theta, see ``Explanation``).

Underdetermined fits. A surrogate over d words has d + 1 parameters (the intercept
included). With N <= d + 1 samples, least squares has no residual degrees of freedom: it
interpolates the samples exactly (or, with N < d + 1, picks one of infinitely many exact
solutions), whatever the model did. Our call: **fall back, do not refuse**. "wlr" is then
fitted as ridge (alpha = 1, LIME's surrogate), which has a unique, shrunken solution;
"ridge" and "bayesian_ridge" are regularised already and stay. In every case the fit's
in-sample R², weighted R² and adjusted R² are undefined (None), and ``SurrogateFit.warning``
says so and how many samples a determined fit needs (d + 2), so that the explanation
carries it. Refusing would drop long prompts from a benchmark without a trace; a flagged,
regularised estimate keeps them visible and honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics.fidelity import fidelity_stats

__all__ = ["gaussian_kernel", "lime_kernel", "auto_sigma", "SurrogateFit", "fit_surrogate", "SURROGATES",
           "UNDERDETERMINED", "underdetermined_warning", "is_underdetermined_warning"]

SURROGATES = ("wlr", "ridge", "bayesian_ridge")
UNDERDETERMINED = "The fit is underdetermined"  # how the warning starts: reports count explanations by it


def auto_sigma(distances: np.ndarray) -> float:
    """The documented default kernel width: median of the non-zero distances (1.0 if none)."""
    d = np.asarray(distances, float)
    nz = d[d > 1e-12]
    return float(np.median(nz)) if nz.size else 1.0


def gaussian_kernel(distances: np.ndarray, sigma: float) -> np.ndarray:
    """gSMILE's eq. 4: exp(-(d/sigma)^2), values in (0, 1]."""
    if not sigma > 0:
        raise ValueError(f"The 'sigma' parameter must be a float in the range (0, inf). Got {sigma!r} instead.")
    return np.exp(-((np.asarray(distances, float) / sigma) ** 2))


def lime_kernel(distances: np.ndarray, width: float = 0.25) -> np.ndarray:
    """LIME's kernel: sqrt(exp(-d^2 / width^2))."""
    if not width > 0:
        raise ValueError(f"The 'width' parameter must be a float in the range (0, inf). Got {width!r} instead.")
    return np.sqrt(np.exp(-(np.asarray(distances, float) ** 2) / width**2))


@dataclass(frozen=True, kw_only=True)
class SurrogateFit:
    coefficients: np.ndarray  # raw theta, one per feature
    intercept: float
    predictions: np.ndarray  # in-sample h(z_j)
    fit: dict[str, float | None]  # fidelity statistics, in-sample
    kind: str = "wlr"  # the surrogate actually fitted ("ridge" when "wlr" was underdetermined)
    warning: str | None = None  # set when the fit is underdetermined (module docstring)

    def predict(self, masks: np.ndarray) -> np.ndarray:
        return np.asarray(masks, float) @ self.coefficients + self.intercept


def underdetermined_warning(n_samples: int, n_features: int, requested: str, fitted: str) -> str:
    """The warning an underdetermined fit carries: what happened and how many samples are needed."""
    fallback = ("the weighted least-squares surrogate was replaced by ridge (alpha = 1)" if requested != fitted
                else f"the {requested} surrogate is regularised, so its attributions are shrunken estimates")
    return (f"{UNDERDETERMINED}: {n_samples} perturbation(s) were fitted for {n_features + 1} parameters "
            f"({n_features} words + intercept), so any surrogate can reproduce them exactly. At least "
            f"{n_features + 2} successful perturbations are needed for a determined fit (J >= {n_features + 2}; "
            f"several times more for a stable one). {fallback[0].upper() + fallback[1:]}, and fidelity R² "
            "(plain, weighted, adjusted) is undefined.")


def is_underdetermined_warning(warning: str) -> bool:
    """True for the warning ``underdetermined_warning`` writes (for counting it in reports)."""
    return isinstance(warning, str) and warning.startswith(UNDERDETERMINED)


def fit_surrogate(masks: np.ndarray, y: np.ndarray, weights: np.ndarray, kind: str = "wlr") -> SurrogateFit:
    """Fit h(z) = theta_0 + theta . z to the shifts y with sample weights (see module docstring).

    With N <= d + 1 samples the fit is underdetermined: "wlr" falls back to ridge, R² is
    None and ``warning`` says so (module docstring)."""
    from sklearn.linear_model import BayesianRidge, LinearRegression, Ridge

    z = np.asarray(masks, float)
    y = np.asarray(y, float)
    w = np.asarray(weights, float)
    if z.ndim != 2 or z.shape[0] != y.shape[0] or w.shape != y.shape:
        raise ValueError(f"expected masks (J, d), y (J,), weights (J,); got {z.shape}, {y.shape}, {w.shape}")
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(w)):
        raise ValueError("output shifts and weights must be finite")
    if w.sum() <= 0:
        w = np.ones_like(w)
    if kind not in SURROGATES:
        raise ValueError(f"Unknown surrogate {kind!r}. Available: {', '.join(SURROGATES)}.")
    requested = kind
    underdetermined = z.shape[0] <= z.shape[1] + 1
    if underdetermined and kind == "wlr":
        kind = "ridge"
    if kind == "wlr":
        model = LinearRegression()
    elif kind == "ridge":
        model = Ridge(alpha=1.0)
    else:
        model = BayesianRidge()
    if np.ptp(y) == 0:  # constant target: every word is irrelevant; avoid degenerate solver paths
        coef = np.zeros(z.shape[1])
        intercept = float(y[0]) if y.size else 0.0
    elif kind == "bayesian_ridge":
        # BayesianRidge's hyper-priors are not scale-free: fit on standardised y, scale back.
        centre, scale = float(np.average(y, weights=w)), float(np.std(y)) or 1.0
        model.fit(z, (y - centre) / scale, sample_weight=w)
        coef = np.asarray(model.coef_, float).ravel() * scale
        intercept = float(model.intercept_) * scale + centre
    else:
        model.fit(z, y, sample_weight=w)
        coef = np.asarray(model.coef_, float).ravel()
        intercept = float(model.intercept_)
    coef = np.where(np.isfinite(coef), coef, 0.0)
    pred = z @ coef + intercept
    warning = underdetermined_warning(z.shape[0], z.shape[1], requested, kind) if underdetermined else None
    return SurrogateFit(coefficients=coef, intercept=intercept, predictions=pred,
                        fit=fidelity_stats(y, pred, w, n_features=z.shape[1]), kind=kind, warning=warning)
