"""Gate thresholds: the YAML file, its validation, and which way each metric is better.

::

    version: 1
    confidence: 0.95          # level of the t-interval of the mean paired difference
    min_prompts: 5            # fewer pairs -> "insufficient"
    defaults:                 # metric -> rule, applied to every model/dataset/method
      att_auroc: {max_abs_drop: 0.05}
      fidelity_wmse: {max_rel_drop: 0.25}
    overrides:                # applied in order, later ones win; patterns are fnmatch
      - model: "local/*"      # optional, default "*"
        dataset: "*"          # optional, default "*"
        method: "lime"        # optional, default "*"
        metrics:
          att_auroc: {max_abs_drop: 0.10, min_value: 0.6}
          llm_calls: null     # null removes every rule of the metric here
    directions:               # optional: direction of metrics not known to xai-bench
      my_metric: higher       # "higher" or "lower" is better

A rule holds one or more of ``max_abs_drop`` (tolerated mean worsening, absolute units),
``max_rel_drop`` (tolerated mean worsening as a fraction of the baseline mean, 0.25 = 25 %),
``min_value`` / ``max_value`` (bounds on the current mean). An override's rule is merged
key by key into the default rule of the metric (a key set to null removes it). Keys ending
in ``_ci_low`` / ``_ci_high`` (bootstrap bounds) and ``<metric>_n`` (counts) are not
gated. Directions: the registry's ``higher_is_better``; a metric named
``<registered>_<suffix>`` (``stability_jaccard_append``) takes its registered stem's; the
cost counters ``seconds`` and ``llm_calls``, which are not explanation metrics and not in
the registry, are lower-is-better. With no thresholds file, ``DEFAULT_THRESHOLDS`` (also
shipped as ``configs/gate-thresholds.yaml``) applies; it gates ``llm_calls`` but not
``seconds`` (wall time depends on the machine's load).
"""

from __future__ import annotations

import copy
import fnmatch
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .runfolder import GateInputError

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_PROMPTS",
    "DEFAULT_THRESHOLDS",
    "RULE_KEYS",
    "Direction",
    "Thresholds",
    "load_thresholds",
    "metric_direction",
]

RULE_KEYS = ("max_abs_drop", "max_rel_drop", "min_value", "max_value")
DROP_KEYS = ("max_abs_drop", "max_rel_drop")
DEFAULT_CONFIDENCE = 0.95
DEFAULT_MIN_PROMPTS = 5

Direction = Literal["higher", "lower"]

DEFAULT_THRESHOLDS: dict[str, Any] = {
    "version": 1,
    "confidence": DEFAULT_CONFIDENCE,
    "min_prompts": DEFAULT_MIN_PROMPTS,
    "defaults": {
        "att_auroc": {"max_abs_drop": 0.05},
        "att_auprc": {"max_abs_drop": 0.05},
        "att_f1": {"max_abs_drop": 0.05},
        "fidelity_r2": {"max_abs_drop": 0.10},
        "stability_jaccard": {"max_abs_drop": 0.10},
        "comprehensiveness": {"max_abs_drop": 0.05},
        "sufficiency": {"max_abs_drop": 0.05},
        "consistency_std": {"max_abs_drop": 0.05},
        "fidelity_wmse": {"max_rel_drop": 0.25},
        "fidelity_wmae": {"max_rel_drop": 0.25},
        "fidelity_l1": {"max_rel_drop": 0.25},
        "fidelity_l2": {"max_rel_drop": 0.25},
        "llm_calls": {"max_rel_drop": 0.10},
    },
    "overrides": [],
    "directions": {},
}


def metric_direction(metric: str, extra: Mapping[str, str] | None = None) -> Direction | None:
    """Return "higher" or "lower" (which way is better) for ``metric``, or None if unknown.

    ``extra`` (the thresholds file's ``directions``) first, then the metric registry
    (:func:`xai_bench.metrics.registry.direction`: registered metrics, the cost counters
    ``seconds`` and ``llm_calls``, and ``<stem>_<suffix>`` names such as ``stability_jaccard_append``).
    """
    if extra and metric in extra:
        return extra[metric]  # type: ignore[return-value]
    from ..metrics import registry  # importing the package registers every metric

    return registry.direction(metric)


@dataclass(frozen=True, kw_only=True)
class _Override:
    model: str = "*"
    dataset: str = "*"
    method: str = "*"
    metrics: dict[str, dict[str, float] | None] = field(default_factory=dict)

    def matches(self, model: str, dataset: str, method: str) -> bool:
        return (
            fnmatch.fnmatchcase(model, self.model)
            and fnmatch.fnmatchcase(dataset, self.dataset)
            and fnmatch.fnmatchcase(method, self.method)
        )


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Validated gate thresholds; build with ``load_thresholds``."""

    defaults: dict[str, dict[str, float]]
    overrides: tuple[_Override, ...] = ()
    directions: dict[str, Direction] = field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE
    min_prompts: int = DEFAULT_MIN_PROMPTS
    source: str = "built-in defaults"

    def rule_for(self, model: str, dataset: str, method: str, metric: str) -> dict[str, float]:
        """The rule of ``metric`` for this model/dataset/method after every matching override."""
        rule = dict(self.defaults.get(metric, {}))
        for ov in self.overrides:
            if metric in ov.metrics and ov.matches(model, dataset, method):
                patch = ov.metrics[metric]
                if patch is None:
                    rule = {}
                    continue
                for key, value in patch.items():
                    if value is None:
                        rule.pop(key, None)
                    else:
                        rule[key] = value
        return rule

    def direction(self, metric: str) -> Direction | None:
        return metric_direction(metric, self.directions)


def _parse_rule(where: str, rule: Any, allow_null: bool) -> dict[str, float] | None:
    if rule is None and allow_null:
        return None
    if not isinstance(rule, dict) or not rule:
        raise GateInputError(f"{where} must be a mapping with one or more of {', '.join(RULE_KEYS)}. Got {rule!r}.")
    out: dict[str, Any] = {}
    for key, value in rule.items():
        if key not in RULE_KEYS:
            raise GateInputError(f"{where}: unknown rule {key!r}; expected one of {', '.join(RULE_KEYS)}.")
        if value is None and allow_null:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise GateInputError(f"{where}.{key} must be a finite number. Got {value!r} instead.")
        if key in DROP_KEYS and value < 0:
            raise GateInputError(f"{where}.{key} must be >= 0. Got {value!r} instead.")
        out[key] = float(value)
    return out


def _parse_confidence(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise GateInputError(f"{name}: 'confidence' must be a number in (0, 1), e.g. 0.95. Got {value!r} instead.")
    return float(value)


def _parse_min_prompts(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise GateInputError(
            f"{name}: 'min_prompts' must be an integer >= 2 (a t-interval needs two pairs). Got {value!r} instead."
        )
    return value


def _parse_thresholds(doc: Any, name: str) -> Thresholds:
    if not isinstance(doc, dict):
        raise GateInputError(f"{name}: expected a mapping with 'defaults' and optional 'overrides', got {doc!r:.60}.")
    known = {"version", "confidence", "min_prompts", "defaults", "overrides", "directions"}
    unknown = set(doc) - known
    if unknown:
        raise GateInputError(
            f"{name}: unknown top-level key(s) {sorted(unknown)}; expected {', '.join(sorted(known))}."
        )
    if doc.get("version", 1) != 1:
        raise GateInputError(f"{name}: expected 'version: 1', got {doc.get('version')!r}.")
    confidence = _parse_confidence(name, doc.get("confidence", DEFAULT_CONFIDENCE))
    min_prompts = _parse_min_prompts(name, doc.get("min_prompts", DEFAULT_MIN_PROMPTS))
    directions = doc.get("directions") or {}
    if not isinstance(directions, dict) or any(v not in ("higher", "lower") for v in directions.values()):
        raise GateInputError(f"{name}: 'directions' must map metric names to 'higher' or 'lower'. Got {directions!r}.")
    raw_defaults = doc.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        raise GateInputError(f"{name}: 'defaults' must map metric names to rules. Got {raw_defaults!r:.60}.")
    defaults = {str(m): _parse_rule(f"{name}: defaults.{m}", r, allow_null=False) for m, r in raw_defaults.items()}
    raw_overrides = doc.get("overrides") or []
    if not isinstance(raw_overrides, list):
        raise GateInputError(f"{name}: 'overrides' must be a list. Got {raw_overrides!r:.60}.")
    overrides = []
    for i, ov in enumerate(raw_overrides):
        where = f"{name}: overrides[{i}]"
        if not isinstance(ov, dict) or not isinstance(ov.get("metrics"), dict):
            raise GateInputError(f"{where} must be a mapping with a 'metrics' mapping. Got {ov!r:.80}.")
        extra = set(ov) - {"model", "dataset", "method", "metrics"}
        if extra:
            raise GateInputError(f"{where}: unknown key(s) {sorted(extra)}; expected model, dataset, method, metrics.")
        pats = {k: ov.get(k, "*") for k in ("model", "dataset", "method")}
        for k, pat in pats.items():
            if not isinstance(pat, str):
                raise GateInputError(f"{where}.{k} must be a string pattern. Got {pat!r} instead.")
        metrics = {str(m): _parse_rule(f"{where}.metrics.{m}", r, allow_null=True) for m, r in ov["metrics"].items()}
        overrides.append(_Override(metrics=metrics, **pats))
    thresholds = Thresholds(
        defaults=defaults,  # type: ignore[arg-type]
        overrides=tuple(overrides),
        directions=dict(directions),
        confidence=confidence,
        min_prompts=min_prompts,
        source=name,
    )
    for metric, rule in _all_rules(thresholds):
        if rule and (set(DROP_KEYS) & set(rule)) and thresholds.direction(metric) is None:
            raise GateInputError(
                f"{name}: metric {metric!r} has a drop rule but no known direction; "
                f"add 'directions: {{{metric}: higher}}' (or lower)."
            )
    return thresholds


def _all_rules(t: Thresholds) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from t.defaults.items()
    for ov in t.overrides:
        for metric, rule in ov.metrics.items():
            yield metric, {k: v for k, v in (rule or {}).items() if v is not None}


def load_thresholds(source: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> Thresholds:
    """Read gate thresholds from a YAML file or mapping; ``None`` gives ``DEFAULT_THRESHOLDS``."""
    if source is None:
        return _parse_thresholds(copy.deepcopy(DEFAULT_THRESHOLDS), "built-in defaults")
    if isinstance(source, Mapping):
        return _parse_thresholds(dict(source), "thresholds mapping")
    import yaml

    path = Path(source)
    if not path.is_file():
        raise GateInputError(f"{path}: thresholds file not found; see configs/gate-thresholds.yaml for the format.")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise GateInputError(f"{path}: cannot be read: {e}") from e
    except yaml.YAMLError as e:
        first = str(e).replace("\n", " ")
        raise GateInputError(f"{path}: invalid YAML: {first}") from e
    return _parse_thresholds(doc, str(path))
