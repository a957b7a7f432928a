"""Fidelity of a surrogate to the black box (gSMILE paper section 4.4.5, eq. 16-22).

f = the black box's output shifts Delta_j, g = the surrogate's predictions, w = the
perturbation weights. Weighted R^2 uses weighted sums in numerator and denominator
(eq. 17 as printed omits the weights in the sums; we follow its references and
scikit-learn's ``r2_score(sample_weight=w)``).

Undefined values:
- R^2 is undefined (NaN; None in ``fidelity_stats``) when f is constant: there is no
  variance to explain. scikit-learn's default ``force_finite`` convention scores 1.0 there
  (0.0 for an imperfect fit), which would give a perfect fidelity to a surrogate of a model
  whose output never moved, i.e. to an explanation that learned nothing.
- In sample, every R^2 (plain, weighted, adjusted) is undefined when the residual degrees
  of freedom N_p - N_s - 1 are <= 0: a surrogate with as many parameters as samples fits
  them exactly whatever they are.
- Out of sample (held-out perturbations) there is no adjusted R^2: its degrees-of-freedom
  correction describes the data the surrogate was fitted on.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fidelity_stats", "r2", "weighted_r2"]


def _as_arrays(y: np.ndarray, y_hat: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, ...]:
    y = np.asarray(y, dtype=float).ravel()
    y_hat = np.asarray(y_hat, dtype=float).ravel()
    if y.shape != y_hat.shape:
        raise ValueError(f"y and y_hat must have the same length: expected {y.shape[0]}, got {y_hat.shape[0]}")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != y.shape:
        raise ValueError(f"weights must have the same length as y: expected {y.shape[0]}, got {w.shape[0]}")
    if y.size == 0:
        raise ValueError("fidelity needs at least one sample, got 0")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and >= 0")
    return y, y_hat, w


def weighted_r2(y: np.ndarray, y_hat: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Weighted coefficient of determination (eq. 17), range (-inf, 1], higher is better;
    NaN for a constant target (see the module docstring)."""
    y, y_hat, w = _as_arrays(y, y_hat, weights)
    if w.sum() <= 0:
        w = np.ones_like(y)
    mean = np.average(y, weights=w)
    ss_res = float(np.sum(w * (y - y_hat) ** 2))
    ss_tot = float(np.sum(w * (y - mean) ** 2))
    if ss_tot <= 1e-300 or np.ptp(y[w > 0]) == 0:  # constant target: nothing to explain
        return float("nan")
    return 1.0 - ss_res / ss_tot


def r2(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Coefficient of determination (eq. 16), range (-inf, 1], higher is better."""
    return weighted_r2(y, y_hat, None)


def fidelity_stats(
    y: np.ndarray, y_hat: np.ndarray, weights: np.ndarray | None, n_features: int, *, in_sample: bool = True
) -> dict[str, float | None]:
    """All fidelity figures of eq. 16-22 as a dict:
    r2, r2w, r2w_adj, wmse, wmae, l1 (mean absolute error), l2 (mean squared error).

    None marks an undefined value (module docstring): r2, r2w and r2w_adj for a constant
    target; in sample (``in_sample=True``, y_hat fitted on these y with n_features + 1
    parameters) all three when N_p - n_features - 1 <= 0; out of sample r2w_adj always."""
    y, y_hat, w = _as_arrays(y, y_hat, weights)
    n = y.size
    wsum = w.sum() if w.sum() > 0 else float(n)
    ww = w if w.sum() > 0 else np.ones_like(y)
    err = y - y_hat
    dof = n - n_features - 1
    defined = dof > 0 or not in_sample

    def finite(v: float) -> float | None:
        return v if defined and np.isfinite(v) else None

    r2w = finite(weighted_r2(y, y_hat, w))
    return {
        "r2": finite(r2(y, y_hat)),
        "r2w": r2w,
        "r2w_adj": (1.0 - (1.0 - r2w) * (n - 1) / dof) if in_sample and dof > 0 and r2w is not None else None,
        "wmse": float(np.sum(ww * err**2) / wsum),
        "wmae": float(np.sum(ww * np.abs(err)) / wsum),
        "l1": float(np.mean(np.abs(err))),
        "l2": float(np.mean(err**2)),
    }
