"""The drift gate: compare a run with a baseline prompt by prompt, and fail only on evidence.

``compare(baseline, current, thresholds)`` takes two runs loaded by ``load_run`` (each a
``metrics.json`` plus the ``per_prompt.csv`` beside it) and returns a ``GateReport``: one
row per model x dataset x method x metric with its verdict, and an overall verdict
``pass``, ``fail`` or ``insufficient``. ``xai-bench gate`` wraps it for CI.

Statistics
----------
Rows of the two ``per_prompt.csv`` files are paired by (model, dataset, method,
example_id). For every metric with a drop rule, the per-prompt difference is oriented so
that **positive = worse** (baseline - current for higher-is-better metrics, current -
baseline for lower-is-better ones; directions come from the metric registry,
``xai_bench.metrics.registry``). The gate computes the mean worsening over the pairs and
its two-sided Student t confidence interval (``scipy.stats.t``, level ``confidence``,
default 0.95; an interval of zero width when every difference is equal). The tolerance is
``max_abs_drop``, or ``max_rel_drop`` x |baseline mean over the same prompts| (the smaller
when both are given). A metric **fails only when the whole interval lies beyond the
tolerance** (lower bound > tolerance): a one-sided test at (1 - confidence) / 2 that the
mean worsening exceeds the tolerance, so the noise of a few changed answers does not fail
the gate, while a real regression on enough prompts does. With fewer than ``min_prompts``
pairs (default 5) the verdict is ``insufficient``, never pass or fail: below 5 pairs the t
quantile explodes (12.7 at 2 pairs, 4.3 at 3, 3.2 at 4, 2.8 at 5 for 95 %) and a single
changed answer moves the mean by a quarter or more of the metric's range, so neither a
pass nor a fail would mean anything. Identical runs give differences of 0 and pass.

``min_value`` / ``max_value`` are absolute requirements: they apply to the current run's
mean (``metrics.json``) whatever the number of prompts.

Undefined values never switch a check off. For a metric with a rule:

- a ``metrics.json`` value that is null or NaN (the schema never writes either) on one
  side or both fails the row and says which;
- prompts where the metric is defined on one side only (a number in one ``per_prompt.csv``,
  empty in the other) fail the row and name the prompts;
- prompts where it is undefined on both sides (e.g. ``att_auroc`` of a one-class rationale)
  are excluded from the pairs and counted (``n_excluded``).

Metrics with no rule (``seconds`` by default) are reported with the same statistics and
verdict ``info``; they never fail the gate.

Verdicts
--------
``pass``          every rule holds (the interval does not lie beyond the tolerance).
``fail``          a rule is broken: the interval lies beyond the tolerance, a min/max bound is
                  crossed, or a value is undefined on one side (see above).
``insufficient``  fewer than ``min_prompts`` pairs for a drop rule: no evidence either way.
``missing``       in the baseline but not in the current run: a model/dataset/method cell, a
                  metric, or prompts (the row's metric is ``prompts``); this fails the gate.
``new``           only in the current run (cells, metrics, prompts); informational.
``info``          a metric with no rule: reported, never gated; also every plausibility row
                  (``att_*``, agreement with human rationales) of a model/dataset cell where the
                  language model is not above chance on the task (``task_accuracy.above_chance``
                  false in either run's metrics.json): a model that cannot do the task gives no
                  verdict on a method's agreement with human rationales.

The overall verdict is ``fail`` when any row is ``fail`` or ``missing``, else
``insufficient`` when any row is ``insufficient``, else ``pass``. ``xai-bench gate`` exits 0
(pass), 1 (fail), 2 (unusable input: a file missing, unreadable or invalid, including a
missing ``per_prompt.csv``) or 3 (insufficient; ``--allow-insufficient`` makes it 0, the
verdict is still printed and written).

Inputs are read by :mod:`xai_bench.ops.runfolder`, thresholds by :mod:`xai_bench.ops.thresholds`;
the result types are in :mod:`xai_bench.ops.gate_report`, the pairing of prompts and the paired
interval in :mod:`xai_bench.ops.gate_pairs`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..metrics.accuracy import PLAUSIBILITY_METRICS
from .gate_pairs import Pairs, pair_values, paired_interval
from .gate_report import EXIT_CODES, GateReport, GateRow
from .runfolder import GateInputError, PerPrompt, RunData, is_mlflow_source, load_metrics, load_per_prompt, load_run
from .runfolder import metrics_cells
from .thresholds import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_PROMPTS,
    DEFAULT_THRESHOLDS,
    DROP_KEYS,
    RULE_KEYS,
    Direction,
    Thresholds,
    _parse_confidence,
    _parse_min_prompts,
    load_thresholds,
    metric_direction,
)

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_PROMPTS",
    "DEFAULT_THRESHOLDS",
    "EXIT_CODES",
    "RULE_KEYS",
    "GateInputError",
    "GateReport",
    "GateRow",
    "PerPrompt",
    "RunData",
    "Thresholds",
    "compare",
    "is_mlflow_source",
    "load_metrics",
    "load_per_prompt",
    "load_run",
    "load_thresholds",
    "metric_direction",
    "paired_interval",
]

_TOL = 1e-9  # a worsening equal to its tolerance passes despite float rounding
_SHOW_IDS = 5  # prompt ids named in a reason


def _is_aggregate_extra(metric: str, cell_metrics: Mapping[str, Any]) -> bool:
    """Interval bounds, ranges and counts that accompany a metric in metrics.json: never gated
    (``_ci_low``/``_ci_high`` from 10 prompts on, ``_min``/``_max`` below)."""
    if metric.endswith(("_ci_low", "_ci_high")):
        return True
    for suffix in ("_n", "_n_nan", "_min", "_max"):
        if metric.endswith(suffix) and metric[: -len(suffix)] in cell_metrics:
            return True
    return False


def _undefined(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_SHOW_IDS])
    return shown + (f", ... ({len(ids) - _SHOW_IDS} more)" if len(ids) > _SHOW_IDS else "")


# ---------------------------------------------------------------------------- comparison


def _describe(rule: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in rule.items()) if rule else "-"


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _judge(
    common: dict[str, Any],
    metric: str,
    base: Any,
    cur: Any,
    pairs: Pairs,
    rule: Mapping[str, float],
    direction: Direction | None,
    confidence: float,
    min_prompts: int,
    *,
    base_absent: bool = False,
) -> GateRow:
    """The row of one metric present in the current metrics.json (and in the baseline's unless ``base_absent``)."""
    stats: dict[str, Any] = {
        "baseline": _num(base),
        "current": _num(cur),
        "delta": None if _undefined(base) or _undefined(cur) else float(cur) - float(base),
        "direction": direction,
        "n_pairs": len(pairs.examples),
        "n_excluded": pairs.both_undefined,
        "n_only_baseline": len(pairs.only_base),
        "n_only_current": len(pairs.only_cur),
    }
    worse: list[float] = []
    if direction is not None:
        sign = 1.0 if direction == "higher" else -1.0  # positive = worse
        worse = [sign * (b - c) for b, c in zip(pairs.base, pairs.cur)]
        if worse:
            stats["mean_worse"] = sum(worse) / len(worse)
        if len(worse) >= 2:
            stats["mean_worse"], stats["ci_low"], stats["ci_high"] = paired_interval(worse, confidence)

    problems: list[str] = []
    if base_absent:
        problems.append(
            "absent from the baseline metrics.json (undefined on every baseline prompt) but defined in the current "
            "run; a missing baseline value cannot vouch for the current one"
        )
    elif _undefined(base):
        problems.append(
            f"the baseline metrics.json value is {base!r} where the current run has {cur!r}; metrics.json never "
            "holds null or NaN for a defined metric (docs/results-schema.md), so the baseline cannot vouch for "
            "this metric: regenerate it"
        )
    if _undefined(cur):
        problems.append(f"the current metrics.json value is {cur!r} where the baseline has {base!r}")
    if pairs.only_base:
        problems.append(
            f"defined in the baseline but undefined in the current run on {len(pairs.only_base)} prompt(s): "
            f"{_ids(pairs.only_base)}"
        )
    if pairs.only_cur and not base_absent:
        problems.append(
            f"undefined in the baseline but defined in the current run on {len(pairs.only_cur)} prompt(s): "
            f"{_ids(pairs.only_cur)}; a missing baseline value cannot vouch for the current one"
        )
    if not rule:
        note = "; ".join(problems)
        reason = "no rule: reported, not gated" + (f" ({note})" if note else "")
        return GateRow(**common, **stats, verdict="info", reason=reason)

    if not _undefined(cur):
        if "min_value" in rule and cur < rule["min_value"] - _TOL:
            problems.append(f"current mean {cur:.4g} < min_value {rule['min_value']:g}")
        if "max_value" in rule and cur > rule["max_value"] + _TOL:
            problems.append(f"current mean {cur:.4g} > max_value {rule['max_value']:g}")

    insufficient = ""
    drop_rules = {k: rule[k] for k in DROP_KEYS if k in rule}
    if drop_rules and direction is not None:
        n = len(worse)
        tolerances: list[tuple[float, str]] = []
        if "max_abs_drop" in drop_rules:
            tolerances.append((drop_rules["max_abs_drop"], f"max_abs_drop {drop_rules['max_abs_drop']:g}"))
        if "max_rel_drop" in drop_rules and n:
            base_mean = sum(pairs.base) / n
            tolerances.append((drop_rules["max_rel_drop"] * abs(base_mean),
                               f"max_rel_drop {drop_rules['max_rel_drop']:g} x |baseline mean {base_mean:.4g}|"))
        if tolerances:
            tol, tol_text = min(tolerances, key=lambda x: x[0])
            stats["tolerance"] = tol
        if n < min_prompts:
            insufficient = (
                f"only {n} paired prompt(s) with a value on both sides, fewer than min_prompts {min_prompts}: "
                "no evidence either way"
            )
        elif stats["ci_low"] > tol + _TOL:
            problems.append(
                f"worse by {stats['mean_worse']:.4g} on average over {n} prompts; the {confidence:.0%} CI "
                f"[{stats['ci_low']:.4g}, {stats['ci_high']:.4g}] lies entirely beyond the tolerance "
                f"{tol:.4g} ({tol_text})"
            )
    if problems:
        return GateRow(**common, **stats, verdict="fail", reason="; ".join(problems))
    if insufficient:
        return GateRow(**common, **stats, verdict="insufficient", reason=insufficient)
    return GateRow(**common, **stats, verdict="pass")


def _not_above_chance(doc: Mapping[str, Any], which: str) -> dict[tuple[str, str], str]:
    """(model, dataset) -> why, for the cells metrics.json flags as not above chance."""
    out: dict[tuple[str, str], str] = {}
    for model, per in (doc.get("task_accuracy") or {}).items():
        for dataset, v in (per or {}).items():
            if isinstance(v, Mapping) and v.get("above_chance") is False:
                out[(model, dataset)] = (f"the model is not above chance on this task in the {which} run (task accuracy "
                                         f"{v.get('task_accuracy', float('nan')):.3g} vs chance "
                                         f"{v.get('chance', float('nan')):.3g}, n={v.get('task_accuracy_n')})")
    return out


def _not_judged(row: GateRow, why: str) -> GateRow:
    was = f"; would have been {row.verdict}" + (f": {row.reason}" if row.reason else "")
    return dataclasses.replace(row, verdict="info",
                               reason=f"not judged: {why}, so agreement with human rationales says nothing about "
                                      f"the method{was}")


def compare(
    baseline: RunData,
    current: RunData,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    *,
    confidence: float | None = None,
    min_prompts: int | None = None,
    baseline_source: str | None = None,
    current_source: str | None = None,
) -> GateReport:
    """Compare two runs prompt by prompt (see the module docstring).

    ``confidence`` and ``min_prompts`` override the thresholds' values.
    """
    if not isinstance(baseline, RunData) or not isinstance(current, RunData):
        raise TypeError(
            "compare: expected two RunData (load_run(path_or_mlflow_run)), got "
            f"{type(baseline).__name__} and {type(current).__name__}; the gate needs per_prompt.csv beside metrics.json"
        )
    t = thresholds if isinstance(thresholds, Thresholds) else load_thresholds(thresholds)
    level = _parse_confidence("confidence", t.confidence if confidence is None else confidence)
    minp = _parse_min_prompts("min_prompts", t.min_prompts if min_prompts is None else min_prompts)
    base_cells, cur_cells = metrics_cells(baseline.metrics), metrics_cells(current.metrics)
    base_pp, cur_pp = baseline.per_prompt.by_cell(), current.per_prompt.by_cell()
    rows: list[GateRow] = []
    for cell, base_metrics in base_cells.items():
        model, dataset, method = cell
        cur_metrics = cur_cells.get(cell)
        b_prompts, c_prompts = base_pp.get(cell, {}), cur_pp.get(cell, {})
        if cur_metrics is None:
            for metric, base in base_metrics.items():
                if _is_aggregate_extra(metric, base_metrics):
                    continue
                rule = t.rule_for(model, dataset, method, metric)
                rows.append(GateRow(model=model, dataset=dataset, method=method, metric=metric, baseline=_num(base),
                                    rule=_describe(rule), verdict="missing",
                                    reason=f"{model}/{dataset}/{method} not in the current run"))
            continue
        gone = [e for e in b_prompts if e not in c_prompts]
        extra = [e for e in c_prompts if e not in b_prompts]
        if gone:
            rows.append(GateRow(model=model, dataset=dataset, method=method, metric="prompts", verdict="missing",
                                n_pairs=len(b_prompts) - len(gone),
                                reason=f"{len(gone)} baseline prompt(s) not in the current run: {_ids(gone)}"))
        if extra:
            rows.append(GateRow(model=model, dataset=dataset, method=method, metric="prompts", verdict="new",
                                reason=f"{len(extra)} prompt(s) only in the current run (not compared): {_ids(extra)}"))
        for metric, base in base_metrics.items():
            if _is_aggregate_extra(metric, base_metrics):
                continue
            rule = t.rule_for(model, dataset, method, metric)
            common = dict(model=model, dataset=dataset, method=method, metric=metric, rule=_describe(rule))
            if metric not in cur_metrics:
                rows.append(GateRow(**common, baseline=_num(base), verdict="missing",
                                    reason=f"metric {metric!r} not in the current run's metrics.json"))
                continue
            pairs = pair_values(metric, b_prompts, c_prompts)
            rows.append(_judge(common, metric, base, cur_metrics[metric], pairs, rule, t.direction(metric),
                               level, minp))
        for metric, cur in cur_metrics.items():
            if metric in base_metrics or _is_aggregate_extra(metric, cur_metrics):
                continue
            rule = t.rule_for(model, dataset, method, metric)
            common = dict(model=model, dataset=dataset, method=method, metric=metric, rule=_describe(rule))
            pairs = pair_values(metric, b_prompts, c_prompts)
            if rule and metric in baseline.per_prompt.metrics and pairs.only_cur:
                # the baseline run computed the metric but it was undefined on every prompt
                rows.append(_judge(common, metric, None, cur, pairs, rule, t.direction(metric), level, minp,
                                   base_absent=True))
            else:
                rows.append(GateRow(**common, current=_num(cur), verdict="new", reason="not in the baseline"))
    for cell, cur_metrics in cur_cells.items():
        if cell in base_cells:
            continue
        for metric, cur in cur_metrics.items():
            if _is_aggregate_extra(metric, cur_metrics):
                continue
            rows.append(GateRow(model=cell[0], dataset=cell[1], method=cell[2], metric=metric, current=_num(cur),
                                verdict="new", reason="model/dataset/method not in the baseline"))
    unjudged = {**_not_above_chance(baseline.metrics, "baseline"), **_not_above_chance(current.metrics, "current")}
    rows = [_not_judged(r, unjudged[(r.model, r.dataset)])
            if r.metric in PLAUSIBILITY_METRICS and (r.model, r.dataset) in unjudged and r.verdict != "info" else r
            for r in rows]
    return GateReport(
        rows=rows,
        baseline_source=baseline.source if baseline_source is None else baseline_source,
        current_source=current.source if current_source is None else current_source,
        thresholds_source=t.source,
        confidence=level,
        min_prompts=minp,
    )
