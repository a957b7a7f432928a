"""The metric registry: every metric's stable name, direction, range and aggregation.

Metric functions register themselves with ``@register_metric(...)``; a function that
computes several metrics at once (``attribution_accuracy`` gives att_acc, att_f1, ...)
carries one decorator per name. Metrics implemented elsewhere (the fidelity family in
``fidelity.py``) are declared here by metadata and a lazy "module:function" reference,
so this module never imports an implementation.

Names are stable: they are the keys of ``metrics.json`` and of the per-prompt tables.

Aggregation values:
    "mean": one value per prompt; reports give the mean over prompts with a Student-t
        confidence interval from 10 prompts on, the min/max range below
        (``aggregate.aggregate``), skipping NaN with a count.
    "across_models": one value per set of models (faithfulness_pearson); it is computed
        from per-model aggregates and is never averaged over prompts.
"""

from __future__ import annotations

import difflib
import importlib
import math
from dataclasses import dataclass
from typing import Callable, Literal, TypeVar

__all__ = [
    "MetricInfo",
    "Aggregation",
    "AGGREGATIONS",
    "register_metric",
    "declare_metric",
    "get_metric",
    "list_metrics",
    "COST_COUNTERS",
    "direction",
    "find_metric",
]

Aggregation = Literal["mean", "across_models"]
AGGREGATIONS: tuple[str, ...] = ("mean", "across_models")

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True, kw_only=True)
class MetricInfo:
    """Metadata of one registered metric.

    name: the stable key (e.g. "att_auroc").
    higher_is_better: the direction in which the metric improves.
    range: (low, high) of attainable values; ``math.inf`` for unbounded ends.
    aggregation: how per-prompt values become a report value (see module docstring).
    implementation: "package.module:function" that computes it (resolved lazily).
    key: the key under which ``implementation``'s result dict holds this metric, when
        the function returns a dict with several metrics; None when it returns the
        value itself (or a result object).
    description: one line for reports and ``--help``.
    """

    name: str
    higher_is_better: bool
    range: tuple[float, float]
    aggregation: Aggregation = "mean"
    implementation: str
    key: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"metric name must be a non-empty identifier, got {self.name!r}")
        if len(self.range) != 2 or not (self.range[0] < self.range[1]):
            raise ValueError(f"metric {self.name!r}: range must be (low, high) with low < high, got {self.range!r}")
        if any(math.isnan(v) for v in self.range):
            raise ValueError(f"metric {self.name!r}: range must not contain NaN, got {self.range!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"metric {self.name!r}: aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}"
            )
        if ":" not in self.implementation:
            raise ValueError(
                f"metric {self.name!r}: implementation must be 'module:function', got {self.implementation!r}"
            )

    def function(self) -> Callable[..., object]:
        """Import and return the implementing function.

        Raises ImportError (chained) when the implementing module is not available.
        """
        module_name, _, attr = self.implementation.partition(":")
        try:
            module = importlib.import_module(module_name)
            obj: object = module
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise ImportError(
                f"metric {self.name!r} is implemented by {self.implementation!r}, which cannot be imported: {e}"
            ) from e
        if not callable(obj):
            raise ImportError(f"metric {self.name!r}: {self.implementation!r} is not callable")
        return obj

    def in_range(self, value: float) -> bool:
        """True when ``value`` lies in the declared closed range (NaN is not in range)."""
        return self.range[0] <= value <= self.range[1]


_REGISTRY: dict[str, MetricInfo] = {}


def _add(info: MetricInfo) -> None:
    old = _REGISTRY.get(info.name)
    if old is not None and old != info:
        raise ValueError(
            f"metric {info.name!r} is already registered with different metadata: "
            f"expected {old!r}, got {info!r}. Use a new name or register identical metadata."
        )
    _REGISTRY[info.name] = info


def register_metric(
    name: str,
    *,
    higher_is_better: bool,
    range: tuple[float, float],  # noqa: A002 - the name the metadata uses
    aggregation: Aggregation = "mean",
    returns: Literal["dict", "value"] = "dict",
    description: str = "",
) -> Callable[[F], F]:
    """Decorator: register the decorated function as the implementation of ``name``.

    returns: "dict" when the function returns a dict holding the metric under its own
        name (``MetricInfo.key == name``); "value" when it returns the value itself or a
        result object (``MetricInfo.key is None``).
    Registering the same name twice with identical metadata is a no-op; with different
    metadata it raises ValueError.
    """
    if returns not in ("dict", "value"):
        raise ValueError(f"returns: expected 'dict' or 'value', got {returns!r}")

    def decorator(fn: F) -> F:
        _add(
            MetricInfo(
                name=name,
                higher_is_better=higher_is_better,
                range=(float(range[0]), float(range[1])),
                aggregation=aggregation,
                implementation=f"{fn.__module__}:{fn.__qualname__}",
                key=name if returns == "dict" else None,
                description=description,
            )
        )
        return fn

    return decorator


def declare_metric(
    name: str,
    *,
    higher_is_better: bool,
    range: tuple[float, float],  # noqa: A002
    implementation: str,
    aggregation: Aggregation = "mean",
    key: str | None = None,
    description: str = "",
) -> MetricInfo:
    """Register metadata for a metric whose function lives in a module not imported here."""
    info = MetricInfo(
        name=name,
        higher_is_better=higher_is_better,
        range=(float(range[0]), float(range[1])),
        aggregation=aggregation,
        implementation=implementation,
        key=key,
        description=description,
    )
    _add(info)
    return info


def get_metric(name: str) -> MetricInfo:
    """The MetricInfo registered under ``name``.

    Raises KeyError naming close matches and every available name, e.g.
    "Unknown metric 'auroc'. Did you mean 'att_auroc'? Available: ...".
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        pass
    available = sorted(_REGISTRY)
    # difflib misses short queries inside long names ('jaccard' -> 'stability_jaccard'),
    # so names that contain the query are offered too.
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
    contains = [n for n in available if name and name.lower() in n.lower() and n not in close]
    suggestions = (close + contains)[:3]
    hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    raise KeyError(f"Unknown metric {name!r}.{hint} Available: {', '.join(available)}")


def list_metrics() -> list[MetricInfo]:
    """Every registered metric, sorted by name."""
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


# Cost counters written beside the metrics by benchmark/scoring.py: not explanation metrics (no
# implementing function, so not registered), but reports and the gate need their direction too.
# llm_calls: distinct prompts an explanation sends (cached or not); prompt_tokens / completion_tokens: their
# tokens as the provider counted them (explain.explainer.QueryStage.tokens), per prompt and method.
COST_COUNTERS: dict[str, bool] = {"seconds": False, "llm_calls": False, "prompt_tokens": False,
                                  "completion_tokens": False}  # name -> higher_is_better


def direction(name: str) -> Literal["higher", "lower"] | None:
    """Which way ``name`` improves ("higher" or "lower"), or None when it is not known here.

    A registered metric, a cost counter, or ``<metric>_<suffix>`` for the longest registered
    stem (``stability_jaccard_append`` is ``stability_jaccard`` on one kind of change). The one
    owner of every metric's direction: the gate and the report ask here.
    """
    if name in COST_COUNTERS:
        return "higher" if COST_COUNTERS[name] else "lower"
    info = find_metric(name)
    return None if info is None else ("higher" if info.higher_is_better else "lower")


def find_metric(name: str) -> MetricInfo | None:
    """The MetricInfo of ``name``, or of its longest registered stem when ``name`` is
    ``<metric>_<suffix>`` (``stability_jaccard_append`` -> ``stability_jaccard``); None if neither."""
    parts = name.split("_")
    for end in range(len(parts), 0, -1):
        info = _REGISTRY.get("_".join(parts[:end]))
        if info is not None:
            return info
    return None


# Fidelity of the surrogate (paper eq. 16-22). Implemented in fidelity.py by
# ``fidelity_stats(y, y_hat, weights, n_features) -> dict``; the "_heldout" variants
# are the same statistics on a fresh set of perturbations the surrogate was not fit on.
# ``key`` is the name fidelity_stats gives the statistic (fidelity_r2w_adj -> "r2w_adj").
_FIDELITY_IMPL = "xai_bench.metrics.fidelity:fidelity_stats"
_FIDELITY: tuple[tuple[str, bool, tuple[float, float], str], ...] = (
    ("fidelity_r2", True, (-math.inf, 1.0), "R^2 of the surrogate against the output shifts (eq. 16)"),
    ("fidelity_r2w", True, (-math.inf, 1.0), "weighted R^2 (eq. 17)"),
    ("fidelity_r2w_adj", True, (-math.inf, 1.0), "weighted adjusted R^2, N_s = number of features (eq. 18)"),
    ("fidelity_wmse", False, (0.0, math.inf), "weighted mean squared error (eq. 19)"),
    ("fidelity_wmae", False, (0.0, math.inf), "weighted mean absolute error (eq. 20)"),
    ("fidelity_l1", False, (0.0, math.inf), "mean L1 (absolute) error (eq. 21)"),
    ("fidelity_l2", False, (0.0, math.inf), "mean L2 (squared) error (eq. 22)"),
)
for _name, _hib, _range, _desc in _FIDELITY:
    _key = _name.removeprefix("fidelity_")
    declare_metric(
        _name, higher_is_better=_hib, range=_range, implementation=_FIDELITY_IMPL, key=_key, description=_desc
    )
    declare_metric(
        f"{_name}_heldout",
        higher_is_better=_hib,
        range=_range,
        implementation=_FIDELITY_IMPL,
        key=_key,
        description=f"{_desc}, on held-out perturbations",
    )
del _name, _hib, _range, _desc, _key
