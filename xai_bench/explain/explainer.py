"""gSMILE and its baselines from one prompt to token attributions.

The pipeline is a chain of typed stages, each a plain function whose input and output
can be written to disk (so an Airflow task or a DVC stage can run any one of them):

    prompt_features -> generate_perturbations -> query_stage -> distance_stage -> fit_stage

``explain`` runs the whole chain in process and returns one ``Explanation`` per method.
All methods share the same perturbations and model responses; they differ only in the
input distance, kernel, output distance and surrogate (``config.METHODS``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..llm.cache import ResponseCache
from ..config import METHODS, ExplainConfig, MethodSpec
from .distances import cosine_distance, mask_cosine_distance, wasserstein
from .embeddings import Embedder
from ..errors import ModelError
from .explanation import Explanation, PerturbationRecord
from .features import Features, prompt_features
from .perturbation import Perturbations, generate_perturbations
from ..llm.query import QueryFailures, QuerySettings, Usage, query_model
from .significance import permutation_pvalues
from .surrogates import auto_sigma, fit_surrogate, gaussian_kernel, lime_kernel

__all__ = ["explain", "query_stage", "distance_stage", "stage_texts", "fit_stage", "adaptive_stages", "QueryStage",
           "DistanceStage", "query_settings"]


def query_settings(model: str, config: ExplainConfig) -> QuerySettings:
    """The request settings of ``config`` for ``model`` (the call log: ``config.call_log``, else
    ``$XAI_BENCH_CALL_LOG`` through :mod:`xai_bench.paths`)."""
    from ..paths import call_log_path

    return QuerySettings(
        model=model, temperature=config.temperature, max_tokens=config.max_tokens, top_p=config.top_p,
        seed=config.seed, system_prompt=config.system_prompt, api_base=config.api_base, timeout=config.timeout,
        num_retries=config.num_retries, concurrency=config.concurrency, max_failure_share=config.max_failure_share,
        retry_initial_wait=config.retry_initial_wait, retry_max_wait=config.retry_max_wait,
        call_log=config.call_log or call_log_path(), local_batch_size=config.local_batch_size,
        local_threads=config.local_threads,
    )


@dataclass(frozen=True, kw_only=True)
class QueryStage:
    """Responses to the original prompt and to every perturbed prompt."""

    original_response: str
    responses: list[str]  # "" where the call failed
    errors: list[str | None]
    usage: dict[str, Any]
    seconds: float
    # output_mode "samples"/"logprobs": the per-prompt distributions (output_distance.distribution_owmd)
    distribution: dict[str, Any] | None = None
    # prompt_tokens / completion_tokens of every distinct request, cached or not (``usage`` counts fresh
    # calls only): what the explanation costs, the same in every run; None in runs written before it existed
    tokens: dict[str, int] | None = None


def request_tokens(*results: Any) -> dict[str, int]:
    """Prompt and completion tokens of the distinct prompts of query results, cached replies included."""
    seen: dict[tuple[int, str], tuple[int, int]] = {}
    for i, result in enumerate(results):
        for r in result.replies:
            seen.setdefault((i, r.prompt), (int(r.prompt_tokens or 0), int(r.completion_tokens or 0)))
    return {"prompt_tokens": sum(p for p, _ in seen.values()), "completion_tokens": sum(c for _, c in seen.values())}


def _add_tokens(a: dict[str, int] | None, b: dict[str, int] | None) -> dict[str, int] | None:
    return None if a is None or b is None else {k: a.get(k, 0) + b.get(k, 0) for k in ("prompt_tokens",
                                                                                        "completion_tokens")}


@dataclass(frozen=True, kw_only=True)
class DistanceStage:
    """Every distance any method needs, for every perturbation."""

    iwmd: list[float]  # WMD between prompts (eq. 1)
    mask_cosine: list[float]  # LIME's cosine distance between masks
    owmd: list[float]  # Wasserstein-P between outputs (eq. 2)
    out_cosine: list[float]  # cosine distance between output sentence embeddings
    p_values: list[float | None]
    timings: dict[str, float] = field(default_factory=dict)


def query_stage(features: Features, perturbations: Perturbations, model: str, config: ExplainConfig, *,
                cache: ResponseCache | None = None, progress: bool = True) -> QueryStage:
    """Query the model on the original prompt and each perturbation (deduplicated, cached)."""
    from .output_distance import output_options

    settings = query_settings(model, config)
    options = output_options(config)
    if options.mode != "text":
        return _distribution_query_stage(features, perturbations, model, settings, options, cache=cache,
                                         progress=progress)
    t0 = time.perf_counter()
    prompts = [features.text, *perturbations.texts]
    try:
        result = query_model(prompts, settings, cache=cache, progress=progress)
    except QueryFailures as e:  # name the original prompt's failure first: it is fatal on its own
        _check_original(model, e.result.replies[0])
        raise
    first = result.replies[0]
    _check_original(model, first)
    replies = result.replies[1:]
    return QueryStage(
        original_response=first.text or "",
        responses=[r.text or "" for r in replies],
        errors=[r.error for r in replies],
        usage=result.usage.to_dict(),
        seconds=time.perf_counter() - t0,
        tokens=request_tokens(result),
    )


def _check_original(model: str, first: Any) -> None:
    if not first.ok:
        raise ModelError(f"The model {model!r} failed on the original prompt: {first.error}")
    if not (first.text or "").strip():
        raise ModelError(
            f"The model {model!r} returned an empty response to the original prompt, so there is no output to "
            "compare perturbations with. Try a larger max_tokens, another system prompt or another model."
        )


def _distribution_query_stage(features: Features, perturbations: Perturbations, model: str, settings: QuerySettings,
                              options: Any, *, cache: ResponseCache | None, progress: bool) -> QueryStage:
    """Queries of output_mode "samples" (k seeded samples per prompt) or "logprobs" (the original
    answer in full, then one-token calls with top-k log-probabilities for every prompt)."""
    t0 = time.perf_counter()
    prompts = [features.text, *perturbations.texts]
    usage = Usage()
    results: list[Any] = []
    if options.mode == "samples":
        runs = []
        for s in range(options.n_samples):
            res = query_model(prompts, settings, cache=cache, progress=progress,
                              description=f"sample {s + 1}/{options.n_samples}", sample=s)
            results.append(res)
            usage.add(Usage(**res.usage.to_dict()))
            runs.append(res.replies)
        _check_original(model, runs[0][0])
        per_prompt = [[run[i] for run in runs] for i in range(len(prompts))]
        original = [r.text or "" for r in per_prompt[0] if r.ok]
        perturbed = [[r.text or "" for r in rs if r.ok] for rs in per_prompt[1:]]
        errors = [None if any(r.ok for r in rs) else rs[0].error for rs in per_prompt[1:]]
        responses = [next((r.text or "" for r in rs if r.ok), "") for rs in per_prompt[1:]]
        distribution: dict[str, Any] = {"mode": "samples", "n_samples": options.n_samples,
                                        "original": original, "perturbed": perturbed}
        original_text = per_prompt[0][0].text or ""
    else:
        full = query_model([features.text], settings, cache=cache, progress=False)
        usage.add(Usage(**full.usage.to_dict()))
        _check_original(model, full.replies[0])
        lp_settings = dataclasses.replace(settings, logprobs=options.top_logprobs, max_tokens=1)
        res = query_model(prompts, lp_settings, cache=cache, progress=progress, description="next-token logprobs")
        results += [full, res]
        usage.add(Usage(**res.usage.to_dict()))
        first = res.replies[0]
        if not first.ok or not first.logprobs:
            raise ModelError(f"The model {model!r} gave no next-token log-probabilities for the original prompt: "
                             f"{first.error or 'empty logprobs'}")
        distribution = {"mode": "logprobs", "top_logprobs": options.top_logprobs,
                        "original": [list(t) for t in first.logprobs[0]],
                        "perturbed": [[list(t) for t in r.logprobs[0]] if r.ok and r.logprobs else None
                                      for r in res.replies[1:]]}
        errors = [r.error if not r.ok else (None if r.logprobs else "no logprobs returned") for r in res.replies[1:]]
        responses = [r.text or "" for r in res.replies[1:]]
        original_text = full.replies[0].text or ""
    return QueryStage(original_response=original_text, responses=responses, errors=errors, usage=usage.to_dict(),
                      seconds=time.perf_counter() - t0, distribution=distribution, tokens=request_tokens(*results))


def stage_texts(features: Features, perturbations: Perturbations, queried: QueryStage | None,
                config: ExplainConfig) -> list[str]:
    """The texts ``distance_stage`` embeds for these inputs (to embed a whole shard in one batch)."""
    specs = [METHODS[m] for m in config.methods]
    texts: list[str] = []
    if any(s.input_distance == "wmd" for s in specs):
        texts += [features.text, *perturbations.texts]
    if queried is not None and queried.distribution is None and any(
            "wmd" in s.output_distance or "cosine" in s.output_distance for s in specs):
        texts += [queried.original_response, *queried.responses]
    return texts


def distance_stage(features: Features, perturbations: Perturbations, queried: QueryStage, config: ExplainConfig, *,
                   embedder: Embedder | None = None) -> DistanceStage:
    """IWMD, mask cosine, OWMD (Wasserstein-P), output cosine and OWMD p-values.

    Every text it needs (prompts and outputs) is embedded in one ``Embedder.embed`` call
    first; texts the embedder has cached already (e.g. a shard embedded up front) cost nothing.
    ``timings``: "embeddings" (that call), "iwmd", "owmd", "pvalues", "out_cosine" (each
    without the embedding time) and "embed_and_iwmd" (embeddings + iwmd, what gSMILE's
    input side costs).
    """
    embedder = embedder or Embedder(config.embedding_model)
    specs = [METHODS[m] for m in config.methods]
    need_wmd_in = any(s.input_distance == "wmd" for s in specs)
    need_wmd_out = any("wmd" in s.output_distance for s in specs)
    need_cos_out = any("cosine" in s.output_distance for s in specs)
    timings: dict[str, float] = {}
    n = len(perturbations)

    t0 = time.perf_counter()
    embedder.embed(stage_texts(features, perturbations, queried, config))
    timings["embeddings"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    iwmd = [0.0] * n
    if need_wmd_in:
        toks = embedder.token_embeddings([features.text, *perturbations.texts])
        iwmd = [wasserstein(toks[0], t, 1.0) for t in toks[1:]]
    timings["iwmd"] = time.perf_counter() - t0
    timings["embed_and_iwmd"] = timings["embeddings"] + timings["iwmd"]

    t0 = time.perf_counter()
    owmd: list[float] = [0.0] * n
    p_values: list[float | None] = [None] * n
    if need_wmd_out and queried.distribution is not None:
        from .output_distance import distribution_owmd

        owmd = distribution_owmd(queried.distribution, embedder, config.wasserstein_p)
        timings["owmd"] = time.perf_counter() - t0  # no permutation p-values for distribution modes
    elif need_wmd_out:
        out_toks = embedder.token_embeddings([queried.original_response, *queried.responses])
        cache: dict[str, float] = {}
        for j, (resp, emb) in enumerate(zip(queried.responses, out_toks[1:])):
            if resp not in cache:
                cache[resp] = 0.0 if resp == queried.original_response else wasserstein(out_toks[0], emb, config.wasserstein_p)
            owmd[j] = cache[resp]
        timings["owmd"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if config.pvalue_permutations > 0:
            res = permutation_pvalues(out_toks[0], list(out_toks[1:]), p=config.wasserstein_p,
                                      n_permutations=config.pvalue_permutations, seed=config.seed,
                                      keys=list(queried.responses))
            p_values = [r.p_value for r in res]
        timings["pvalues"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out_cos = [0.0] * n
    if need_cos_out:
        sents = embedder.sentence_embeddings([queried.original_response, *queried.responses])
        out_cos = [cosine_distance(sents[0], s) for s in sents[1:]]
    timings["out_cosine"] = time.perf_counter() - t0
    return DistanceStage(iwmd=iwmd, mask_cosine=mask_cosine_distance(perturbations.masks).tolist(), owmd=owmd,
                         out_cosine=out_cos, p_values=p_values, timings=timings)


def fit_stage(features: Features, perturbations: Perturbations, queried: QueryStage, dist: DistanceStage,
              model: str, config: ExplainConfig, method: str | MethodSpec) -> Explanation:
    """Kernel weights and the surrogate of one method (a name in METHODS, or any MethodSpec,
    e.g. a benchmark variant) -> its Explanation."""
    spec = METHODS[method] if isinstance(method, str) else method
    method = spec.name
    t0 = time.perf_counter()
    warnings: list[str] = []
    d_in = np.asarray(dist.iwmd if spec.input_distance == "wmd" else dist.mask_cosine, float)
    sigma: float | None = None
    if spec.kernel == "gaussian":
        sigma = auto_sigma(d_in) if config.sigma == "auto" else float(config.sigma)
        weights = gaussian_kernel(d_in, sigma)
    else:
        weights = lime_kernel(d_in, config.lime_kernel_width)
    owmd = np.asarray(dist.owmd, float)
    ocos = np.asarray(dist.out_cosine, float)
    y = {"wmd": owmd, "cosine": ocos, "wmd+cosine": owmd + ocos}[spec.output_distance]

    included = np.array([e is None for e in queried.errors], dtype=bool)
    if (~included).any():
        warnings.append(f"{int((~included).sum())} of {len(included)} model calls failed and were left out of the fit.")
    if config.exclude_nonsignificant and spec.output_distance != "cosine":
        sig = np.array([(p is None) or (p < config.alpha) for p in dist.p_values], dtype=bool)
        if (included & sig).sum() >= 2:
            included &= sig
        else:
            warnings.append("Fewer than 2 perturbations were significant; all were kept for the fit.")
    empty = sum(1 for r, e in zip(queried.responses, queried.errors) if e is None and not r.strip())
    if empty:
        warnings.append(f"{empty} perturbed responses were empty; they count as outputs with no content.")
    if features.n == 1:
        warnings.append("The prompt has one word: no perturbation can remove it without emptying the prompt, "
                        "so its attribution is 0.")
    masks = perturbations.masks
    if included.sum() == 0:
        raise ModelError(f"Every call to {model!r} for the perturbed prompts failed; nothing to fit.")
    fit = fit_surrogate(masks[included], y[included], weights[included], spec.surrogate)
    if fit.warning:  # underdetermined: few perturbations for many words (surrogates module docstring)
        warnings.append(fit.warning)
    records = [
        PerturbationRecord(
            mask=[int(v) for v in masks[j]], prompt=perturbations.texts[j], response=queried.responses[j],
            iwmd=float(d_in[j]), owmd=float(y[j]), p_value=dist.p_values[j], weight=float(weights[j]),
            included=bool(included[j]), error=queried.errors[j],
        )
        for j in range(len(perturbations))
    ]
    timings = {"model": queried.seconds, **dist.timings, "surrogate": time.perf_counter() - t0}
    usage = {k: queried.usage.get(k, 0) for k in ("llm_calls", "cache_hits", "prompt_tokens", "completion_tokens",
                                                   "cost_usd", "deduplicated", "failed_calls", "retries")}
    return Explanation(
        method=method, model=model, prompt=features.text, tokens=list(features.words),
        attributions=[float(-c) for c in fit.coefficients], intercept=fit.intercept,
        original_response=queried.original_response,
        fit={k: (None if v is None else float(v)) for k, v in fit.fit.items()},
        perturbations=records, sigma=sigma, config=config.to_dict(), usage=usage, timings=timings, warnings=warnings,
    )


def _merge_queries(a: QueryStage, b: QueryStage) -> QueryStage:
    """``a``'s original and replies followed by ``b``'s replies (a later adaptive round), usage added up."""
    usage = Usage(**a.usage).add(Usage(**b.usage))
    return QueryStage(original_response=a.original_response, responses=[*a.responses, *b.responses],
                      errors=[*a.errors, *b.errors], usage=usage.to_dict(), seconds=a.seconds + b.seconds,
                      tokens=_add_tokens(a.tokens, b.tokens))


def adaptive_stages(features: Features, model: str, config: ExplainConfig, *, cache: ResponseCache | None = None,
                    embedder: Embedder | None = None, progress: bool = True) -> tuple[Perturbations, QueryStage,
                                                                                      DistanceStage, Any]:
    """``sampling: adaptive``: perturb, query and measure round by round until ``adaptive.AdaptiveSampler``
    stops; returns (perturbations, responses, distances with ``config``'s p-values, trace).

    The original prompt is sent once, with the first round; later rounds send only their new
    prompts. p-values are computed once, on the final set."""
    from .adaptive import AdaptiveSampler

    embedder = embedder or Embedder(config.embedding_model)
    sampler = AdaptiveSampler(features.n, config)
    quick = config.replace(pvalue_permutations=0)
    masks = sampler.first()
    perts = Perturbations(masks=masks, texts=tuple(features.render(m) for m in masks), seed=config.seed,
                          keep_prob=config.keep_prob)
    queried = query_stage(features, perts, model, config, cache=cache, progress=progress)
    while True:
        dist = distance_stage(features, perts, queried, quick, embedder=embedder)
        new = sampler.next_masks(dist, queried.errors)
        if new is None:
            break
        texts = tuple(features.render(m) for m in new)
        t0 = time.perf_counter()
        result = query_model(list(texts), query_settings(model, config), cache=cache, progress=progress)
        later = QueryStage(original_response="", responses=[r.text or "" for r in result.replies],
                           errors=[r.error for r in result.replies], usage=result.usage.to_dict(),
                           seconds=time.perf_counter() - t0, tokens=request_tokens(result))
        queried = _merge_queries(queried, later)
        perts = Perturbations(masks=np.vstack([perts.masks, new]), texts=perts.texts + texts, seed=config.seed,
                              keep_prob=config.keep_prob)
    if config.pvalue_permutations > 0:
        dist = distance_stage(features, perts, queried, config, embedder=embedder)
    return perts, queried, dist, sampler.trace


def explain(
    prompt: str,
    model: str,
    config: ExplainConfig | None = None,
    *,
    template: str | None = None,
    words: Sequence[str] | None = None,
    cache: ResponseCache | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> dict[str, Explanation]:
    """Explain ``prompt`` as answered by ``model`` with every method of ``config.methods``.

    Returns {method: Explanation}. Raises FeatureError for an empty or too long prompt and
    ModelError for an unknown or failing model.
    """
    from ..llm.models.control import check_control_model
    from ..llm.query import check_model

    config = config or ExplainConfig()
    t_start = time.perf_counter()
    features = prompt_features(prompt, template=template, words=words, max_features=config.max_features)
    check_model(model)
    check_control_model(model)  # 'control:flaky-abc' is a model-string error, not a connection failure per call
    trace = None
    if config.sampling == "adaptive":
        perts, queried, dist, trace = adaptive_stages(features, model, config, cache=cache, embedder=embedder,
                                                      progress=progress)
    else:
        perts = generate_perturbations(features, n=config.n_perturbations, keep_prob=config.keep_prob,
                                       seed=config.seed)
        queried = query_stage(features, perts, model, config, cache=cache, progress=progress)
        dist = distance_stage(features, perts, queried, config, embedder=embedder)
    out: dict[str, Explanation] = {}
    for m in config.methods:
        out[m] = fit_stage(features, perts, queried, dist, model, config, m)
    total = time.perf_counter() - t_start
    for e in out.values():
        e.timings["total"] = total
        if trace is not None:  # how many perturbations the stopping rule asked for, round by round
            e.usage["adaptive"] = trace.to_dict()
    return out
