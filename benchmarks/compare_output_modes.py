"""Compare output modes for OWMD (text, samples, logprobs): agreement with planted truth on
control models, stability across seeds on real models, and cost in calls and time.

    python benchmarks/compare_output_modes.py [--models control,smollm,qwen] [--j 24]

Figures are written into docs/output-distance.md by hand.
"""

from __future__ import annotations

import argparse
import time

from xai_bench.offline import set_offline_env  # noqa: E402

set_offline_env()

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from xai_bench.config import ExplainConfig  # noqa: E402
from xai_bench.explain.embeddings import Embedder  # noqa: E402
from xai_bench.explain.explainer import explain  # noqa: E402

CONTROL_PROMPT = "Please tell me what the meaning of my life could be ."
TRUTH = {"meaning", "life"}
REAL_PROMPT = "Name the capital city of France ."

MODES = {
    "text T=0": (0.0, {}),
    "text T=0.8": (0.8, {}),
    "samples k=4 T=0.8": (0.8, {"output_mode": "samples", "n_samples": 4}),
    "samples k=8 T=0.8": (0.8, {"output_mode": "samples", "n_samples": 8}),
    "logprobs k=10": (0.0, {"output_mode": "logprobs", "top_logprobs": 10}),
}


def run(prompt: str, model: str, mode: str, seed: int, j: int, emb: Embedder, max_tokens: int):
    temperature, options = MODES[mode]
    cfg = ExplainConfig(n_perturbations=j, seed=seed, temperature=temperature, max_tokens=max_tokens,
                        pvalue_permutations=0, **options)
    t0 = time.perf_counter()
    e = explain(prompt, model, cfg, embedder=emb, progress=False)["gsmile"]
    return e, time.perf_counter() - t0


def control(j: int, emb: Embedder) -> None:
    print(f"## control:noisy-<pct>:meaning,life, J={j}, precision@2 of the planted keywords over seeds 0-4")
    print("| model | mode | precision@2 | calls per explanation | seconds |")
    print("|---|---|---|---|---|")
    for noise in (0, 30, 50):
        model = f"control:noisy-{noise}:meaning,life"
        for mode in MODES:
            hits, calls, secs = [], [], []
            for seed in range(5):
                e, s = run(CONTROL_PROMPT, model, mode, seed, j, emb, 48)
                hits.append(len({w for _, w, _ in e.top(2)} & TRUTH) / 2)
                calls.append(e.usage["llm_calls"] + e.usage["cache_hits"])
                secs.append(s)
            print(f"| noisy-{noise} | {mode} | {np.mean(hits):.2f} | {np.mean(calls):.0f} | {np.mean(secs):.2f} |")


def real(model: str, modes: list[str], j: int, emb: Embedder, max_tokens: int) -> None:
    print(f"## {model}, J={j}, max_tokens={max_tokens}: stability = Spearman of attributions, seed 0 vs seed 1")
    print("| mode | stability | top-3 (seed 0) | calls | seconds |")
    print("|---|---|---|---|---|")
    for mode in modes:
        exps, secs = [], []
        for seed in (0, 1):
            e, s = run(REAL_PROMPT, model, mode, seed, j, emb, max_tokens)
            exps.append(e)
            secs.append(s)
        rho = spearmanr(exps[0].attributions, exps[1].attributions).statistic
        top = ", ".join(w for _, w, _ in exps[0].top(3))
        calls = exps[0].usage["llm_calls"] + exps[0].usage["cache_hits"]
        print(f"| {mode} | {rho:+.2f} | {top} | {calls} | {np.mean(secs):.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="control,smollm,qwen")
    ap.add_argument("--j", type=int, default=24)
    args = ap.parse_args()
    emb = Embedder()
    wanted = args.models.split(",")
    if "control" in wanted:
        control(32, emb)
    if "smollm" in wanted:
        real("local/smollm2-135m", ["text T=0", "text T=0.8", "samples k=4 T=0.8", "logprobs k=10"], args.j, emb, 16)
    if "qwen" in wanted:
        real("local/qwen2.5-0.5b", ["text T=0", "logprobs k=10"], args.j, emb, 16)


if __name__ == "__main__":
    main()
