"""Adaptive perturbation against fixed J=64: calls per prompt and attribution quality (issue 11, item 1).

Two parts, printed in one run:

1. Oracle model (``oracle:@rationale``: the answer depends only on the rationale words, no
   LLM runs): for ``--oracle-per-set`` prompts of each of the data sets ``--oracle-sets``,
   explain with fixed J=64 and with ``sampling: adaptive`` (at most 64), the three methods on
   the same perturbations, and print the model calls per prompt and the AUROC of the
   attributions against the rationale (``metrics.attribution_accuracy``, seeded ties).
2. Embedded model (``--model``, default local/smollm2-135m): label tasks (cose, hatexplain) with
   ``max_tokens`` 8, prompts of at most ``--max-words`` words (default 8: then the J=256
   reference is every one of the 2^d - 1 <= 255 masks, the exact surrogate of the whole mask
   space, and the J=64 and adaptive masks are answered from the cache), alternating between the
   data sets until ``--minutes`` of wall time are used (the prompt under way is finished); per
   prompt a J=256 reference (fixed sampling, seed 1), fixed J=64 (seed 0) and adaptive. Printed: calls
   per prompt, Spearman rank correlation of each method's attributions with the same method's
   J=256 reference, and AUROC against the rationales; and exactly how many prompts were done.
   Responses go through a response cache (``--cache``), so a rerun only recomputes.

Target (issue 11): adaptive averages at most 25% of J=64's calls, AUROC within 0.02, rank
correlation with the reference at least as high. The defaults of the adaptive sampler were
chosen before this run and are not tuned on these prompts.

Run: .venv/bin/python benchmarks/bench_adaptive.py [--oracle-per-set 10] [--minutes 25]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

METHODS = ("gsmile", "lime", "baylime")


def _examples(name: str, limit: int, max_words: int) -> list:
    from xai_bench.datasets import load_dataset
    from xai_bench.paths import REPO_ROOT

    ds = load_dataset(REPO_ROOT / "data" / "prepared" / f"{name}.jsonl")
    rows = [ex for ex in ds.examples if ex.rationale is not None and sum(ex.rationale) > 0
            and len(ex.words) <= max_words and sum(ex.rationale) < len(ex.words)]
    return rows[:limit]


def _explain(ex, model: str, cfg, cache, embedder) -> dict:
    from xai_bench.explain.explainer import explain

    return explain(" ".join(ex.words), model, cfg, template=ex.template, words=ex.words, cache=cache,
                   embedder=embedder, progress=False)


def _auroc(e, ex) -> float:
    from xai_bench.metrics import attribution_accuracy

    return attribution_accuracy(e.attributions, ex.rationale, tie_seed=0)["att_auroc"]


def _calls(exps: dict) -> int:
    e = next(iter(exps.values()))
    return int(e.usage.get("llm_calls", 0)) + int(e.usage.get("cache_hits", 0))


def _table(title: str, rows: dict[str, list[dict]], keys: tuple[str, ...]) -> None:
    print(f"\n{title}")
    print(f"{'sampling':<10}{'prompts':>8}{'calls/prompt':>14}" + "".join(f"{k:>18}" for k in keys))
    for mode, rs in rows.items():
        if not rs:
            continue
        calls = np.mean([r["calls"] for r in rs])
        print(f"{mode:<10}{len(rs):>8}{calls:>14.1f}" + "".join(f"{np.nanmean([r[k] for r in rs]):>18.3f}"
                                                           for k in keys))
    f, a = rows.get("fixed64"), rows.get("adaptive")
    if f and a:
        ratio = np.mean([r["calls"] for r in a]) / np.mean([r["calls"] for r in f])
        diffs = ", ".join(f"{k} {np.nanmean([r[k] for r in a]) - np.nanmean([r[k] for r in f]):+.3f}" for k in keys)
        print(f"adaptive / fixed64 calls: {ratio:.1%} (target <= 25%); adaptive - fixed64: {diffs}")


def oracle_part(args, embedder) -> None:
    from xai_bench.benchmark.prepare import resolve_model
    from xai_bench.benchmark.config import ORACLE_RATIONALE
    from xai_bench.config import ExplainConfig

    base = ExplainConfig(methods=METHODS, n_perturbations=64, seed=0, pvalue_permutations=0)
    rows: dict[str, list[dict]] = {"fixed64": [], "adaptive": []}
    sets = args.oracle_sets.split(",")
    for name in sets:
        for ex in _examples(name, args.oracle_per_set, 64):
            model = resolve_model(ORACLE_RATIONALE, ex)
            for mode, cfg in (("fixed64", base), ("adaptive", base.replace(sampling="adaptive"))):
                exps = _explain(ex, model, cfg, None, embedder)
                rows[mode].append({"calls": _calls(exps), **{f"auroc_{m}": _auroc(exps[m], ex) for m in METHODS}})
    n = len(rows["fixed64"])
    _table(f"== oracle:@rationale, {n} prompts ({', '.join(sets)}; up to {args.oracle_per_set} each), "
           "3 methods on shared perturbations", rows, tuple(f"auroc_{m}" for m in METHODS))


def embedded_part(args, embedder) -> None:
    from scipy.stats import spearmanr

    from xai_bench.config import ExplainConfig
    from xai_bench.llm.cache import ResponseCache

    cache = ResponseCache(Path(args.cache).expanduser()) if args.cache != "off" else None
    base = ExplainConfig(methods=METHODS, n_perturbations=64, seed=0, pvalue_permutations=0, max_tokens=8)
    modes = (("reference256", base.replace(n_perturbations=256, seed=1)), ("fixed64", base),
             ("adaptive", base.replace(sampling="adaptive")))
    pools = [_examples(name, 200, args.max_words) for name in args.embedded_sets.split(",")]
    order = [ex for group in zip(*pools) for ex in group]
    rows: dict[str, list[dict]] = {"fixed64": [], "adaptive": []}
    done: list[str] = []
    t0 = time.perf_counter()
    try:
        for ex in order:
            if time.perf_counter() - t0 > args.minutes * 60:
                break
            exps = {mode: _explain(ex, args.model, cfg, cache, embedder) for mode, cfg in modes}
            ref = exps["reference256"]
            for mode in ("fixed64", "adaptive"):
                r = {"calls": _calls(exps[mode])}
                for m in METHODS:
                    r[f"auroc_{m}"] = _auroc(exps[mode][m], ex)
                    rho = spearmanr(exps[mode][m].attributions, ref[m].attributions).statistic
                    r[f"rho256_{m}"] = float(rho) if np.isfinite(rho) else np.nan
                rows[mode].append(r)
            done.append(ex.id)
            print(f"   {len(done)} prompts, {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        if cache is not None:
            cache.close()
    keys = tuple(f"rho256_{m}" for m in METHODS) + tuple(f"auroc_{m}" for m in METHODS)
    _table(f"== {args.model}, {len(done)} prompts ({args.embedded_sets}, <= {args.max_words} words, max_tokens 8) "
           f"in {time.perf_counter() - t0:.0f} s: {', '.join(done)}", rows, keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle-sets", default="paper,instructions,cose,hatexplain")
    ap.add_argument("--oracle-per-set", type=int, default=10)
    ap.add_argument("--embedded-sets", default="cose,hatexplain")
    ap.add_argument("--model", default="local/smollm2-135m")
    ap.add_argument("--max-words", type=int, default=8,
                    help="longest prompt; up to 8 words the J=256 reference is every mask (2^d - 1 <= 255)")
    ap.add_argument("--minutes", type=float, default=25.0, help="wall-time budget of the embedded part")
    ap.add_argument("--cache", default="~/.cache/xai-bench/bench_adaptive.sqlite", help="response cache, or 'off'")
    ap.add_argument("--skip-oracle", action="store_true")
    ap.add_argument("--skip-embedded", action="store_true")
    args = ap.parse_args()

    from xai_bench.offline import set_offline_env

    set_offline_env()  # before litellm is imported: its import otherwise fetches a cost map
    from xai_bench.config import ExplainConfig
    from xai_bench.explain.embeddings import Embedder

    d = ExplainConfig(sampling="adaptive")
    print(f"adaptive defaults: initial {d.adaptive_initial}, step {d.adaptive_step}, stability "
          f"{d.adaptive_stability}, bootstrap {d.adaptive_bootstrap}, at most n_perturbations = 64")
    embedder = Embedder()
    if not args.skip_oracle:
        oracle_part(args, embedder)
    if not args.skip_embedded:
        embedded_part(args, embedder)


if __name__ == "__main__":
    main()
