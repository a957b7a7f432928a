"""Metrics of the benchmark: gSMILE paper section 4.4 plus ERASER's erasure metrics.

Every metric is a plain function registered under a stable name with its direction,
range and aggregation (``get_metric(name)``, ``list_metrics()``). Importing this
package imports every implementing module, so the registry is complete.

Families (one module each): attribution accuracy (``attribution_accuracy``), erasure
faithfulness (``erasure_masks`` then ``aopc``), stability (``minimal_changes`` then
``topk_jaccard``), consistency (``consistency``), faithfulness across models
(``faithfulness_pearson``), aggregation over prompts (``aggregate``, ``t_interval``, ``bootstrap_ci``)
and the random-attribution baseline (``random_attributions``). The fidelity family
(``fidelity.py``) is declared in the registry and implemented separately.
"""

from .registry import AGGREGATIONS, MetricInfo, declare_metric, get_metric, list_metrics, register_metric
from .accuracy import attribution_accuracy, binarize_attributions
from .aggregate import (
    AGGREGATE_SUFFIXES,
    INTERVAL_METHOD,
    MIN_INTERVAL_PROMPTS,
    ConfidenceInterval,
    aggregate,
    bootstrap_ci,
    t_interval,
)
from .consistency import consistency, per_token_consistency
from .erasure import ERASER_BINS, ErasureMask, aopc, erasure_k, erasure_masks
from .faithfulness import FaithfulnessResult, faithfulness_pearson
from .random_baseline import RANDOM_METHOD, random_attributions
from .reference import reference_spearman
from .stability import CHANGE_KINDS, SYNONYMS, MinimalChange, minimal_changes, topk_jaccard

__all__ = [
    # registry
    "AGGREGATIONS",
    "MetricInfo",
    "declare_metric",
    "get_metric",
    "list_metrics",
    "register_metric",
    # attribution accuracy
    "attribution_accuracy",
    "binarize_attributions",
    # erasure (ERASER)
    "ERASER_BINS",
    "ErasureMask",
    "aopc",
    "erasure_k",
    "erasure_masks",
    # stability
    "CHANGE_KINDS",
    "SYNONYMS",
    "MinimalChange",
    "minimal_changes",
    "topk_jaccard",
    # consistency
    "consistency",
    "per_token_consistency",
    # faithfulness across models
    "FaithfulnessResult",
    "faithfulness_pearson",
    # aggregation
    "AGGREGATE_SUFFIXES",
    "INTERVAL_METHOD",
    "MIN_INTERVAL_PROMPTS",
    "ConfidenceInterval",
    "aggregate",
    "bootstrap_ci",
    "t_interval",
    # random baseline
    "RANDOM_METHOD",
    "reference_spearman",
    "random_attributions",
]
