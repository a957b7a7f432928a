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
``info``          a metric with no rule: reported, never gated.

The overall verdict is ``fail`` when any row is ``fail`` or ``missing``, else
``insufficient`` when any row is ``insufficient``, else ``pass``. ``xai-bench gate`` exits 0
(pass), 1 (fail), 2 (unusable input: a file missing, unreadable or invalid, including a
missing ``per_prompt.csv``) or 3 (insufficient; ``--allow-insufficient`` makes it 0, the
verdict is still printed and written).

Inputs
------
``load_run(source)`` reads a run; ``source`` is a ``metrics.json`` path, the run folder
holding it, or an MLflow run as ``mlflow:<run_id>`` or ``runs:/<run_id>`` whose
``metrics.json`` and ``per_prompt.csv`` artifacts (both logged by ``xai_bench.ops.tracking``)
are downloaded from the tracking server named by ``MLFLOW_TRACKING_URI``. For a path,
``per_prompt.csv`` must be in the same folder as ``metrics.json``. ``load_metrics(source)``
reads only the ``metrics.json`` (schema version 1)::

    {"schema_version": 1,
     "run": {"run_id": ..., "created": ..., "config_hash": ..., "seed": 0},
     "results": {MODEL: {DATASET: {METHOD: {METRIC: number, ...}}}}}

``per_prompt.csv`` has the columns ``model, dataset, method, example_id, n_words,
n_rationale`` then one column per metric (empty = undefined for that prompt); see
``docs/results-schema.md``.

Thresholds file (YAML)
----------------------
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
import csv
import fnmatch
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import XaiBenchError

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

SCHEMA_VERSION = 1
METRICS_FILE = "metrics.json"
PER_PROMPT_FILE = "per_prompt.csv"
KEY_COLUMNS = ("model", "dataset", "method", "example_id")
RULE_KEYS = ("max_abs_drop", "max_rel_drop", "min_value", "max_value")
DROP_KEYS = ("max_abs_drop", "max_rel_drop")
DEFAULT_CONFIDENCE = 0.95
DEFAULT_MIN_PROMPTS = 5
EXIT_CODES = {"pass": 0, "fail": 1, "input": 2, "insufficient": 3}
_TOL = 1e-9  # a worsening equal to its tolerance passes despite float rounding
_SHOW_IDS = 5  # prompt ids named in a reason

Verdict = Literal["pass", "fail", "insufficient", "missing", "new", "info"]
Overall = Literal["pass", "fail", "insufficient"]
Direction = Literal["higher", "lower"]
Cell = tuple[str, str, str]

# Cost counters written by benchmark/scoring.py. They are not explanation metrics (no
# implementing metric function), so the registry does not hold them.
_COST_DIRECTIONS: dict[str, Direction] = {"seconds": "lower", "llm_calls": "lower"}

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


class GateInputError(XaiBenchError):
    """A metrics, per-prompt or thresholds file cannot be used; the message names it and the problem."""


def _registered_direction(name: str) -> Direction | None:
    from ..metrics import get_metric  # importing the package registers every metric

    try:
        info = get_metric(name)
    except KeyError:
        return None
    return "higher" if info.higher_is_better else "lower"


def metric_direction(metric: str, extra: Mapping[str, str] | None = None) -> Direction | None:
    """Return "higher" or "lower" (which way is better) for ``metric``, or None if unknown.

    Order: ``extra`` (the thresholds file's ``directions``), the cost counters
    (``seconds``, ``llm_calls``: lower), the metric registry, then the registry entry of
    the longest registered stem of ``<stem>_<suffix>`` names (``stability_jaccard_append``).
    """
    if extra and metric in extra:
        return extra[metric]  # type: ignore[return-value]
    if metric in _COST_DIRECTIONS:
        return _COST_DIRECTIONS[metric]
    parts = metric.split("_")
    for end in range(len(parts), 0, -1):
        direction = _registered_direction("_".join(parts[:end]))
        if direction is not None:
            return direction
    return None


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


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True, kw_only=True)
class PerPrompt:
    """A parsed ``per_prompt.csv``: metric values (NaN = undefined) per (model, dataset, method, example_id)."""

    rows: dict[tuple[str, str, str, str], dict[str, float]]
    metrics: tuple[str, ...]
    source: str = ""

    def by_cell(self) -> dict[Cell, dict[str, dict[str, float]]]:
        out: dict[Cell, dict[str, dict[str, float]]] = {}
        for (model, dataset, method, example), values in self.rows.items():
            out.setdefault((model, dataset, method), {})[example] = values
        return out


@dataclass(frozen=True, kw_only=True)
class RunData:
    """One run as the gate reads it: the ``metrics.json`` document and its ``per_prompt.csv``."""

    metrics: dict[str, Any]
    per_prompt: PerPrompt
    source: str = ""


def is_mlflow_source(source: str | os.PathLike[str]) -> bool:
    """True for ``mlflow:<run_id>`` and ``runs:/<run_id>``."""
    return os.fspath(source).startswith(("mlflow:", "runs:/"))


def _mlflow_run_id(source: str) -> str:
    run_id = source[len("mlflow:") :] if source.startswith("mlflow:") else source[len("runs:/") :]
    run_id = run_id.strip("/").split("/", 1)[0]
    if not run_id:
        raise GateInputError(f"{source}: expected an MLflow run id as 'mlflow:<run_id>' or 'runs:/<run_id>'.")
    return run_id


def _download_mlflow_artifact(source: str, artifact: str, dst: str) -> Path:
    run_id = _mlflow_run_id(source)
    try:
        import mlflow
    except ImportError as e:
        raise GateInputError(f"{source}: reading an MLflow run needs the 'mlflow' package; install it.") from e
    uri = os.environ.get("MLFLOW_TRACKING_URI", "(default ./mlruns)")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=dst)
    except Exception as e:  # mlflow raises MlflowException, OSError, requests errors ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = ""
        if artifact == PER_PROMPT_FILE:
            hint = (" The gate compares prompt by prompt; runs logged by `xai-bench run --record` or the "
                    "xai_benchmark DAG (xai_bench.ops.tracking.log_benchmark_run) carry per_prompt.csv beside "
                    "metrics.json.")
        raise GateInputError(
            f"{source}: could not download artifact {artifact!r} of MLflow run {run_id!r} "
            f"from tracking URI {uri}: {first}.{hint}"
        ) from e
    return Path(local)


def _metrics_path(source: str) -> Path:
    path = Path(source)
    return path / METRICS_FILE if path.is_dir() else path


def _read_file(path: Path, name: str, what: str) -> str:
    if not path.exists():
        raise GateInputError(f"{name}: file not found; pass {what}.")
    if path.is_dir():
        raise GateInputError(f"{name}: is a directory without {path.name}; pass {what}.")
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


def _parse_metrics(text: str, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise GateInputError(f"{name}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}.") from e
    return _validate_metrics(doc, name)


def load_metrics(source: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a ``metrics.json``: a path, a run folder, or an MLflow run (``mlflow:<id>``, ``runs:/<id>``).

    Raises GateInputError naming the source when it is missing, not JSON or not schema 1.
    """
    name = os.fspath(source)
    if is_mlflow_source(name):
        with tempfile.TemporaryDirectory(prefix="xai-bench-gate-") as dst:
            text = _read_file(_download_mlflow_artifact(name, METRICS_FILE, dst), name, "an MLflow run")
        return _parse_metrics(text, name)
    path = _metrics_path(name)
    label = name if path == Path(name) else str(path)
    return _parse_metrics(_read_file(path, label, "the path of a metrics.json written by a run, or its folder"), label)


def _parse_per_prompt(text: str, name: str) -> PerPrompt:
    from ..benchmark.report import ID_COLUMNS

    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise GateInputError(f"{name}: empty file; expected a header with {', '.join(KEY_COLUMNS)} and metric columns.")
    absent = [c for c in KEY_COLUMNS if c not in header]
    if absent:
        raise GateInputError(
            f"{name}: header lacks column(s) {', '.join(absent)}; expected {', '.join(ID_COLUMNS)} then metrics. "
            "Is this a per_prompt.csv written by xai-bench?"
        )
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise GateInputError(f"{name}: column(s) {', '.join(twice)} appear more than once in the header.")
    index = {c: i for i, c in enumerate(header)}
    metric_cols = tuple(c for c in header if c not in ID_COLUMNS)
    rows: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for lineno, rec in enumerate(reader, start=2):
        if not rec:
            continue
        if len(rec) != len(header):
            raise GateInputError(f"{name}: line {lineno}: expected {len(header)} fields, got {len(rec)}.")
        key = tuple(rec[index[c]] for c in KEY_COLUMNS)
        if key in rows:
            raise GateInputError(
                f"{name}: line {lineno}: a second row for model={key[0]!r}, dataset={key[1]!r}, method={key[2]!r}, "
                f"example_id={key[3]!r}; each prompt may appear once per model/dataset/method."
            )
        values: dict[str, float] = {}
        for c in metric_cols:
            raw = rec[index[c]].strip()
            if not raw:
                values[c] = math.nan
                continue
            try:
                v = float(raw)
            except ValueError:
                raise GateInputError(
                    f"{name}: line {lineno}, column {c!r}: expected a number or an empty field, got {raw!r}."
                ) from None
            values[c] = v if math.isfinite(v) else math.nan
        rows[key] = values  # type: ignore[index]
    return PerPrompt(rows=rows, metrics=metric_cols, source=name)


def _per_prompt_path(source: str) -> Path:
    return _metrics_path(source).parent / PER_PROMPT_FILE


def load_per_prompt(source: str | os.PathLike[str]) -> PerPrompt:
    """Read the ``per_prompt.csv`` of a run: beside its ``metrics.json``, in its folder, or an MLflow artifact."""
    name = os.fspath(source)
    if is_mlflow_source(name):
        with tempfile.TemporaryDirectory(prefix="xai-bench-gate-") as dst:
            local = _download_mlflow_artifact(name, PER_PROMPT_FILE, dst)
            text = _read_file(local, f"{name} ({PER_PROMPT_FILE})", "an MLflow run")
        return _parse_per_prompt(text, f"{name} ({PER_PROMPT_FILE})")
    path = Path(name) if Path(name).name == PER_PROMPT_FILE else _per_prompt_path(name)
    if not path.is_file():
        raise GateInputError(
            f"{name}: no {PER_PROMPT_FILE} at {path}. The gate pairs prompts and needs the {PER_PROMPT_FILE} "
            f"that `xai-bench run --config CONFIG --out DIR` writes beside metrics.json; pass a run folder, or the "
            f"metrics.json of a folder that holds both (re-run or regenerate the baseline if it has only metrics.json)."
        )
    return _parse_per_prompt(_read_file(path, str(path), f"the {PER_PROMPT_FILE} of a run"), str(path))


def _check_same_run(doc: Mapping[str, Any], pp: PerPrompt, name: str) -> None:
    in_csv = set(pp.by_cell())
    for cell in _metrics_of(doc):
        if cell not in in_csv:
            raise GateInputError(
                f"{name}: metrics.json has model={cell[0]!r}, dataset={cell[1]!r}, method={cell[2]!r} but "
                f"{pp.source} has no row for it; the two files are not from the same run."
            )


def load_run(source: str | os.PathLike[str]) -> RunData:
    """``metrics.json`` and ``per_prompt.csv`` of a run: a metrics.json path (the CSV beside it), a run
    folder, or an MLflow run (``mlflow:<id>``, ``runs:/<id>``; both artifacts are downloaded).

    Raises GateInputError naming the file and the problem when either is missing or invalid,
    or when ``metrics.json`` lists a model/dataset/method the CSV has no rows for.
    """
    name = os.fspath(source)
    doc = load_metrics(name)
    pp = load_per_prompt(name)
    _check_same_run(doc, pp, name)
    return RunData(metrics=doc, per_prompt=pp, source=name)


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


# ---------------------------------------------------------------------------- statistics


def paired_interval(differences: Sequence[float], confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``differences`` and its two-sided Student t interval.

    ``scipy.stats.t`` with n - 1 degrees of freedom and the standard error s / sqrt(n)
    (s with ddof = 1). When every difference is equal the interval has zero width (the
    mean is known exactly from the pairs). Needs at least two finite differences.
    """
    import numpy as np
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size < 2 or not np.all(np.isfinite(d)):
        raise ValueError(f"paired_interval: expected >= 2 finite differences, got {d.tolist()!r:.120}")
    if not 0 < confidence < 1:
        raise ValueError(f"paired_interval: confidence must be in (0, 1), got {confidence!r}")
    mean = float(d.mean())
    if np.all(d == d[0]):
        return mean, mean, mean
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    low, high = stats.t.interval(confidence, d.size - 1, loc=mean, scale=se)
    return mean, float(low), float(high)


@dataclass(frozen=True, kw_only=True)
class _Pairs:
    examples: list[str]  # paired prompts with a value on both sides
    base: list[float]
    cur: list[float]
    both_undefined: int
    only_base: list[str]  # defined in the baseline only
    only_cur: list[str]  # defined in the current run only


def _pairs(metric: str, base: Mapping[str, Mapping[str, float]], cur: Mapping[str, Mapping[str, float]]) -> _Pairs:
    examples: list[str] = []
    bv: list[float] = []
    cv: list[float] = []
    both = 0
    only_base: list[str] = []
    only_cur: list[str] = []
    for example, b_row in base.items():
        c_row = cur.get(example)
        if c_row is None:
            continue  # reported once per cell as missing prompts
        b, c = b_row.get(metric, math.nan), c_row.get(metric, math.nan)
        b_def, c_def = math.isfinite(b), math.isfinite(c)
        if b_def and c_def:
            examples.append(example)
            bv.append(b)
            cv.append(c)
        elif b_def:
            only_base.append(example)
        elif c_def:
            only_cur.append(example)
        else:
            both += 1
    return _Pairs(examples=examples, base=bv, cur=cv, both_undefined=both, only_base=only_base, only_cur=only_cur)


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_SHOW_IDS])
    return shown + (f", ... ({len(ids) - _SHOW_IDS} more)" if len(ids) > _SHOW_IDS else "")


# ---------------------------------------------------------------------------- comparison


@dataclass(frozen=True, kw_only=True)
class GateRow:
    """One compared metric of one model x dataset x method.

    ``baseline`` / ``current``: the ``metrics.json`` means; ``delta`` = current - baseline.
    ``n_pairs``: prompts with a value on both sides; ``n_excluded``: prompts undefined on
    both; ``n_only_baseline`` / ``n_only_current``: prompts defined on one side only.
    ``mean_worse``: mean paired difference oriented so that positive = worse, with its
    t-interval ``ci_low``..``ci_high``; ``tolerance``: the largest mean worsening the rule
    allows. ``rule`` describes the rule, ``reason`` says why the verdict is not ``pass``.
    """

    model: str
    dataset: str
    method: str
    metric: str
    baseline: float | None = None
    current: float | None = None
    delta: float | None = None
    direction: str | None = None
    n_pairs: int = 0
    n_excluded: int = 0
    n_only_baseline: int = 0
    n_only_current: int = 0
    mean_worse: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    tolerance: float | None = None
    rule: str = "-"
    verdict: Verdict
    reason: str = ""


_ROW_VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "insufficient", "missing", "new", "info")


@dataclass(frozen=True, kw_only=True)
class GateReport:
    """Every compared metric and the overall verdict (see the module docstring)."""

    rows: list[GateRow]
    baseline_source: str = ""
    current_source: str = ""
    thresholds_source: str = ""
    confidence: float = DEFAULT_CONFIDENCE
    min_prompts: int = DEFAULT_MIN_PROMPTS

    @property
    def verdict(self) -> Overall:
        """``fail`` (any fail or missing row), else ``insufficient`` (any insufficient row), else ``pass``."""
        if any(r.verdict in ("fail", "missing") for r in self.rows):
            return "fail"
        if any(r.verdict == "insufficient" for r in self.rows):
            return "insufficient"
        return "pass"

    @property
    def passed(self) -> bool:
        """True only for the overall verdict ``pass``."""
        return self.verdict == "pass"

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(_ROW_VERDICTS, 0)
        for r in self.rows:
            out[r.verdict] += 1
        return out

    @property
    def failures(self) -> list[GateRow]:
        return [r for r in self.rows if r.verdict in ("fail", "missing")]

    @property
    def insufficient(self) -> list[GateRow]:
        return [r for r in self.rows if r.verdict == "insufficient"]

    def exit_code(self, *, allow_insufficient: bool = False) -> int:
        """0 pass, 1 fail, 3 insufficient (0 with ``allow_insufficient``)."""
        if self.verdict == "insufficient" and allow_insufficient:
            return EXIT_CODES["pass"]
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: verdict, counts, sources, statistics settings and every row."""
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "counts": self.counts,
            "baseline": self.baseline_source,
            "current": self.current_source,
            "thresholds": self.thresholds_source,
            "confidence": self.confidence,
            "min_prompts": self.min_prompts,
            "rows": [{k: _json_num(v) for k, v in asdict(r).items()} for r in self.rows],
        }


def _json_num(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _describe(rule: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in rule.items()) if rule else "-"


def _metrics_of(doc: Mapping[str, Any]) -> dict[Cell, dict[str, Any]]:
    results = doc.get("results", doc)
    return {
        (model, dataset, method): metrics
        for model, datasets in results.items()
        for dataset, methods in datasets.items()
        for method, metrics in methods.items()
    }


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _judge(
    common: dict[str, Any],
    metric: str,
    base: Any,
    cur: Any,
    pairs: _Pairs,
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
    base_cells, cur_cells = _metrics_of(baseline.metrics), _metrics_of(current.metrics)
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
            pairs = _pairs(metric, b_prompts, c_prompts)
            rows.append(_judge(common, metric, base, cur_metrics[metric], pairs, rule, t.direction(metric),
                               level, minp))
        for metric, cur in cur_metrics.items():
            if metric in base_metrics or _is_aggregate_extra(metric, cur_metrics):
                continue
            rule = t.rule_for(model, dataset, method, metric)
            common = dict(model=model, dataset=dataset, method=method, metric=metric, rule=_describe(rule))
            pairs = _pairs(metric, b_prompts, c_prompts)
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
    return GateReport(
        rows=rows,
        baseline_source=baseline.source if baseline_source is None else baseline_source,
        current_source=current.source if current_source is None else current_source,
        thresholds_source=t.source,
        confidence=level,
        min_prompts=minp,
    )
