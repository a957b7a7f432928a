"""The benchmark as stage functions over a run folder, one call per Airflow task.

    prepare(config, run_dir) -> [shard ids]      once
    perturb(run_dir, shard_id)   -> path         per shard (fan out)
    query(run_dir, shard_id)     -> path         per shard
    distances(run_dir, shard_id) -> path         per shard
    fit(run_dir, shard_id)       -> path         per shard
    aggregate(run_dir)           -> path         once (reduce)

Stages pass paths, never data: each reads what the previous stage wrote under
``run_dir`` (layout in :mod:`xai_bench.benchmark.rundir`) and writes its own file with a
temporary file and a rename. Each is idempotent: when its output exists it returns the
path without doing any work, so a retried or re-run task gives the same file. A shard is
one model x one data set x up to ``shard_size`` prompts.

``prepare`` (module :mod:`xai_bench.benchmark.prepare`) validates data and models and cuts
the shards; ``aggregate`` (module :mod:`xai_bench.benchmark.report`) is the reduce step.
Both are re-exported here, so this module names every stage.

Within a shard, every prompt gets several perturbation sets per setting (one setting per
sweep value): ``main`` (the explanation), ``heldout`` (fresh perturbations for held-out
fidelity, disjoint from ``main``'s masks and from the original prompt; absent when the
mask space is used up), ``cons1``..``cons{R-1}`` (repeated runs for consistency; run 0 is ``main``) and
``stab:<kind>`` (the minimally changed prompt, for stability). Every model call goes
through ``explainer.query_stage`` and the response cache.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Example
from ..errors import XaiBenchError
from ..explain.explainer import DistanceStage, QueryStage, adaptive_stages, distance_stage, query_stage, stage_texts
from ..explain.features import Features, prompt_features
from ..explain.perturbation import Perturbations, generate_perturbations, masks_left
from ..llm.cache import ResponseCache
from ..llm.families import is_control
from ..metrics.stability import minimal_changes
from ..paths import response_cache_path
from .answers import parse_answer
from .config import BenchmarkConfig
from .prepare import prepare, resolve_model
from .report import aggregate
from .rundir import derive_seed, read_json, stage_path, write_json
from .scoring import PerturbationSet, covering_methods, score_example

__all__ = ["prepare", "perturb", "query", "distances", "fit", "aggregate", "shard_ids", "load_run_config",
           "resolve_model", "open_run_cache"]


# --------------------------------------------------------------------------- helpers


def load_run_config(run_dir: str | Path) -> BenchmarkConfig:
    """The configuration ``prepare`` stored in ``run_dir/config.json``."""
    return BenchmarkConfig.from_dict(read_json(Path(run_dir) / "config.json"))


def shard_ids(run_dir: str | Path) -> list[str]:
    """The shard ids of a prepared run, in their fixed order."""
    return list(read_json(Path(run_dir) / "run.json")["shards"])


def open_run_cache(config: BenchmarkConfig, run_dir: str | Path) -> ResponseCache | None:
    """The response cache the configuration names ("default", "run", "off" or a path)."""
    if config.cache == "off":
        return None
    if config.cache == "run":
        return ResponseCache(Path(run_dir) / "responses.sqlite")
    if config.cache == "default":
        return ResponseCache(response_cache_path())
    return ResponseCache(Path(config.cache).expanduser())


def _features_dict(f: Features) -> dict[str, Any]:
    return {"words": list(f.words), "separators": list(f.separators), "template": f.template}


def _features(d: dict[str, Any]) -> Features:
    return Features(words=tuple(d["words"]), separators=tuple(d["separators"]), template=d["template"])


def _perts_dict(p: Perturbations) -> dict[str, Any]:
    return {"masks": p.masks.astype(int).tolist(), "texts": list(p.texts), "seed": p.seed, "keep_prob": p.keep_prob}


def _perts(d: dict[str, Any]) -> Perturbations:
    return Perturbations(masks=np.asarray(d["masks"], dtype=np.int8).reshape(len(d["texts"]), -1),
                         texts=tuple(d["texts"]), seed=d["seed"], keep_prob=d["keep_prob"])


def _settings_label(label: str) -> str:
    return label or "base"


# --------------------------------------------------------------------------- per-shard stages


@dataclasses.dataclass(frozen=True)
class _StageRun:
    """What a per-shard stage starts from: its output path, the run's configuration and the
    outputs of the stages it reads (``shards``, ``perturb``, ``query``, ``distances``)."""

    out: Path
    config: BenchmarkConfig
    inputs: dict[str, Any]


def _start_stage(run_dir: str | Path, stage: str, shard_id: str, reads: tuple[str, ...]) -> Path | _StageRun:
    """The stage preamble: the output path when it exists already (a retry is a no-op, so a
    task behaves like a transaction), else the configuration and the inputs it reads."""
    run_dir = Path(run_dir)
    out = stage_path(run_dir, stage, shard_id)
    if out.is_file():
        return out
    inputs = {name: read_json(stage_path(run_dir, name, shard_id)) for name in reads}
    return _StageRun(out=out, config=load_run_config(run_dir), inputs=inputs)


def perturb(run_dir: str | Path, shard_id: str) -> Path:
    """Write the masks and texts of every perturbation set of every prompt of the shard."""
    st = _start_stage(run_dir, "perturb", shard_id, ("shards",))
    if isinstance(st, Path):
        return st
    out, config, shard = st.out, st.config, st.inputs["shards"]
    opts = config.metrics
    examples = []
    draw = _Draw(config, run_dir)
    try:
        for row, model in zip(shard["rows"], shard["resolved_models"]):
            examples.append(_perturb_example(Example.from_dict(row), model, config, opts, draw))
    finally:
        draw.close()
    return write_json(out, {"shard_id": shard_id, "examples": examples})


class _Draw:
    """Draws one perturbation set: fixed masks, or with ``sampling: adaptive`` (not for held-out
    sets, which are drawn to exclude given masks) the masks the adaptive rounds chose. Those rounds
    query the model here, through the run's response cache, so the query stage answers them from
    the cache (with ``cache: off`` they are sent twice)."""

    def __init__(self, config: BenchmarkConfig, run_dir: str | Path) -> None:
        adaptive = any(cfg.sampling == "adaptive" for _, cfg in config.settings())
        self.cache = open_run_cache(config, run_dir) if adaptive else None
        self.embedder: Any = None
        if adaptive:
            from ..explain.embeddings import Embedder

            self.embedder = Embedder(config.explain.embedding_model)

    def __call__(self, f: Features, n: int, seed: int, cfg: Any, model: str, exclude: Any = None) -> Perturbations:
        if cfg.sampling == "adaptive" and exclude is None:
            try:
                return adaptive_stages(f, model, cfg.replace(seed=seed, n_perturbations=n, pvalue_permutations=0),
                                       cache=self.cache, embedder=self.embedder, progress=False)[0]
            except XaiBenchError:
                pass  # a failing model: the query stage records the failure on the fixed draw
        return generate_perturbations(f, n=n, keep_prob=cfg.keep_prob, seed=seed, exclude=exclude)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def _perturb_example(ex: Example, model: str, config: BenchmarkConfig, opts: Any, draw: _Draw) -> dict[str, Any]:
    """Every perturbation set of one prompt (main, held-out, repeated runs, changed prompts)."""
    feats = ex.features()
    sets: dict[str, Any] = {}
    for label, cfg in config.settings():
        lab = _settings_label(label)

        def add(key: str, f: Features, n: int, seed: int, exclude: Any = None, **extra: Any) -> Perturbations:
            p = draw(f, n, seed, cfg, model, exclude)
            sets[f"{lab}|{key}"] = {"features": _features_dict(f), "perturbations": _perts_dict(p), **extra}
            return p

        main = add("main", feats, cfg.n_perturbations, cfg.seed)
        if opts.fidelity_heldout:
            # held out = never trained on: no training mask and not the original (all-ones) prompt;
            # when fewer than 2 masks are left the set is not drawn and fit notes it as not available
            seen = np.vstack([main.masks, np.ones((1, feats.n), dtype=np.int8)])
            if masks_left(feats.n, seen) >= 2:
                add("heldout", feats, opts.fidelity_heldout, derive_seed(cfg.seed, "heldout"), exclude=seen)
        for r in range(1, opts.consistency_runs):
            add(f"cons{r}", feats, cfg.n_perturbations, derive_seed(cfg.seed, "consistency", r))
        if opts.stability:
            changes = minimal_changes(ex.words, seed=derive_seed(config.seed, "stability", ex.id),
                                      rationale_mask=ex.rationale)
            for kind in opts.stability_changes:
                ch = changes[kind]
                f2 = prompt_features(" ".join(ch.words), template=ex.template, words=ch.words)
                add(f"stab:{kind}", f2, cfg.n_perturbations, cfg.seed,
                    position_map={str(k): v for k, v in ch.position_map.items()}, description=ch.description)
    return {"id": ex.id, "sets": sets}


def query(run_dir: str | Path, shard_id: str, *, progress: bool = False) -> Path:
    """Query the shard's model on every perturbation set (through the response cache)."""
    st = _start_stage(run_dir, "query", shard_id, ("shards", "perturb"))
    if isinstance(st, Path):
        return st
    out, config, shard, perturbed = st.out, st.config, st.inputs["shards"], st.inputs["perturb"]
    settings = dict((_settings_label(label), cfg) for label, cfg in config.settings())
    cache = open_run_cache(config, run_dir)
    examples = []
    try:
        for model, ex in zip(shard["resolved_models"], perturbed["examples"]):
            sets: dict[str, Any] = {}
            for key, s in ex["sets"].items():
                cfg = settings[key.split("|", 1)[0]]
                try:
                    q = query_stage(_features(s["features"]), _perts(s["perturbations"]), model, cfg, cache=cache,
                                    progress=progress and not is_control(model))
                    sets[key] = dataclasses.asdict(q)
                except XaiBenchError as e:  # ModelError, QueryFailures: recorded, reported by aggregate
                    sets[key] = {"error": f"{type(e).__name__}: {e}"}
            examples.append({"id": ex["id"], "model": model, "sets": sets})
    finally:
        if cache is not None:
            cache.close()
    return write_json(out, {"shard_id": shard_id, "examples": examples})


def distances(run_dir: str | Path, shard_id: str) -> Path:
    """IWMD, mask cosine, OWMD and output cosine (and OWMD p-values where configured) per set."""
    from ..explain.embeddings import Embedder

    st = _start_stage(run_dir, "distances", shard_id, ("perturb", "query"))
    if isinstance(st, Path):
        return st
    out, config, perturbed, queried = st.out, st.config, st.inputs["perturb"], st.inputs["query"]
    cover = covering_methods(config.method_specs, erasure=config.metrics.erasure)
    settings = dict((_settings_label(label), cfg.replace(methods=cover)) for label, cfg in config.settings())
    Embedder(config.explain.embedding_model).token_embeddings(["warm up"])  # load before anything is timed
    jobs: list[tuple[int, str, Features, Perturbations, QueryStage, Any]] = []
    for i, (ex_p, ex_q) in enumerate(zip(perturbed["examples"], queried["examples"])):
        for key, s in ex_p["sets"].items():
            q = ex_q["sets"][key]
            if "error" in q:
                continue
            cfg = settings[key.split("|", 1)[0]]
            if key.endswith("|heldout"):
                cfg = cfg.replace(pvalue_permutations=0)
            jobs.append((i, key, _features(s["features"]), _perts(s["perturbations"]), QueryStage(**q), cfg))
    # one embedder per shard: every distinct text of the shard goes through the model once, in one batch
    # (issue 11); each set is charged its share of that time, by its number of distinct texts
    embedder = Embedder(config.explain.embedding_model)
    texts = [set(stage_texts(f, p, q, cfg)) for _, _, f, p, q, cfg in jobs]
    t0 = time.perf_counter()
    embedder.embed([t for ts in texts for t in ts])
    per_text = (time.perf_counter() - t0) / max(1, sum(len(ts) for ts in texts))
    examples = [{"id": ex_p["id"], "sets": {}} for ex_p in perturbed["examples"]]
    for (i, key, f, p, q, cfg), ts in zip(jobs, texts):
        d = distance_stage(f, p, q, cfg, embedder=embedder)
        for k in ("embeddings", "embed_and_iwmd"):
            d.timings[k] = d.timings.get(k, 0.0) + per_text * len(ts)
        examples[i]["sets"][key] = dataclasses.asdict(d)
    return write_json(out, {"shard_id": shard_id, "examples": examples})


def _label_probs(config: BenchmarkConfig, model: str, ex: Any, prompt: str, notes: list[str]) -> dict[str, Any]:
    """{"label_probs": {label: p}} for calibration (metrics.calibration; local models only), else {}."""
    from ..llm.models.whitebox import label_logprobs, supports_whitebox

    if not (config.metrics.calibration and supports_whitebox(model)):
        return {}
    try:
        lp = label_logprobs(model, config.explain.system_prompt, prompt, list(ex.label_set))
    except XaiBenchError as e:
        notes.append(f"{model} / {ex.id}: label probabilities for calibration left out: {e}")
        return {}
    p = np.exp(lp - lp.max())
    return {"label_probs": dict(zip(ex.label_set, (p / p.sum()).tolist()))}


def fit(run_dir: str | Path, shard_id: str) -> Path:
    """Explanations of every method and every per-prompt metric; task answers on labelled rows."""
    from ..explain.embeddings import Embedder

    st = _start_stage(run_dir, "fit", shard_id, ("shards", "perturb", "query", "distances"))
    if isinstance(st, Path):
        return st
    out, config = st.out, st.config
    shard, perturbed, queried, dists = (st.inputs[k] for k in ("shards", "perturb", "query", "distances"))
    cache = open_run_cache(config, run_dir)
    rows: list[dict[str, Any]] = []
    explanations: list[dict[str, Any]] = []
    task: list[dict[str, Any]] = []
    notes: list[str] = []
    first_main = f"{_settings_label(config.settings()[0][0])}|main"
    try:
        for row, ex_p, ex_q, ex_d in zip(shard["rows"], perturbed["examples"], queried["examples"], dists["examples"]):
            ex = Example.from_dict(row)
            sets: dict[str, PerturbationSet] = {}
            for key, s in ex_p["sets"].items():
                q, d = ex_q["sets"][key], ex_d["sets"].get(key)
                pmap = s.get("position_map")
                sets[key] = PerturbationSet(
                    features=_features(s["features"]), perts=_perts(s["perturbations"]),
                    query=None if "error" in q else QueryStage(**q),
                    dist=None if d is None else DistanceStage(**d),
                    error=q.get("error"), description=s.get("description", ""),
                    position_map=None if pmap is None else {int(k): v for k, v in pmap.items()},
                )
            r, e, n = score_example(example=ex, model=ex_q["model"], model_spec=shard["model"],
                                    dataset=shard["dataset"], config=config, sets=sets, cache=cache,
                                    embedder_factory=lambda: Embedder(config.explain.embedding_model))
            rows += r
            explanations += e
            notes += n
            main = sets[first_main]
            if ex.label is not None and ex.label_set and ex.task in ("classification", "multiple_choice"):
                response = main.query.original_response if main.query is not None else None
                parsed = None if response is None else parse_answer(response, task=ex.task, label_set=ex.label_set,
                                                                    template=ex.template)
                task.append({"model": shard["model"], "dataset": shard["dataset"], "example_id": ex.id,
                             "label": ex.label, "parsed": parsed, "correct": parsed == ex.label,
                             "n_labels": len(ex.label_set),
                             "response": response, "error": main.error,
                             **_label_probs(config, ex_q["model"], ex, main.features.text, notes)})
    finally:
        if cache is not None:
            cache.close()
    return write_json(out, {"shard_id": shard_id, "model": shard["model"], "dataset": shard["dataset"],
                            "rows": rows, "explanations": explanations, "task": task, "notes": notes})
