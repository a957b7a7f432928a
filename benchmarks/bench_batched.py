"""Answers per second of the embedded model: one prompt at a time against batched decoding.

The same 64 perturbed prompts (xai_bench.explain.perturbation, seed 0) of one CoS-E question
with its task template (data/prepared/cose.jsonl, the first record), the explain defaults'
system prompt and max_tokens, temperature 0, on the default local model of configs/dag-default.yaml
(local/smollm2-135m). Three ways, side by side in one process and with the same thread count:

- sequential: ``local_chat`` per prompt, as the query layer did before batching (llama-cpp-python
  itself reuses the KV cache of the prefix shared with the previous prompt);
- batched without prefix reuse: ``batched_chat``, every prompt decoded in full;
- batched: ``batched_chat`` with the common prefix decoded once and copied to every sequence.

It prints answers per second, the ratio to sequential, and how many answers differ from the
sequential ones (batched logits may round differently; see xai_bench/llm/models/batched.py).

    .venv/bin/python benchmarks/bench_batched.py [--batch-size 16] [--threads N] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xai_bench.offline import set_offline_env  # noqa: E402

set_offline_env()


def _prompts(n: int) -> list[str]:
    from xai_bench.explain.features import prompt_features
    from xai_bench.explain.perturbation import generate_perturbations

    path = ROOT / "data" / "prepared" / "cose.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `make data` first.")
    rec = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    features = prompt_features(" ".join(rec["words"]), template=rec["template"])
    return list(generate_perturbations(features, n=n, seed=0).texts)


def main(argv: list[str] | None = None) -> int:
    from xai_bench.config import ExplainConfig

    defaults = ExplainConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m", help="local model name (default: %(default)s)")
    ap.add_argument("--prompts", type=int, default=64, help="perturbed prompts (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=16, help="sequences per decode step (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: every core)")
    ap.add_argument("--max-tokens", type=int, default=defaults.max_tokens, help="default: %(default)s")
    args = ap.parse_args(argv)

    from xai_bench.llm.models.batched import DecodeSettings, batched_chat
    from xai_bench.llm.models.local import default_threads
    from xai_bench.llm.models.llama_build import backend_info
    from xai_bench.llm.models.local import _load, local_chat

    prompts = _prompts(args.prompts)
    msgs = [[{"role": "system", "content": defaults.system_prompt}, {"role": "user", "content": p}] for p in prompts]
    params = {"temperature": 0.0, "max_tokens": args.max_tokens, "seed": defaults.seed}
    threads = args.threads or default_threads()
    _load(args.model)  # loading is not timed
    print(f"{len(prompts)} perturbed prompts of a CoS-E question, local/{args.model}, max_tokens {args.max_tokens}, "
          f"{threads} threads, batch size {args.batch_size}, llama.cpp build {backend_info().build_id}", flush=True)

    rows = []
    t0 = time.perf_counter()
    seq = [local_chat(args.model, m, n_threads=threads, **params)["choices"][0]["message"]["content"] for m in msgs]
    seq_s = time.perf_counter() - t0
    rows.append(("sequential (local_chat)", seq_s, seq))
    print(f"  sequential done in {seq_s:.1f} s", flush=True)
    for label, reuse in (("batched, no prefix reuse", False), ("batched, prefix reuse", True)):
        t0 = time.perf_counter()
        out = batched_chat(args.model, msgs, settings=DecodeSettings(batch_size=args.batch_size, n_threads=threads,
                                                                     prefix_reuse=reuse), **params)
        rows.append((label, time.perf_counter() - t0, [r.text for r in out]))
        print(f"  {label} done in {rows[-1][1]:.1f} s", flush=True)

    print(f"\n{'mode':28} {'seconds':>8} {'answers/s':>10} {'vs sequential':>14} {'answers differing':>18}")
    for label, secs, texts in rows:
        differ = sum(a != b for a, b in zip(seq, texts))
        print(f"{label:28} {secs:8.1f} {len(texts) / secs:10.2f} {seq_s / secs:13.2f}x {differ:>11d} of {len(texts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
