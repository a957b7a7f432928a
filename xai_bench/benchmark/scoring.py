"""Per-prompt scoring of one example: explanations of every method, then every metric.

Called by the ``fit`` stage with the perturbation sets, responses and distances the
earlier stages wrote. For each setting (one per sweep value) and each method it fits the
surrogate (``explainer.fit_stage``) and measures, per prompt:

- ``att_acc``, ``att_f1``, ``att_auroc``, ``att_auprc`` against the rationale mask
  (``metrics.attribution_accuracy``; top-k binarisation with k = number of rationale words);
- ``fidelity_*``: the surrogate's in-sample fidelity (eq. 16-22, ``Explanation.fit``) and
  ``fidelity_*_heldout``: the same statistics of the fitted surrogate on a fresh set of
  J_holdout perturbations drawn with another seed, weighted by the method's own kernel
  (same sigma) and scored against the method's own output distance;
- ``comprehensiveness`` / ``sufficiency`` (ERASER AOPC over 1, 5, 10, 20, 50 %): the model is
  queried (through the cache) on the prompt without its top-k words and with only them;
  the shift is the OWMD (Wasserstein-P over output token embeddings) for EVERY method, so
  that the numbers of different methods are comparable;
- ``stability_jaccard`` (and ``stability_jaccard_<kind>``): Jaccard of the top-k sets before
  and after each minimal change (k = number of rationale words, else ``stability_k``);
  every top-k (accuracy, erasure, stability) breaks ties in a random order seeded from the
  run seed and the example id (``metrics._arrays``), so an explanation that learned nothing
  scores chance, not a perfect Jaccard or the rationale's position;
- ``consistency_std`` / ``consistency_var`` over R runs with different perturbation seeds;
- ``seconds`` (model time + the distances the method needs + its surrogate) and
  ``llm_calls`` (unique prompts the explanation needs, cached or not, so it is reproducible).

With ``metrics.whitebox`` on an in-process local model, a white-box reference row
("ablation", ``llm.models.whitebox``) gets the leave-one-word-out drop in the log-probability
of the model's own answer as its attributions; it is scored like a method (accuracy against
the rationale, erasure) and every method gets ``whitebox_spearman``, its rank correlation
with the reference. Its ``llm_calls`` count the d + 1 forward passes it takes.

The random baseline ("random") gets i.i.d. N(0, 1) attributions per prompt (and per changed
prompt and repeated run); it has no surrogate, so no fidelity, and needs no model call.

Degenerate explanations are flagged per row (``degenerate``, empty when not): "constant
output shift" when the output distance the method regresses on never changed over the
fitted perturbations (every surrogate is then constant and its fidelity R² undefined), and
"constant attributions" when every word got the same attribution. The report counts them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import config as config_module
from ..config import ExplainConfig, MethodSpec
from ..errors import XaiBenchError
from ..explain.explainer import DistanceStage, QueryStage, distance_stage, fit_stage, query_stage
from ..explain.explanation import Explanation
from ..explain.features import Features
from ..metrics import (
    attribution_accuracy,
    consistency,
    erasure_masks,
    aopc,
    random_attributions,
    topk_jaccard,
)
from ..metrics.fidelity import fidelity_stats
from ..metrics.reference import reference_spearman
from ..explain.perturbation import Perturbations
from ..explain.surrogates import gaussian_kernel, lime_kernel
from .config import RANDOM_METHOD, BenchmarkConfig, VariantSpec
from .rundir import derive_seed

__all__ = ["PerturbationSet", "score_example", "method_key", "covering_methods", "fit_method"]

_FIDELITY_KEYS = ("r2", "r2w", "r2w_adj", "wmse", "wmae", "l1", "l2")
DEFAULT_STABILITY_K = 3


@dataclass(kw_only=True)
class PerturbationSet:
    """One set of perturbations of one prompt with what the stages measured on it."""

    features: Features
    perts: Perturbations
    query: QueryStage | None = None
    dist: DistanceStage | None = None
    error: str | None = None
    position_map: dict[int, int] | None = None  # stability sets: original -> changed position
    description: str = ""


def method_key(method: str, label: str) -> str:
    """The method name in reports: ``gsmile`` or, in a sweep, ``gsmile[n_perturbations=32]``."""
    return f"{method}[{label}]" if label else method


def covering_methods(specs: dict[str, VariantSpec], *, erasure: bool) -> tuple[str, ...]:
    """Built-in methods whose distance needs cover every configured method (for distance_stage)."""
    need_wmd = erasure or any("wmd" in s.input_distance or "wmd" in s.output_distance for s in specs.values())
    need_cos = any("cosine" in s.output_distance for s in specs.values())
    out = (("gsmile",) if need_wmd else ()) + (("lime",) if need_cos else ())
    return out or ("lime",)


def fit_method(spec: VariantSpec, s: PerturbationSet, model: str, cfg: ExplainConfig) -> Explanation:
    """``fit_stage`` for a built-in method or a configured variant."""
    assert s.query is not None and s.dist is not None
    if spec.name in config_module.METHODS:  # a built-in method (variants may not reuse their names)
        return fit_stage(s.features, s.perts, s.query, s.dist, model, cfg, spec.name)
    dist = s.dist
    input_distance = spec.input_distance
    if input_distance == "wmd+cosine":
        dist = dataclasses.replace(dist, iwmd=[a + b for a, b in zip(dist.iwmd, dist.mask_cosine)])
        input_distance = "wmd"
    method_spec = MethodSpec(name=spec.name, input_distance=input_distance, kernel=spec.kernel,  # type: ignore[arg-type]
                             output_distance=spec.output_distance, surrogate=spec.surrogate)  # type: ignore[arg-type]
    return fit_stage(s.features, s.perts, s.query, dist, model, cfg, method_spec)


def _input_distances(spec: VariantSpec, dist: DistanceStage) -> np.ndarray:
    iwmd, mcos = np.asarray(dist.iwmd, float), np.asarray(dist.mask_cosine, float)
    return {"wmd": iwmd, "cosine": mcos, "wmd+cosine": iwmd + mcos}[spec.input_distance]


def _targets(spec: VariantSpec, dist: DistanceStage) -> np.ndarray:
    owmd, ocos = np.asarray(dist.owmd, float), np.asarray(dist.out_cosine, float)
    return {"wmd": owmd, "cosine": ocos, "wmd+cosine": owmd + ocos}[spec.output_distance]


def _heldout_fidelity(spec: VariantSpec, e: Explanation, held: PerturbationSet, cfg: ExplainConfig) -> dict[str, float]:
    assert held.query is not None and held.dist is not None
    ok = np.array([err is None for err in held.query.errors], dtype=bool)
    if ok.sum() < 2:
        return {}
    d_in = _input_distances(spec, held.dist)
    if spec.kernel == "gaussian":
        weights = gaussian_kernel(d_in, e.sigma if e.sigma else 1.0)
    else:
        weights = lime_kernel(d_in, cfg.lime_kernel_width)
    masks = np.asarray(held.perts.masks, float)
    y_hat = masks @ -np.asarray(e.attributions, float) + e.intercept
    # out of sample: no adjusted R² (its degrees-of-freedom correction is for the fitted data)
    stats = fidelity_stats(_targets(spec, held.dist)[ok], y_hat[ok], weights[ok], n_features=masks.shape[1],
                           in_sample=False)
    return {f"fidelity_{k}_heldout": v for k, v in stats.items() if v is not None}


def _degenerate(e: Explanation) -> str | None:
    """Why an explanation learned nothing ("constant output shift", "constant attributions"), or None."""
    reasons = []
    shifts = [r.owmd for r in e.perturbations if r.included]
    if shifts and np.ptp(shifts) == 0:
        reasons.append("constant output shift")
    if np.ptp(np.asarray(e.attributions, float)) == 0:
        reasons.append("constant attributions")
    return "; ".join(reasons) or None


def _random_explanation(features: Features, seed: int, model: str,
                        response: str) -> Explanation:
    attrs = random_attributions(features.n, seed)
    return Explanation(method=RANDOM_METHOD, model=model, prompt=features.text, tokens=list(features.words),
                       attributions=[float(a) for a in attrs], intercept=0.0, original_response=response,
                       config={"seed": seed}, timings={"surrogate": 0.0})


def _whitebox_explanation(main: PerturbationSet, model: str, cfg: ExplainConfig, notes: list[str],
                          where: str) -> Explanation | None:
    """The white-box reference (module docstring), or None with a note when it cannot be had."""
    from ..llm.models.whitebox import WHITEBOX_METHOD, leave_one_out, supports_whitebox

    if not supports_whitebox(model):
        return None
    f = main.features
    answer = main.query.original_response if main.query is not None else ""
    ones = np.ones(f.n, dtype=np.int8)
    texts = [f.text] + [f.render(np.where(np.arange(f.n) == i, 0, ones)) for i in range(f.n)]
    t0 = time.perf_counter()
    try:
        lp = leave_one_out(model, cfg.system_prompt, texts, answer)
    except XaiBenchError as e:
        notes.append(f"{where}: white-box ablation left out: {e}")
        return None
    return Explanation(method=WHITEBOX_METHOD, model=model, prompt=f.text, tokens=list(f.words),
                       attributions=[float(lp[0] - v) for v in lp[1:]], intercept=float(lp[0]),
                       original_response=answer, config={"reference": "leave-one-word-out answer log-probability"},
                       timings={"surrogate": time.perf_counter() - t0})


def _method_seconds(spec: VariantSpec | None, q: QueryStage, dist: DistanceStage, e: Explanation) -> float:
    if spec is None:  # random baseline
        return float(e.timings.get("surrogate", 0.0))
    t = dist.timings
    seconds = q.seconds + float(e.timings.get("surrogate", 0.0))
    if "wmd" in spec.input_distance:
        seconds += t.get("embed_and_iwmd", 0.0)
    if "wmd" in spec.output_distance:
        seconds += t.get("owmd", 0.0) + t.get("pvalues", 0.0)
    if "cosine" in spec.output_distance:
        seconds += t.get("out_cosine", 0.0)
    return seconds


def _erasure(explanations: dict[str, Explanation], main: PerturbationSet, model: str, cfg: ExplainConfig,
             cache: Any, embedder: Any, notes: list[str], where: str, ties: int) -> dict[str, dict[str, float]]:
    """ERASER comprehensiveness and sufficiency of every method, in one query batch."""
    features = main.features
    if features.n < 2:
        return {}
    plan: list[tuple[str, int]] = []  # (method, number of bins)
    masks: list[np.ndarray] = []
    for m, e in explanations.items():
        em = erasure_masks(e.attributions, tie_seed=ties)
        plan.append((m, len(em)))
        for b in em:
            masks.extend([b.remove_topk, b.keep_topk])
    perts = Perturbations(masks=np.stack(masks).astype(np.int8), texts=tuple(features.render(x) for x in masks),
                          seed=0, keep_prob=cfg.keep_prob)
    try:
        q = query_stage(features, perts, model, cfg, cache=cache, progress=False)
    except XaiBenchError as e:
        notes.append(f"{where}: erasure queries failed, comprehensiveness/sufficiency left out: {e}")
        return {}
    dist = distance_stage(features, perts, q, cfg.replace(methods=("gsmile",), pvalue_permutations=0),
                          embedder=embedder)
    out: dict[str, dict[str, float]] = {}
    j = 0
    for m, n_bins in plan:
        shifts = np.asarray(dist.owmd[j : j + 2 * n_bins], float)
        errs = q.errors[j : j + 2 * n_bins]
        j += 2 * n_bins
        if any(err is not None for err in errs):
            continue
        out[m] = aopc(shifts[0::2], shifts[1::2])
    return out


def _stability_k(config: BenchmarkConfig, rationale: tuple[int, ...] | None) -> int:
    k = config.metrics.stability_k
    if k == "auto":
        return int(sum(rationale)) if rationale and sum(rationale) > 0 else DEFAULT_STABILITY_K
    return int(k)


def score_example(
    *,
    example: Any,
    model: str,
    model_spec: str,
    dataset: str,
    config: BenchmarkConfig,
    sets: dict[str, PerturbationSet],
    cache: Any,
    embedder_factory: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(per-prompt metric rows, explanation dicts of the first setting, notes) of one example.

    ``model`` is the resolved model string (``oracle:@rationale`` becomes the example's
    oracle); rows are reported under ``model_spec``.
    """
    rows: list[dict[str, Any]] = []
    explanations_out: list[dict[str, Any]] = []
    notes: list[str] = []
    specs = config.method_specs
    rationale = example.rationale
    for s_index, (label, cfg) in enumerate(config.settings()):
        main = sets[f"{label or 'base'}|main"]
        where = f"{model_spec} / {example.id}" + (f" [{label}]" if label else "")
        if main.error or main.query is None or main.dist is None:
            notes.append(f"{where}: skipped, {main.error}")
            continue
        embedder = embedder_factory()
        exps: dict[str, Explanation] = {}
        for m, spec in specs.items():
            exps[method_key(m, label)] = fit_method(spec, main, model, cfg)
        spec_of: dict[str, VariantSpec | None] = {method_key(m, label): spec for m, spec in specs.items()}
        seed = config.seed
        if config.random_baseline and s_index == 0:
            exps[RANDOM_METHOD] = _random_explanation(main.features, derive_seed(seed, "random", example.id),
                                                      model, main.query.original_response)
            spec_of[RANDOM_METHOD] = None
        reference = _whitebox_explanation(main, model, cfg, notes, where) if (
            config.metrics.whitebox and s_index == 0) else None
        metrics: dict[str, dict[str, float]] = {k: {} for k in exps}
        ties = derive_seed(seed, "ties", example.id)  # the tie order of every top-k of this prompt
        held = sets.get(f"{label or 'base'}|heldout")
        if config.metrics.fidelity_heldout and held is None:
            d = main.features.n
            notes.append(f"{where}: held-out fidelity not available: the {d} word(s) allow {2 ** d - 1} non-empty "
                         "masks, and the training masks and the original prompt leave fewer than 2 of them.")
        for k, e in exps.items():
            spec = spec_of[k]
            m = metrics[k]
            if rationale is not None:
                m.update(attribution_accuracy(e.attributions, rationale, tie_seed=ties))
            if spec is not None:
                m.update({f"fidelity_{f}": e.fit[f] for f in _FIDELITY_KEYS if e.fit.get(f) is not None})
                if held is not None and held.query is not None and held.dist is not None:
                    m.update(_heldout_fidelity(spec, e, held, cfg))
            m["seconds"] = _method_seconds(spec, main.query, main.dist, e)
            unique = {main.features.text, *main.perts.texts}
            m["llm_calls"] = float(len(unique)) if spec is not None else 0.0
            if spec is not None and main.query.tokens is not None:  # the explanation's token cost (issue 11)
                m.update({k: float(v) for k, v in main.query.tokens.items()})
        scored = dict(exps)  # the methods, and the white-box reference row where there is one
        if reference is not None:
            scored[reference.method] = reference
            m = metrics[reference.method] = {}
            if rationale is not None:
                m.update(attribution_accuracy(reference.attributions, rationale, tie_seed=ties))
            m["seconds"] = float(reference.timings["surrogate"])
            m["llm_calls"] = float(main.features.n + 1)  # forward passes, no generation
            for k, e in exps.items():
                metrics[k]["whitebox_spearman"] = reference_spearman(e.attributions, reference.attributions)
        if config.metrics.erasure:  # its model calls are a cost of the metric, not of the method
            for k, v in _erasure(scored, main, model, cfg, cache, embedder, notes, where, ties).items():
                metrics[k].update(v)
        if config.metrics.stability:
            k_top = _stability_k(config, rationale)
            for kind in config.metrics.stability_changes:
                changed = sets.get(f"{label or 'base'}|stab:{kind}")
                if changed is None or changed.error or changed.query is None:
                    if changed is not None:
                        notes.append(f"{where}: stability change {kind!r} skipped, {changed.error}")
                    continue
                for k, e in exps.items():
                    spec = spec_of[k]
                    if spec is None:
                        e2 = _random_explanation(changed.features, derive_seed(seed, "random", example.id, kind),
                                                 model, changed.query.original_response)
                    else:
                        e2 = fit_method(spec, changed, model, cfg)
                    metrics[k][f"stability_jaccard_{kind}"] = topk_jaccard(
                        e.tokens, e.attributions, e2.tokens, e2.attributions, k_top, alignment=changed.position_map,
                        tie_seed=ties, tie_seed_b=derive_seed(seed, "ties", example.id, kind))
            for k in exps:
                vals = [metrics[k][f"stability_jaccard_{kind}"] for kind in config.metrics.stability_changes
                        if f"stability_jaccard_{kind}" in metrics[k]]
                if vals:
                    metrics[k]["stability_jaccard"] = float(np.mean(vals))
        runs = config.metrics.consistency_runs
        if runs:
            repeats = [sets.get(f"{label or 'base'}|cons{r}") for r in range(1, runs)]
            if all(r is not None and r.query is not None and r.dist is not None for r in repeats):
                for k, e in exps.items():
                    spec = spec_of[k]
                    if spec is None:
                        mat = [e.attributions] + [random_attributions(main.features.n, derive_seed(
                            seed, "random", example.id, "cons", r)) for r in range(1, runs)]
                    else:
                        mat = [e.attributions] + [fit_method(spec, r, model, cfg).attributions for r in repeats]  # type: ignore[arg-type]
                    metrics[k].update(consistency(np.asarray(mat, float)))
            else:
                notes.append(f"{where}: consistency skipped, a repeated run failed")
        for k, e in scored.items():
            row: dict[str, Any] = {"model": model_spec, "dataset": dataset, "method": k,
                                   "example_id": example.id, "n_words": main.features.n,
                                   "n_rationale": None if rationale is None else int(sum(rationale)),
                                   "degenerate": _degenerate(e)}
            row.update({name: (None if not math.isfinite(v) else float(v)) for name, v in metrics[k].items()})
            rows.append(row)
            if s_index == 0:
                d = e.to_dict()
                d["perturbations"] = []
                explanations_out.append({"example_id": example.id, "explanation": d})
    return rows, explanations_out, notes
