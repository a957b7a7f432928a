"""Where the time goes in one gSMILE explanation, and how fast/accurate the p-values are.

Prints (issue 2):
1. For 64 perturbations of a 12-word prompt on the embedded model (local/smollm2-135m,
   cache off): time in the model, in embeddings + distances, in p-values, in surrogates and
   everything else; the non-model share (target: under 10%).
2. Permutation p-values for all 64 perturbations at 10,000 permutations each (target: under
   5 s), and their agreement with a plain exact loop (every permutation solved exactly, no
   stopping, no tail approximation) on a sample of perturbations.

Run: make bench   (or .venv/bin/python benchmarks/bench_explain.py [--model M] [--sample K])
"""

from __future__ import annotations

import argparse
import time

import numpy as np

PROMPT = "Give me three quick tips for cooking rice on the stove ."  # 12 words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="local/smollm2-135m")
    ap.add_argument("--perturbations", type=int, default=64)
    ap.add_argument("--sample", type=int, default=8, help="perturbations re-checked with the exact loop")
    ap.add_argument("--permutations", type=int, default=10_000)
    args = ap.parse_args()

    from xai_bench.config import ExplainConfig
    from xai_bench.explain.embeddings import Embedder
    from xai_bench.explain.explainer import distance_stage, fit_stage, query_stage
    from xai_bench.explain.features import prompt_features
    from xai_bench.explain.perturbation import generate_perturbations
    from xai_bench.explain.significance import permutation_pvalue, permutation_pvalues

    assert len(PROMPT.split()) == 12
    cfg = ExplainConfig(methods=("gsmile",), n_perturbations=args.perturbations, seed=0)
    embedder = Embedder()
    embedder.token_embeddings(["warm-up"])  # model load is a one-off, not per explanation

    t_all = time.perf_counter()
    t = time.perf_counter()
    feats = prompt_features(PROMPT)
    perts = generate_perturbations(feats, n=cfg.n_perturbations, keep_prob=cfg.keep_prob, seed=cfg.seed)
    t_perturb = time.perf_counter() - t
    q = query_stage(feats, perts, args.model, cfg, cache=None, progress=True)
    d = distance_stage(feats, perts, q, cfg, embedder=embedder)
    t = time.perf_counter()
    e = fit_stage(feats, perts, q, d, args.model, cfg, "gsmile")
    t_fit = time.perf_counter() - t
    total = time.perf_counter() - t_all
    model_s = q.seconds
    dist_s = d.timings.get("embed_and_iwmd", 0) + d.timings.get("owmd", 0) + d.timings.get("out_cosine", 0)
    pv_s = d.timings.get("pvalues", 0)
    other = total - model_s - dist_s - pv_s - t_fit
    print(f"\n== one explanation: {args.model}, {len(perts)} perturbations of a 12-word prompt, "
          f"{cfg.pvalue_permutations} permutations per p-value (the default)")
    print(f"{'stage':<26}{'seconds':>10}{'share':>9}")
    for name, s in [("model (llama.cpp)", model_s), ("embeddings + distances", dist_s),
                    ("p-values", pv_s), ("surrogate fit", t_fit), ("everything else", other + t_perturb)]:
        print(f"{name:<26}{s:>10.2f}{s / total:>9.1%}")
    print(f"{'total':<26}{total:>10.2f}")
    print(f"non-model share: {(total - model_s) / total:.1%} (target < 10%)")

    # 2. p-values at 10,000 permutations
    out_toks = embedder.token_embeddings([q.original_response, *q.responses])
    t = time.perf_counter()
    fast = permutation_pvalues(out_toks[0], list(out_toks[1:]), n_permutations=args.permutations, seed=0,
                               keys=list(q.responses))
    t_fast = time.perf_counter() - t
    unique = len(set(q.responses))
    print(f"\n== p-values: {len(fast)} perturbations ({unique} distinct responses) x {args.permutations} permutations: "
          f"{t_fast:.2f} s (target < 5 s)")
    n_tail = sum(r.tail_approximation for r in fast)
    n_stop = sum(r.stopped_early and not r.tail_approximation for r in fast)
    print(f"   tail-approximated: {n_tail}, stopped early (non-significant): {n_stop}, "
          f"exact OT solves: {sum(r.n_exact for r in fast)}")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(fast), size=min(args.sample, len(fast)), replace=False)
    print(f"\n== agreement with the plain exact loop ({args.permutations} permutations, all solved exactly) "
          f"on {len(idx)} perturbations")
    print(f"{'j':>4}{'fast p':>12}{'exact p':>12}{'same verdict @0.05':>20}{'seconds exact':>15}")
    agree = 0
    t_exact_total = 0.0
    for j in idx:
        t = time.perf_counter()
        ex = permutation_pvalue(out_toks[0], out_toks[1 + j], n_permutations=args.permutations, seed=0,
                                use_bounds=False, stop_after=None, exact_budget=None)
        dt = time.perf_counter() - t
        t_exact_total += dt
        same = (fast[j].p_value < 0.05) == (ex.p_value < 0.05)
        agree += same
        print(f"{j:>4}{fast[j].p_value:>12.2e}{ex.p_value:>12.2e}{str(same):>20}{dt:>15.2f}")
    print(f"verdicts agree on {agree}/{len(idx)}; exact loop would take ~{t_exact_total / len(idx) * unique:.0f} s "
          f"for all {unique} distinct responses vs {t_fast:.2f} s")


if __name__ == "__main__":
    main()
