"""The configuration of a benchmark run: models x datasets x methods, from one YAML file.

Every default lives here; ``load_benchmark_config(path)`` validates the file once, at load,
with messages in scikit-learn's form ("The 'seed' parameter must be an int >= 0. Got -1
instead."), and unknown keys suggest the closest name. Command-line flags override the
file (``BenchmarkConfig.replace``; precedence CLI > file > defaults).

YAML layout (every key optional except ``models`` and ``datasets``)::

    name: oracle-smoke                 # default: the file name without .yaml
    seed: 0                            # the one master seed; every other seed derives from it
    models: ["oracle:@rationale", local/smollm2-135m]
    optional_models: [local/qwen2.5-0.5b]   # skipped with a note when not installed
    datasets:
      - {name: paper, path: data/prepared/paper.jsonl, limit: 5, ids: [paper/mol-01]}
    methods: [gsmile, lime, baylime]   # names of config.METHODS or of ``variants``
    variants:                          # extra methods built from MethodSpec fields
      wmd-cos-wlr: {input_distance: wmd, kernel: gaussian, output_distance: cosine, surrogate: wlr}
    explain: {n_perturbations: 32, max_tokens: 24, pvalue_permutations: 0}   # ExplainConfig
    sweep: {n_perturbations: [32, 64]} # one explain key; methods are reported per value
    metrics:
      stability: true
      stability_changes: [append, punctuation, synonym]
      stability_k: auto                # top-k size: number of rationale words, else 3
      consistency_runs: 0              # R repeated runs (0 = off, else >= 2)
      erasure: true                    # ERASER comprehensiveness / sufficiency
      fidelity_heldout: 32             # J_holdout fresh perturbations (0 = off)
      bootstrap: 1000                  # unused: intervals are Student-t now (kept so older files load)
      confidence: 0.95                 # level of every interval: t-intervals from 10 prompts on, Wilson for task accuracy
      whitebox: false                  # white-box reference row: leave-one-word-out answer log-prob (local/ models)
      calibration: false               # ECE, Brier, reliability diagram of label confidences (local/ models)
    random_baseline: true              # the "random" method in every report
    model_accuracy: {local/smollm2-135m: 0.31}   # published accuracy (or {model: {dataset: acc}})
    cache: default                     # "default", "run" (inside the run folder), "off" or a path
    shard_size: 8                      # prompts per shard (one Airflow task each)
    heatmap_pngs: 2                    # PNG heatmaps per model x dataset (HTML for every prompt)

Model spec ``oracle:@rationale``: an oracle control model resolved per example, whose
keywords are that example's rationale words (lower case, leading/trailing punctuation
removed, words holding a comma dropped, duplicates once). It answers one sentence per
keyword present in the prompt, so the ground-truth rationale is exactly what moves its
output. With a task template the oracle reads only the example's ``{text}`` slot, the input
words (``models.oracle``): a rationale word that also occurs in the fixed template (an
instruction, an answer option) still moves the answer when the input word is removed. It
needs rationales on every row.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..paths import REPO_ROOT
from ..config import (METHODS, ConfigError, ExplainConfig, MethodSpec, _check, _is_int, _is_num, check_keys,  # shared validators
                      refuse_secrets)

__all__ = [
    "BenchmarkConfig",
    "DatasetSpec",
    "MetricsOptions",
    "VariantSpec",
    "load_benchmark_config",
    "ORACLE_RATIONALE",
    "RANDOM_METHOD",
    "resolve_method",
]

ORACLE_RATIONALE = "oracle:@rationale"
RANDOM_METHOD = "random"
CHANGE_KINDS = ("append", "punctuation", "synonym")
CACHE_MODES = ("default", "run", "off")

_INPUT_DISTANCES = ("wmd", "cosine", "wmd+cosine")
_KERNELS = ("gaussian", "lime")
_OUTPUT_DISTANCES = ("wmd", "cosine", "wmd+cosine")
_SURROGATES = ("wlr", "ridge", "bayesian_ridge")


def _known_keys(where: str, values: Mapping[str, Any], allowed: list[str] | tuple[str, ...]) -> None:
    check_keys(where, values, allowed)


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


@dataclass(frozen=True, kw_only=True)
class VariantSpec:
    """An extra explanation method from MethodSpec fields (paper Table 9).

    input_distance may also be "wmd+cosine" (IWMD plus the mask cosine distance), which the
    built-in MethodSpec does not offer; the benchmark adds the two distances itself.
    """

    name: str
    input_distance: str
    kernel: str = "gaussian"
    output_distance: str = "wmd"
    surrogate: str = "wlr"

    def __post_init__(self) -> None:
        where = f"variants.{self.name}"
        _check(f"{where}.input_distance", self.input_distance in _INPUT_DISTANCES,
               f"one of {', '.join(_INPUT_DISTANCES)}", self.input_distance)
        _check(f"{where}.kernel", self.kernel in _KERNELS, f"one of {', '.join(_KERNELS)}", self.kernel)
        _check(f"{where}.output_distance", self.output_distance in _OUTPUT_DISTANCES,
               f"one of {', '.join(_OUTPUT_DISTANCES)}", self.output_distance)
        _check(f"{where}.surrogate", self.surrogate in _SURROGATES, f"one of {', '.join(_SURROGATES)}", self.surrogate)


def resolve_method(name: str, variants: Mapping[str, VariantSpec]) -> VariantSpec:
    """The spec of a built-in method (``config.METHODS``) or a configured variant."""
    if name in variants:
        return variants[name]
    spec: MethodSpec = METHODS[name]
    return VariantSpec(name=name, input_distance=spec.input_distance, kernel=spec.kernel,
                       output_distance=spec.output_distance, surrogate=spec.surrogate)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """One data set of the run. ``path`` relative to the working directory, else to the repository root."""

    name: str
    path: str
    limit: int | None = None
    ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check("datasets[].name", isinstance(self.name, str) and bool(self.name.strip()) and "/" not in self.name
               and "__" not in self.name, "a non-empty string without '/' or '__'", self.name)
        _check(f"datasets[{self.name}].path", isinstance(self.path, str) and bool(self.path), "a path string", self.path)
        _check(f"datasets[{self.name}].limit", self.limit is None or (_is_int(self.limit) and self.limit >= 1),
               "None or an int >= 1", self.limit)
        if self.ids is not None:
            ids = tuple(self.ids) if not isinstance(self.ids, str) else (self.ids,)
            _check(f"datasets[{self.name}].ids", len(ids) > 0 and all(isinstance(i, str) for i in ids),
                   "a non-empty list of example ids", self.ids)
            object.__setattr__(self, "ids", ids)

    def resolved_path(self) -> Path:
        p = Path(self.path).expanduser()
        if p.is_absolute() or p.exists():
            return p
        return REPO_ROOT / p


@dataclass(frozen=True, kw_only=True)
class MetricsOptions:
    """Which metrics to compute beyond attribution accuracy and in-sample fidelity (always on)."""

    stability: bool = True
    stability_changes: tuple[str, ...] = CHANGE_KINDS
    stability_k: int | str = "auto"
    consistency_runs: int = 0
    erasure: bool = True
    fidelity_heldout: int = 32
    bootstrap: int = 1000
    confidence: float = 0.95
    whitebox: bool = False  # the white-box ablation reference row (local models only; scoring module docstring)
    calibration: bool = False  # label probabilities of labelled prompts for ECE/Brier (local models; task_accuracy)

    def __post_init__(self) -> None:
        changes = (self.stability_changes,) if isinstance(self.stability_changes, str) else tuple(self.stability_changes)
        object.__setattr__(self, "stability_changes", changes)
        _check("metrics.stability", isinstance(self.stability, bool), "true or false", self.stability)
        _check("metrics.stability_changes", len(changes) > 0 and all(c in CHANGE_KINDS for c in changes)
               and len(set(changes)) == len(changes), f"a non-empty list of distinct kinds from {', '.join(CHANGE_KINDS)}",
               self.stability_changes)
        _check("metrics.stability_k", self.stability_k == "auto" or (_is_int(self.stability_k) and self.stability_k >= 1),
               "'auto' or an int >= 1", self.stability_k)
        _check("metrics.consistency_runs", _is_int(self.consistency_runs) and (self.consistency_runs == 0
               or 2 <= self.consistency_runs <= 100), "0 (off) or an int in the range [2, 100]", self.consistency_runs)
        _check("metrics.erasure", isinstance(self.erasure, bool), "true or false", self.erasure)
        _check("metrics.whitebox", isinstance(self.whitebox, bool), "true or false", self.whitebox)
        _check("metrics.calibration", isinstance(self.calibration, bool), "true or false", self.calibration)
        _check("metrics.fidelity_heldout", _is_int(self.fidelity_heldout) and (self.fidelity_heldout == 0
               or 2 <= self.fidelity_heldout <= 100_000), "0 (off) or an int in the range [2, 100000]",
               self.fidelity_heldout)
        _check("metrics.bootstrap", _is_int(self.bootstrap) and 1 <= self.bootstrap <= 1_000_000,
               "an int in the range [1, 1000000]", self.bootstrap)
        _check("metrics.confidence", _is_num(self.confidence) and 0 < self.confidence < 1,
               "a float in the range (0, 1)", self.confidence)


@dataclass(frozen=True, kw_only=True)
class BenchmarkConfig:
    """Every parameter of one benchmark run (see the module docstring for the YAML form)."""

    name: str = "benchmark"
    models: tuple[str, ...]
    optional_models: tuple[str, ...] = ()
    datasets: tuple[DatasetSpec, ...]
    methods: tuple[str, ...] = ("gsmile", "lime", "baylime")
    variants: Mapping[str, VariantSpec] = field(default_factory=dict)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    sweep: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    seed: int = 0
    metrics: MetricsOptions = field(default_factory=MetricsOptions)
    random_baseline: bool = True
    model_accuracy: Mapping[str, Any] = field(default_factory=dict)
    cache: str = "default"
    shard_size: int = 8
    heatmap_pngs: int = 2

    def __post_init__(self) -> None:
        for key in ("models", "optional_models", "methods"):
            value = getattr(self, key)
            object.__setattr__(self, key, (value,) if isinstance(value, str) else tuple(value))
        object.__setattr__(self, "datasets", tuple(self.datasets))
        _check("name", isinstance(self.name, str) and bool(self.name.strip()), "a non-empty string", self.name)
        _check("models", len(self.models) + len(self.optional_models) > 0
               and all(isinstance(m, str) and m.strip() for m in self.models + self.optional_models),
               "a non-empty list of model strings", list(self.models))
        both = set(self.models) & set(self.optional_models)
        _check("optional_models", not both, "disjoint from 'models'", sorted(both))
        _check("datasets", len(self.datasets) > 0 and all(isinstance(d, DatasetSpec) for d in self.datasets),
               "a non-empty list of {name, path, limit, ids}", self.datasets)
        names = [d.name for d in self.datasets]
        _check("datasets", len(set(names)) == len(names), "a list with distinct names", names)
        _check("seed", _is_int(self.seed) and self.seed >= 0, "an int >= 0", self.seed)
        _check("random_baseline", isinstance(self.random_baseline, bool), "true or false", self.random_baseline)
        _check("shard_size", _is_int(self.shard_size) and self.shard_size >= 1, "an int >= 1", self.shard_size)
        _check("heatmap_pngs", _is_int(self.heatmap_pngs) and self.heatmap_pngs >= 0, "an int >= 0", self.heatmap_pngs)
        _check("cache", isinstance(self.cache, str) and bool(self.cache), "'default', 'run', 'off' or a file path",
               self.cache)
        _check("methods", len(self.methods) > 0 and len(set(self.methods)) == len(self.methods),
               "a non-empty list of distinct method names", list(self.methods))
        for name, spec in self.variants.items():
            _check(f"variants.{name}", isinstance(spec, VariantSpec), "a mapping of MethodSpec fields", spec)
            _check("variants", name not in METHODS and name != RANDOM_METHOD and "[" not in name,
                   f"names other than the built-in methods ({', '.join(sorted(METHODS))}, random) without '['", name)
        available = sorted(METHODS) + sorted(self.variants)
        for m in self.methods:
            if m == RANDOM_METHOD:
                raise ConfigError("Do not list 'random' in methods: set 'random_baseline: true' instead.")
            if m not in available:
                close = difflib.get_close_matches(m, available, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"Unknown method {m!r}.{hint} Available: {', '.join(available)} "
                                  "(add others under 'variants').")
        _check("explain", isinstance(self.explain, ExplainConfig), "an ExplainConfig", self.explain)
        if self.explain.seed != self.seed:
            object.__setattr__(self, "explain", dataclasses.replace(self.explain, seed=self.seed))
        explain_keys = set(_fields(ExplainConfig)) - {"methods", "seed"}
        _check("sweep", len(self.sweep) <= 1, "a mapping with at most one explain key", dict(self.sweep))
        for key, values in self.sweep.items():
            if key not in explain_keys:
                close = difflib.get_close_matches(key, sorted(explain_keys), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"Unknown sweep key {key!r}.{hint} A sweep varies one key of the 'explain' "
                                  f"section: {', '.join(sorted(explain_keys))}.")
            vals = (values,) if isinstance(values, (str, int, float)) else tuple(values)
            _check(f"sweep.{key}", len(vals) >= 1 and len(set(map(repr, vals))) == len(vals),
                   "a non-empty list of distinct values", values)
            for v in vals:  # validates each value through ExplainConfig
                dataclasses.replace(self.explain, **{key: v})
            object.__setattr__(self, "sweep", {key: vals})
        _check("model_accuracy", isinstance(self.model_accuracy, Mapping), "a mapping model -> accuracy",
               self.model_accuracy)
        for model, acc in self.model_accuracy.items():
            values = acc.values() if isinstance(acc, Mapping) else [acc]
            _check(f"model_accuracy[{model}]", all(_is_num(v) and 0 <= v <= 1 for v in values),
                   "a float in [0, 1] or a mapping dataset -> float in [0, 1]", acc)

    # ------------------------------------------------------------------ views

    @property
    def method_specs(self) -> dict[str, VariantSpec]:
        """Every explanation method of the run (without the random baseline), by name."""
        return {m: resolve_method(m, self.variants) for m in self.methods}

    def settings(self) -> list[tuple[str, ExplainConfig]]:
        """(label, ExplainConfig) per sweep value; one ("", explain) without a sweep."""
        if not self.sweep:
            return [("", self.explain)]
        (key, values), = self.sweep.items()
        return [(f"{key}={v}", dataclasses.replace(self.explain, **{key: v})) for v in values]

    def published_accuracy(self, model: str, dataset: str) -> float | None:
        acc = self.model_accuracy.get(model)
        if isinstance(acc, Mapping):
            acc = acc.get(dataset)
        return None if acc is None else float(acc)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-able form that ``from_dict`` reads back to an equal config."""
        explain = self.explain.to_dict()
        for key in ("methods", "seed"):
            explain.pop(key)
        return {
            "name": self.name,
            "seed": self.seed,
            "models": list(self.models),
            "optional_models": list(self.optional_models),
            "datasets": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(d).items()}
                         for d in self.datasets],
            "methods": list(self.methods),
            "variants": {n: {k: v for k, v in dataclasses.asdict(s).items() if k != "name"}
                         for n, s in self.variants.items()},
            "explain": explain,
            "sweep": {k: list(v) for k, v in self.sweep.items()},
            "metrics": {k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in dataclasses.asdict(self.metrics).items()},
            "random_baseline": self.random_baseline,
            "model_accuracy": dict(self.model_accuracy),
            "cache": self.cache,
            "shard_size": self.shard_size,
            "heatmap_pngs": self.heatmap_pngs,
        }

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of ``to_dict()``: equal configs, equal hashes."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def replace(self, *, limit: int | None = None, seed: int | None = None, **changes: Any) -> "BenchmarkConfig":
        """A validated copy; ``limit`` caps every data set, ``seed`` sets the master seed. None is ignored."""
        values = {k: v for k, v in changes.items() if v is not None}
        if limit is not None:
            values["datasets"] = tuple(dataclasses.replace(d, limit=limit) for d in self.datasets)
        if seed is not None:
            values["seed"] = seed
            values["explain"] = dataclasses.replace(self.explain, seed=seed)
        return dataclasses.replace(self, **values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, default_name: str = "benchmark") -> "BenchmarkConfig":
        """Build from a parsed YAML mapping; every problem raises ConfigError naming the key."""
        refuse_secrets(dict(values))  # before anything else: the place of a credential, e.g. explain.api_key
        _known_keys("the benchmark configuration", values, _fields(cls))
        v = dict(values)
        for required in ("models", "datasets"):
            if required not in v and not (required == "models" and v.get("optional_models")):
                raise ConfigError(f"The benchmark configuration needs a {required!r} key.")
        v.setdefault("models", [])
        v.setdefault("name", default_name)
        datasets = v.get("datasets")
        _check("datasets", isinstance(datasets, list), "a list of {name, path, limit, ids}", datasets)
        specs = []
        for i, d in enumerate(datasets):
            if isinstance(d, str):
                d = {"name": d}
            _known_keys(f"datasets[{i}]", d, _fields(DatasetSpec))
            d = dict(d)
            _check(f"datasets[{i}].name", isinstance(d.get("name"), str), "a string", d.get("name"))
            d.setdefault("path", f"data/prepared/{d['name']}.jsonl")
            specs.append(DatasetSpec(**d))
        v["datasets"] = tuple(specs)
        variants = v.get("variants") or {}
        _known_keys("variants", variants, list(variants))
        built = {}
        for name, fields in variants.items():
            _known_keys(f"variants.{name}", fields, [f for f in _fields(VariantSpec) if f != "name"])
            _check(f"variants.{name}.input_distance", "input_distance" in fields, "given", None)
            built[str(name)] = VariantSpec(name=str(name), **fields)
        v["variants"] = built
        explain = v.get("explain") or {}
        # unknown keys here; a leftover "extra" gets its migration message from ExplainConfig.from_dict
        _known_keys("explain", explain, [*_fields(ExplainConfig), "extra"])
        for moved in ("methods", "seed"):
            if moved in explain:
                raise ConfigError(f"Set {moved!r} at the top level of a benchmark configuration, not under 'explain'.")
        v["explain"] = ExplainConfig.from_dict({**explain, "seed": v.get("seed", 0)}, where="explain")
        metrics = v.get("metrics") or {}
        _known_keys("metrics", metrics, _fields(MetricsOptions))
        v["metrics"] = MetricsOptions(**metrics)
        v["sweep"] = v.get("sweep") or {}
        v["model_accuracy"] = v.get("model_accuracy") or {}
        for key in ("optional_models",):
            v[key] = tuple(v.get(key) or ())
        return cls(**v)


def load_benchmark_config(path: str | Path) -> BenchmarkConfig:
    """Read and validate a benchmark YAML file (see the module docstring)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Benchmark configuration not found: {p}. Shipped ones are in configs/*.yaml.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping of configuration keys, got {type(data).__name__}.")
    try:
        return BenchmarkConfig.from_dict(data, default_name=p.name.removesuffix(".yaml").removesuffix(".yml"))
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from e
    except TypeError as e:  # a section of the wrong shape, e.g. a list where a mapping belongs
        raise ConfigError(f"{p}: {e}") from e
