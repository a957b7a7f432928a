"""Non-model seconds per prompt on the oracle model, and where they go (issue 11, item 4).

The oracle control model answers from keywords, so a prompt costs only what the pipeline
does around the model: embeddings, optimal transport, the fits. For each of N 20-word
prompts at J=64 with the three methods (gsmile, lime, baylime) and the default
configuration (1,000 permutations per OWMD p-value), this runs the real stages
(``explain()``'s chain: perturb, query, distances, fit) with a fresh embedding cache per
prompt and prints the non-model seconds per prompt, split into:

    embedding    the sentence-transformers forward passes (prompts, outputs, sentences)
    iwmd         input WMD (POT) between the prompt and each perturbed prompt
    owmd         output WMD (POT), per distinct response
    p-values     the OWMD permutation tests
    out cosine   cosine distances of output sentence embeddings
    fits         kernels and the three surrogates
    other        perturbation masks, rendering, bookkeeping

Model time (the oracle's litellm round trips) is measured and shown apart. Target: non-model
under 1 s per prompt on 2 cores.

Run: .venv/bin/python benchmarks/bench_nonmodel.py [--prompts 10] [--perturbations 64]
"""

from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np

WORDS = ("please tell me briefly about some of the ideas people usually have when they think carefully and "
         "calmly in the evening after a long day at work with friends and family around a small table near "
         "an open window today").split()
KEYWORDS = ("volcano", "glacier", "desert", "harbour", "orchard", "lantern", "meadow", "canyon")


def _prompt(i: int, n_words: int) -> tuple[str, tuple[str, ...]]:
    """A deterministic n-word prompt with two planted keywords."""
    rng = np.random.default_rng(i)
    words = list(rng.choice(WORDS, size=n_words, replace=True))
    kws = tuple(rng.choice(KEYWORDS, size=2, replace=False))
    pos = rng.choice(n_words, size=2, replace=False)
    for p, kw in zip(pos, kws):
        words[p] = kw
    return " ".join(words), kws


class _TimedEmbedder:
    """Wraps an Embedder and adds up the seconds spent in its two encode entry points."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seconds = 0.0

    def embed(self, texts: Sequence[str]) -> None:
        t = time.perf_counter()
        try:
            self.inner.embed(texts)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t

    def token_embeddings(self, texts: Sequence[str]) -> list[np.ndarray]:
        t = time.perf_counter()
        try:
            return self.inner.token_embeddings(texts)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t

    def sentence_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        try:
            return self.inner.sentence_embeddings(texts)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--words", type=int, default=20)
    ap.add_argument("--perturbations", type=int, default=64)
    ap.add_argument("--permutations", type=int, default=None, help="p-value permutations (default: the config's)")
    args = ap.parse_args()

    import torch

    from xai_bench.config import ExplainConfig
    from xai_bench.explain.embeddings import Embedder
    from xai_bench.explain.explainer import distance_stage, fit_stage, query_stage
    from xai_bench.explain.features import prompt_features
    from xai_bench.explain.perturbation import generate_perturbations

    cfg = ExplainConfig(methods=("gsmile", "lime", "baylime"), n_perturbations=args.perturbations, seed=0)
    if args.permutations is not None:
        cfg = cfg.replace(pvalue_permutations=args.permutations)
    Embedder(cfg.embedding_model).token_embeddings(["warm up"])  # the model load is a one-off
    query_stage(prompt_features("warm up"), generate_perturbations(prompt_features("warm up"), n=2),
                "oracle:warm", cfg, cache=None, progress=False)  # litellm import and provider set-up

    parts = {k: [] for k in ("embedding", "iwmd", "owmd", "p-values", "out cosine", "fits", "other")}
    model_s: list[float] = []
    nonmodel: list[float] = []
    cpu: list[float] = []
    for i in range(args.prompts):
        prompt, kws = _prompt(i, args.words)
        model = "oracle:" + ",".join(kws)
        emb = _TimedEmbedder(Embedder(cfg.embedding_model))  # fresh text cache: nothing carried over
        t_all = time.perf_counter()
        c_all = time.process_time()
        feats = prompt_features(prompt)
        perts = generate_perturbations(feats, n=cfg.n_perturbations, keep_prob=cfg.keep_prob, seed=cfg.seed)
        q = query_stage(feats, perts, model, cfg, cache=None, progress=False)
        d = distance_stage(feats, perts, q, cfg, embedder=emb)  # type: ignore[arg-type]
        t = time.perf_counter()
        for m in cfg.methods:
            fit_stage(feats, perts, q, d, model, cfg, m)
        fits = time.perf_counter() - t
        total = time.perf_counter() - t_all
        tm = d.timings
        model_s.append(q.seconds)
        nonmodel.append(total - q.seconds)
        embed = emb.seconds
        stage_total = sum(tm.get(k, 0.0) for k in ("embed_and_iwmd", "owmd", "pvalues", "out_cosine"))
        if "embeddings" in tm:  # the stage embeds everything first, then computes distances
            split = {"iwmd": tm["iwmd"], "owmd": tm["owmd"], "out cosine": tm["out_cosine"]}
        else:  # before issue 11: embeddings happen inside each distance's timing
            split = {"iwmd": np.nan, "owmd": np.nan, "out cosine": np.nan}
        parts["embedding"].append(embed)
        for k, v in split.items():
            parts[k].append(v)
        parts["p-values"].append(tm.get("pvalues", 0.0))
        parts["fits"].append(fits)
        parts["other"].append(total - q.seconds - stage_total - fits)
        cpu.append(time.process_time() - c_all)
    mean = {k: float(np.nanmean(v)) if not all(np.isnan(v)) else float("nan") for k, v in parts.items()}
    print(f"\n== non-model time, oracle model, {args.prompts} prompts of {args.words} words, J={cfg.n_perturbations}, "
          f"methods {', '.join(cfg.methods)}, {cfg.pvalue_permutations} permutations per p-value, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'part':<14}{'s/prompt':>10}{'share':>9}")
    nm = float(np.mean(nonmodel))
    for k, v in mean.items():
        print(f"{k:<14}{v:>10.3f}{(v / nm if nm else 0):>9.1%}")
    print(f"{'non-model':<14}{nm:>10.3f}   (min {min(nonmodel):.3f}, max {max(nonmodel):.3f}; target < 1 s)")
    print(f"{'CPU seconds':<14}{float(np.mean(cpu)):>10.3f}   (process CPU time per prompt, model calls included; "
          "on a busy machine wall time is several times this)")
    print(f"{'model (oracle)':<14}{float(np.mean(model_s)):>10.3f}   (litellm round trips, not counted above)")


if __name__ == "__main__":
    main()
