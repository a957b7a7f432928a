"""The drift gate: compare a run's ``metrics.json`` with a baseline and fail on regressions.

``compare(baseline, current, thresholds)`` checks every metric of every
model x dataset x method in the baseline against the current run and returns a
``GateReport`` whose ``passed`` is False when any metric regressed beyond its threshold
or disappeared. ``xai-bench gate`` wraps it for CI (exit 0 pass, 1 regression, 2 bad input).

Inputs
------
``load_metrics(source)`` reads a ``metrics.json`` (schema version 1)::

    {"schema_version": 1,
     "run": {"run_id": ..., "created": ..., "config_hash": ..., "seed": 0},
     "results": {MODEL: {DATASET: {METHOD: {METRIC: number or null, ...}}}}}

``source`` is a path, or an MLflow run as ``mlflow:<run_id>`` or ``runs:/<run_id>``, whose
``metrics.json`` artifact is downloaded from the tracking server named by
``MLFLOW_TRACKING_URI``.

Thresholds file (YAML)
----------------------
::

    version: 1
    defaults:                 # metric -> rule, applied to every model/dataset/method
      att_auroc: {max_abs_drop: 0.05}
      fidelity_wmse: {max_rel_drop: 0.25}
    overrides:                # applied in order, later ones win; patterns are fnmatch
      - model: "local/*"      # optional, default "*"
        dataset: "*"          # optional, default "*"
        method: "lime"        # optional, default "*"
        metrics:
          att_auroc: {max_abs_drop: 0.10, min_value: 0.6}
          seconds: null       # null removes every rule of the metric here
    directions:               # optional: direction of metrics not known to xai-bench
      my_metric: higher       # "higher" or "lower" is better

A rule holds one or more of:

``max_abs_drop``
    the metric may get worse by at most this much (absolute units).
``max_rel_drop``
    the metric may get worse by at most this fraction of the baseline value
    (0.25 = 25 %).
``min_value`` / ``max_value``
    the current value must be at least / at most this, whatever the baseline.

"Worse" follows the metric's direction: a fall for higher-is-better metrics
(``att_*``, ``fidelity_r2*``, ``stability_jaccard``, ``comprehensiveness``), a rise for
lower-is-better ones (``consistency_std``, ``fidelity_wmse``, ``fidelity_wmae``,
``fidelity_l1``, ``fidelity_l2``, ``sufficiency``, ``seconds``, ``llm_calls``). An override's
rule is merged key by key into the default rule of the metric (a key set to null removes it).
Keys ending in ``_ci_low`` / ``_ci_high`` are confidence bounds and are not gated.
With no thresholds file, ``DEFAULT_THRESHOLDS`` (also shipped as
``configs/gate-thresholds.yaml``) applies.

Verdicts
--------
``pass``     the metric holds every rule (or has no rule).
``fail``     a rule is broken, or the current value is null where the baseline had one.
``missing``  the metric, method, dataset or model is in the baseline but not in the current
             run; this fails the gate.
``new``      only in the current run; informational, never fails the gate.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import XaiBenchError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "RULE_KEYS",
    "GateInputError",
    "GateReport",
    "GateRow",
    "Thresholds",
    "compare",
    "load_metrics",
    "load_thresholds",
    "metric_direction",
]

SCHEMA_VERSION = 1
RULE_KEYS = ("max_abs_drop", "max_rel_drop", "min_value", "max_value")
_TOL = 1e-9  # a drop equal to its threshold passes despite float rounding

Verdict = Literal["pass", "fail", "missing", "new"]
Direction = Literal["higher", "lower"]

_HIGHER_EXACT = {"stability_jaccard", "comprehensiveness"}
_HIGHER_PREFIXES = ("att_", "fidelity_r2")
_LOWER_EXACT = {
    "consistency_std",
    "fidelity_wmse",
    "fidelity_wmae",
    "fidelity_l1",
    "fidelity_l2",
    "sufficiency",
    "seconds",
    "llm_calls",
}

DEFAULT_THRESHOLDS: dict[str, Any] = {
    "version": 1,
    "defaults": {
        "att_auroc": {"max_abs_drop": 0.05},
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
        "seconds": {"max_rel_drop": 2.0},
    },
    "overrides": [],
    "directions": {},
}


class GateInputError(XaiBenchError):
    """A metrics file or thresholds file cannot be used; the message names it and the problem."""


def metric_direction(metric: str, extra: Mapping[str, str] | None = None) -> Direction | None:
    """Return "higher" or "lower" (which way is better) for ``metric``, or None if unknown."""
    if extra and metric in extra:
        return extra[metric]  # type: ignore[return-value]
    if metric in _LOWER_EXACT:
        return "lower"
    if metric in _HIGHER_EXACT or metric.startswith(_HIGHER_PREFIXES):
        return "higher"
    return None


def _is_ci_bound(metric: str) -> bool:
    return metric.endswith(("_ci_low", "_ci_high"))


# ---------------------------------------------------------------------------- metrics input


def _is_mlflow_source(source: str) -> bool:
    return source.startswith(("mlflow:", "runs:/"))


def _download_mlflow_metrics(source: str, dst: str) -> Path:
    run_id = source[len("mlflow:") :] if source.startswith("mlflow:") else source[len("runs:/") :]
    run_id = run_id.strip("/").split("/", 1)[0]
    if not run_id:
        raise GateInputError(f"{source}: expected an MLflow run id as 'mlflow:<run_id>' or 'runs:/<run_id>'.")
    try:
        import mlflow
    except ImportError as e:
        raise GateInputError(f"{source}: reading an MLflow run needs the 'mlflow' package; install it.") from e
    uri = os.environ.get("MLFLOW_TRACKING_URI", "(default ./mlruns)")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="metrics.json", dst_path=dst)
    except Exception as e:  # mlflow raises MlflowException, OSError, requests errors ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GateInputError(
            f"{source}: could not download artifact 'metrics.json' of MLflow run {run_id!r} "
            f"from tracking URI {uri}: {first}"
        ) from e
    return Path(local)


def _read_source(src: str) -> str:
    if _is_mlflow_source(src):
        with tempfile.TemporaryDirectory(prefix="xai-bench-gate-") as dst:
            return _read_file(_download_mlflow_metrics(src, dst), src)
    return _read_file(Path(src), src)


def _read_file(path: Path, name: str) -> str:
    if not path.exists():
        raise GateInputError(f"{name}: file not found; pass the path of a metrics.json written by a run.")
    if path.is_dir():
        raise GateInputError(f"{name}: is a directory; pass the metrics.json file inside it.")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GateInputError(f"{name}: cannot be read: {e}") from e


def _check_number(where: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GateInputError(f"{where} must be a number or null. Got {value!r} instead.")


def _validate_metrics(doc: Any, name: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise GateInputError(f"{name}: expected a JSON object at the top level, got {type(doc).__name__}.")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise GateInputError(
            f"{name}: expected 'schema_version': {SCHEMA_VERSION}, got {version!r}. "
            "Is this a metrics.json written by xai-bench?"
        )
    if "run" in doc and not isinstance(doc["run"], dict):
        raise GateInputError(f"{name}: 'run' must be an object, got {type(doc['run']).__name__}.")
    results = doc.get("results")
    if not isinstance(results, dict):
        raise GateInputError(f"{name}: expected 'results' to be an object of models, got {results!r:.60}.")
    for model, datasets in results.items():
        if not isinstance(datasets, dict):
            raise GateInputError(f"{name}: results[{model!r}] must be an object of datasets.")
        for dataset, methods in datasets.items():
            if not isinstance(methods, dict):
                raise GateInputError(f"{name}: results[{model!r}][{dataset!r}] must be an object of methods.")
            for method, metrics in methods.items():
                where = f"{name}: results[{model!r}][{dataset!r}][{method!r}]"
                if not isinstance(metrics, dict):
                    raise GateInputError(f"{where} must be an object of metrics.")
                for metric, value in metrics.items():
                    _check_number(f"{where}[{metric!r}]", value)
    return doc


def load_metrics(source: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a ``metrics.json`` from a path or an MLflow run (``mlflow:<id>``, ``runs:/<id>``).

    Raises GateInputError naming the source when it is missing, not JSON or not schema 1.
    """
    name = os.fspath(source)
    text = _read_source(name)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise GateInputError(f"{name}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}.") from e
    return _validate_metrics(doc, name)


# ---------------------------------------------------------------------------- thresholds


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
        if key in ("max_abs_drop", "max_rel_drop") and value < 0:
            raise GateInputError(f"{where}.{key} must be >= 0. Got {value!r} instead.")
        out[key] = float(value)
    return out


def _parse_thresholds(doc: Any, name: str) -> Thresholds:
    if not isinstance(doc, dict):
        raise GateInputError(f"{name}: expected a mapping with 'defaults' and optional 'overrides', got {doc!r:.60}.")
    unknown = set(doc) - {"version", "defaults", "overrides", "directions"}
    if unknown:
        raise GateInputError(
            f"{name}: unknown top-level key(s) {sorted(unknown)}; expected version, defaults, overrides, directions."
        )
    if doc.get("version", 1) != 1:
        raise GateInputError(f"{name}: expected 'version: 1', got {doc.get('version')!r}.")
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
        source=name,
    )
    for metric, rule in _all_rules(thresholds):
        if rule and ({"max_abs_drop", "max_rel_drop"} & set(rule)) and thresholds.direction(metric) is None:
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


# ---------------------------------------------------------------------------- comparison


@dataclass(frozen=True, kw_only=True)
class GateRow:
    """One compared metric. ``delta`` is current - baseline; ``rule`` describes the rule applied."""

    model: str
    dataset: str
    method: str
    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    rule: str
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class GateReport:
    """Every compared metric; ``passed`` is False when any row is "fail" or "missing"."""

    rows: list[GateRow]
    baseline_source: str = ""
    current_source: str = ""
    thresholds_source: str = ""

    @property
    def passed(self) -> bool:
        return not any(r.verdict in ("fail", "missing") for r in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "missing": 0, "new": 0}
        for r in self.rows:
            out[r.verdict] += 1
        return out

    @property
    def failures(self) -> list[GateRow]:
        return [r for r in self.rows if r.verdict in ("fail", "missing")]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: verdict, counts, sources and every row."""
        return {
            "passed": self.passed,
            "verdict": "pass" if self.passed else "fail",
            "counts": self.counts,
            "baseline": self.baseline_source,
            "current": self.current_source,
            "thresholds": self.thresholds_source,
            "rows": [{k: _json_num(v) for k, v in asdict(r).items()} for r in self.rows],
        }


def _json_num(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _describe(rule: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in rule.items()) if rule else "-"


def _judge(
    metric: str, base: float | None, cur: float | None, rule: dict[str, float], t: Thresholds
) -> tuple[Verdict, str]:
    base_ok = base is not None and math.isfinite(base)
    if cur is None or not math.isfinite(cur):
        if base_ok:
            return "fail", f"current value is {cur!r} where the baseline was {base:g}"
        return "pass", "no value in either run"
    problems = []
    if "min_value" in rule and cur < rule["min_value"] - _TOL:
        problems.append(f"{cur:g} < min_value {rule['min_value']:g}")
    if "max_value" in rule and cur > rule["max_value"] + _TOL:
        problems.append(f"{cur:g} > max_value {rule['max_value']:g}")
    direction = t.direction(metric)
    if base_ok and direction is not None:
        drop = (base - cur) if direction == "higher" else (cur - base)
        if "max_abs_drop" in rule and drop > rule["max_abs_drop"] + _TOL:
            problems.append(f"worse by {drop:g} > max_abs_drop {rule['max_abs_drop']:g}")
        if "max_rel_drop" in rule and drop > 0:
            rel = drop / abs(base) if base != 0 else math.inf
            if rel > rule["max_rel_drop"] + _TOL:
                problems.append(f"worse by {rel:.1%} > max_rel_drop {rule['max_rel_drop']:.1%}")
    return ("fail", "; ".join(problems)) if problems else ("pass", "")


def _metrics_of(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    results = doc.get("results", doc)
    return {
        (model, dataset, method): metrics
        for model, datasets in results.items()
        for dataset, methods in datasets.items()
        for method, metrics in methods.items()
    }


def compare(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    *,
    baseline_source: str = "",
    current_source: str = "",
) -> GateReport:
    """Compare two loaded ``metrics.json`` documents metric by metric (see module docstring)."""
    t = thresholds if isinstance(thresholds, Thresholds) else load_thresholds(thresholds)
    base_cells, cur_cells = _metrics_of(baseline), _metrics_of(current)
    rows: list[GateRow] = []
    for key, base_metrics in base_cells.items():
        model, dataset, method = key
        cur_metrics = cur_cells.get(key)
        for metric, base in base_metrics.items():
            if _is_ci_bound(metric):
                continue
            rule = t.rule_for(model, dataset, method, metric)
            common = dict(model=model, dataset=dataset, method=method, metric=metric, rule=_describe(rule))
            if cur_metrics is None or metric not in cur_metrics:
                gone = f"{model}/{dataset}/{method}" if cur_metrics is None else f"metric {metric!r}"
                rows.append(GateRow(baseline=base, current=None, delta=None, verdict="missing",
                                    reason=f"{gone} not in the current run", **common))
                continue
            cur = cur_metrics[metric]
            delta = cur - base if base is not None and cur is not None else None
            verdict, reason = _judge(metric, base, cur, rule, t)
            rows.append(GateRow(baseline=base, current=cur, delta=delta, verdict=verdict, reason=reason, **common))
    for key, cur_metrics in cur_cells.items():
        base_metrics = base_cells.get(key, {})
        for metric, cur in cur_metrics.items():
            if _is_ci_bound(metric) or metric in base_metrics:
                continue
            rows.append(GateRow(model=key[0], dataset=key[1], method=key[2], metric=metric, baseline=None,
                                current=cur, delta=None, rule="-", verdict="new", reason="not in the baseline"))
    return GateReport(
        rows=rows, baseline_source=baseline_source, current_source=current_source, thresholds_source=t.source
    )
