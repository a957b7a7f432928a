"""Attribution faithfulness as the gSMILE paper defines it: a correlation across models.

gSMILE paper, section 4.4.2 (eq. 14) and Table 2: the Pearson correlation, across the
evaluated models, between each model's task accuracy and its attribution metric (ATT
ACC, ATT F1 or ATT AUROC averaged over prompts). With the paper's three models the
correlation has one degree of freedom, so read it as a descriptive number.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, NamedTuple

import numpy as np

from .registry import register_metric

__all__ = ["FaithfulnessResult", "faithfulness_pearson", "MIN_MODELS"]

MIN_MODELS = 3


class FaithfulnessResult(NamedTuple):
    """Pearson r and its two-sided p-value; NaN with ``reason`` when undefined.

    models: the models used, in sorted order. excluded: models dropped because one of
    their two values was NaN.
    """

    r: float
    p: float
    n_models: int
    reason: str | None = None
    models: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@register_metric(
    "faithfulness_pearson",
    higher_is_better=True,
    range=(-1.0, 1.0),
    aggregation="across_models",
    returns="value",
    description="Pearson r across models between task accuracy and an attribution metric",
)
def faithfulness_pearson(
    model_accuracy: Mapping[str, float],
    attribution_metric: Mapping[str, float],
) -> FaithfulnessResult:
    """ATT faithfulness: Pearson r between model accuracy and an attribution metric (paper eq. 14).

    Definition. With x_m the task accuracy of model m and y_m its attribution metric
    (e.g. mean att_auroc), r = sum (x - x̄)(y - ȳ) / sqrt(sum (x - x̄)^2 sum (y - ȳ)^2)
    over the models, computed with ``scipy.stats.pearsonr``; p is its two-sided p-value.
    A strong positive r means models that perform better also get attributions that
    agree better with human rationales.

    Both mappings must have the same model names. Models whose value is NaN in either
    mapping are excluded (listed in ``excluded``).

    Undefined cases return r = p = NaN with a ``reason`` (no warning is emitted):
    fewer than 3 models with values (with 2, r is always +-1), or a constant input
    (zero variance). Any other scipy warning is caught and reported in ``reason`` while
    r and p are kept.

    Range: r in [-1, 1], higher is better; p in [0, 1].

    Raises ValueError when the model names differ or a value is not a number.
    """
    acc_keys, att_keys = set(model_accuracy), set(attribution_metric)
    if acc_keys != att_keys:
        raise ValueError(
            "model_accuracy and attribution_metric: expected the same models, got "
            f"only in model_accuracy: {sorted(acc_keys - att_keys)}, "
            f"only in attribution_metric: {sorted(att_keys - acc_keys)}"
        )
    models = sorted(acc_keys)
    x_all: list[float] = []
    y_all: list[float] = []
    for m in models:
        pairs = (("model_accuracy", model_accuracy, x_all), ("attribution_metric", attribution_metric, y_all))
        for name, mapping, out in pairs:
            v = mapping[m]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or math.isinf(v):
                raise ValueError(f"{name}[{m!r}]: expected a finite number or NaN, got {v!r}")
            out.append(float(v))
    keep = [i for i in range(len(models)) if not (math.isnan(x_all[i]) or math.isnan(y_all[i]))]
    used = tuple(models[i] for i in keep)
    excluded = tuple(m for i, m in enumerate(models) if i not in keep)
    x = np.array([x_all[i] for i in keep])
    y = np.array([y_all[i] for i in keep])

    def undefined(reason: str) -> FaithfulnessResult:
        return FaithfulnessResult(math.nan, math.nan, len(used), reason, used, excluded)

    if len(used) < MIN_MODELS:
        return undefined(f"needs at least {MIN_MODELS} models with values, got {len(used)}")
    for name, arr in (("model_accuracy", x), ("attribution_metric", y)):
        if np.ptp(arr) == 0:
            return undefined(f"{name} is constant across models ({arr[0]!r}): the correlation is undefined")
    from scipy import stats  # imported here so that importing the registry stays cheap

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.pearsonr(x, y)
    r, p = float(res.statistic), float(res.pvalue)
    reason = "; ".join(str(w.message) for w in caught) or None
    if math.isnan(r):
        return undefined(reason or "scipy.stats.pearsonr returned NaN")
    return FaithfulnessResult(min(1.0, max(-1.0, r)), p, len(used), reason, used, excluded)
