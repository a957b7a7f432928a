"""Attribution accuracy: attributions scored against 0/1 ground-truth rationale masks.

gSMILE paper, section 4.4.1 (ATT accuracy; Table 1 reports ATT ACC, ATT F1, ATT AUROC).
AUPRC is added because rationales are usually a small minority of the words, where
AUROC can look good while precision is poor.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np

from ._arrays import TieSeed, as_binary_mask, as_scores, top_k_mask
from .registry import register_metric

__all__ = ["PLAUSIBILITY_METRICS", "attribution_accuracy", "binarize_attributions"]

Binarize = Literal["topk", "threshold"]


def binarize_attributions(
    attributions: Sequence[float] | np.ndarray,
    *,
    k: int | None = None,
    threshold: float | None = None,
    tie_seed: TieSeed = 0,
) -> np.ndarray:
    """Turn attributions into a 0/1 "predicted important" mask.

    Give exactly one of:
        k: the k words with the largest attributions are 1 (ties broken in a random
            order seeded by ``tie_seed``, the ranking rule of ``metrics._arrays``), all others 0.
        threshold: a word is 1 when its attribution is strictly greater than threshold.
    Larger attribution = more important (the sign convention of ``Explanation``).
    """
    scores = as_scores(attributions, "attributions")
    if (k is None) == (threshold is None):
        raise ValueError(f"Use just one of k or threshold; got k={k!r}, threshold={threshold!r}")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ValueError(f"k: expected an integer, got {type(k).__name__}")
        return top_k_mask(scores, int(k), tie_seed)
    thr = float(threshold)  # type: ignore[arg-type]
    if not math.isfinite(thr):
        raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
    return (scores > thr).astype(np.int8)


# Agreement with human rationales ("plausibility"): meaningful only for a model that can do
# the task; the report and the gate flag cells where the model is not above chance.
PLAUSIBILITY_METRICS = ("att_acc", "att_f1", "att_auroc", "att_auprc")


@register_metric("att_acc", higher_is_better=True, range=(0.0, 1.0), description="accuracy of binarised attributions")
@register_metric("att_f1", higher_is_better=True, range=(0.0, 1.0), description="F1 of binarised attributions")
@register_metric("att_auroc", higher_is_better=True, range=(0.0, 1.0), description="ROC AUC of attributions")
@register_metric("att_auprc", higher_is_better=True, range=(0.0, 1.0), description="average precision of attributions")
def attribution_accuracy(
    attributions: Sequence[float] | np.ndarray,
    rationale_mask: Sequence[int] | np.ndarray,
    *,
    binarize: Binarize = "topk",
    threshold: float | None = None,
    tie_seed: TieSeed = 0,
) -> dict[str, float]:
    """ATT ACC, ATT F1, ATT AUROC and ATT AUPRC of one prompt (gSMILE paper, section 4.4.1).

    Definition. The attributions of the d words are compared with the human rationale
    (1 = the word is part of the ground-truth rationale, 0 = not):

    - att_auroc: area under the ROC curve of the attributions as scores for the rationale
      labels (sklearn ``roc_auc_score``): the probability that a random rationale word
      gets a larger attribution than a random non-rationale word, ties counting 1/2.
      1 = perfect ranking, 0.5 = chance (the paper's "AttAUC"). Threshold-free.
    - att_auprc: average precision of the same ranking (sklearn
      ``average_precision_score``); chance level is the fraction of rationale words.
    - att_acc: fraction of words whose binarised attribution equals the label.
    - att_f1: F1 = 2 TP / (2 TP + FP + FN) of the binarised attribution (positive
      class = rationale word).

    Binarisation (for att_acc and att_f1):

    - ``binarize="topk"`` (default): the k words with the largest attributions are
      predicted important, k = number of rationale words of this prompt; ties are
      broken in a random order seeded by ``tie_seed`` (so constant attributions score
      chance, not the rationale's position). Because predicted and true sets have the
      same size, precision = recall = F1 here, and att_acc = 1 - 2 (k - TP) / d.
    - ``binarize="threshold"``: a word is predicted important when its attribution is
      strictly greater than ``threshold`` (required in this mode, forbidden otherwise).

    Larger attribution = more important (the sign convention of ``Explanation``).

    Undefined values are NaN, never a silent 0 or 1:
    - all four are NaN when the rationale mask has one class only (every word, or no
      word, is a rationale word). There is nothing to rank, and the top-k rule with
      k = d (or 0) would reproduce the mask whatever the attributions, scoring a
      perfect att_acc and att_f1 for an explanation that learned nothing. Making all
      four undefined on the same prompts also keeps their averages over one prompt set.
    - att_f1 is NaN when no word is predicted important and none should be
      (2 TP + FP + FN = 0); with a two-class mask this cannot happen in top-k mode.
    Aggregation over prompts (``aggregate.aggregate``) skips NaN and reports how many
    prompts contributed (``<metric>_n``) and how many were skipped (``<metric>_n_nan``).

    Range: every value in [0, 1], higher is better.

    Raises ValueError when the two inputs differ in length, are empty, the attributions
    are not finite or the mask holds values other than 0/1.
    """
    scores = as_scores(attributions, "attributions")
    mask = as_binary_mask(rationale_mask, "rationale_mask", length=scores.shape[0])
    if binarize == "topk":
        if threshold is not None:
            raise ValueError(
                f"threshold is only used with binarize='threshold'; got binarize='topk' and threshold={threshold!r}"
            )
        predicted = binarize_attributions(scores, k=int(mask.sum()), tie_seed=tie_seed)
    elif binarize == "threshold":
        if threshold is None:
            raise ValueError("binarize='threshold' needs a threshold: expected a finite number, got None")
        predicted = binarize_attributions(scores, threshold=threshold)
    else:
        raise ValueError(f"binarize: expected 'topk' or 'threshold', got {binarize!r}")

    d = mask.shape[0]
    n_pos = int(mask.sum())
    if not 0 < n_pos < d:  # one-class rationale: every metric undefined (see the docstring)
        return {"att_acc": math.nan, "att_f1": math.nan, "att_auroc": math.nan, "att_auprc": math.nan}
    tp = int(np.sum((predicted == 1) & (mask == 1)))
    fp = int(np.sum((predicted == 1) & (mask == 0)))
    fn = int(np.sum((predicted == 0) & (mask == 1)))
    acc = float(np.sum(predicted == mask)) / d
    f1_den = 2 * tp + fp + fn
    f1 = 2 * tp / f1_den if f1_den else math.nan

    # imported here: sklearn.metrics takes about a second to import, and the registry
    # (imported by DAG files and the CLI) must stay cheap.
    from sklearn.metrics import average_precision_score, roc_auc_score

    auroc = float(roc_auc_score(mask, scores))
    auprc = float(average_precision_score(mask, scores))
    return {"att_acc": acc, "att_f1": float(f1), "att_auroc": auroc, "att_auprc": auprc}
