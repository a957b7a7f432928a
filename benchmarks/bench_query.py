"""Benchmark of the query layer (issue 3). Prints, in one run:

1. warm-cache rerun time / cold time for the same explanation queries (target < 0.05),
2. overhead of query_model over calling llama.cpp directly on the same unique prompts (target < 5%),
3. calls saved by deduplication at J = 64, 256, 1024 on 8-, 16- and 32-word prompts,
4. wall time through the loopback llama.cpp server at concurrency 1, 4 and 8.

    python benchmarks/bench_query.py [--j 64] [--max-tokens 16] [--server-prompts 24]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from xai_bench.offline import set_offline_env  # noqa: E402

set_offline_env()

from xai_bench.llm.cache import ResponseCache  # noqa: E402
from xai_bench.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from xai_bench.explain.features import prompt_features  # noqa: E402
from xai_bench.explain.perturbation import generate_perturbations  # noqa: E402
from xai_bench.llm.query import QuerySettings, query_model  # noqa: E402

PROMPT = "Give me three tips for cooking rice on a gas stove ."
WORDS = ("please explain how a small village could plan a fair budget for clean water roads schools and "
         "health care over the next ten years while keeping taxes low and asking every family what matters most "
         "to them today").split()


def prompts_for(prompt: str, j: int, seed: int = 0) -> list[str]:
    f = prompt_features(prompt, max_features=64)
    return [f.text, *generate_perturbations(f, n=j, keep_prob=0.5, seed=seed).texts]


def bench_cache(j: int, max_tokens: int) -> None:
    prompts = prompts_for(PROMPT, j)
    settings = QuerySettings(model="local/smollm2-135m", max_tokens=max_tokens, system_prompt=DEFAULT_SYSTEM_PROMPT)
    query_model(["warm up the model"], settings, progress=False)  # load time is not part of either figure
    with tempfile.TemporaryDirectory() as d:
        cache = ResponseCache(Path(d) / "c.sqlite")
        t0 = time.perf_counter()
        cold = query_model(prompts, settings, cache=cache, progress=False)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = query_model(prompts, settings, cache=ResponseCache(Path(d) / "c.sqlite"), progress=False)
        t_warm = time.perf_counter() - t0
    assert warm.usage.llm_calls == 0
    print(f"[1] cache, J={j}, {cold.usage.llm_calls} unique prompts on local/smollm2-135m, max_tokens={max_tokens}:")
    print(f"    cold {t_cold:.2f} s, warm rerun {t_warm:.4f} s, warm/cold = {t_warm / t_cold:.2e} (target < 0.05)")


def bench_overhead(j: int, max_tokens: int, rounds: int = 2) -> None:
    from xai_bench.llm.models.local import _load

    prompts = list(dict.fromkeys(prompts_for(PROMPT, j, seed=1)))
    settings = QuerySettings(model="local/smollm2-135m", max_tokens=max_tokens, system_prompt=DEFAULT_SYSTEM_PROMPT)
    llama = _load("smollm2-135m").llama
    query_model(["warm up"], settings, progress=False)

    def direct() -> float:
        t0 = time.perf_counter()
        for p in prompts:
            llama.create_chat_completion(messages=settings.messages(p), temperature=0.0, max_tokens=max_tokens)
        return time.perf_counter() - t0

    def layered() -> float:
        t0 = time.perf_counter()
        query_model(prompts, settings, cache=None, progress=False)
        return time.perf_counter() - t0

    td, tl = [], []
    for _ in range(rounds):  # interleaved, best of rounds: the machine's load varies
        td.append(direct())
        tl.append(layered())
    d, lay = min(td), min(tl)
    print(f"[2] overhead, {len(prompts)} unique prompts: llama.cpp direct {d:.2f} s, query_model (no cache) {lay:.2f} s, "
          f"overhead {100 * (lay - d) / d:+.2f}% (target < 5%); per call {1000 * (lay - d) / len(prompts):+.1f} ms")


def _iid_unique(n_words: int, j: int, seed: int = 0) -> int:
    """Unique prompts (original included) if the J masks were i.i.d. Bernoulli(0.5) draws."""
    import numpy as np

    rng = np.random.default_rng(seed)
    masks = (rng.random((j, n_words)) < 0.5).astype(np.int8)
    masks = masks[masks.sum(axis=1) > 0]
    rows = {m.tobytes() for m in masks} | {np.ones(n_words, np.int8).tobytes()}
    return len(rows)


def bench_dedupe() -> None:
    print("[3] calls saved by deduplication (original + J perturbations, keep_prob 0.5, seed 0).")
    print("    xai-bench draws unique masks (J capped at 2^d - 1), so only equal texts are left to dedupe;")
    print("    the last columns show what dedupe saves for i.i.d. mask draws (sampling with replacement).")
    print("    words       J   prompts  unique   saved  saved% | iid: unique  saved  saved%")
    for n_words in (8, 16, 32):
        prompt = " ".join(WORDS[:n_words])
        for j in (64, 256, 1024):
            ps = prompts_for(prompt, j)
            u = len(set(ps))
            iu = _iid_unique(n_words, j)
            print(f"    {n_words:5d} {j:7d} {len(ps):9d} {u:7d} {len(ps) - u:7d} {100 * (len(ps) - u) / len(ps):6.1f}% |"
                  f" {iu:11d} {j + 1 - iu:6d} {100 * (j + 1 - iu) / (j + 1):6.1f}%")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_server(n_prompts: int, max_tokens: int) -> None:
    from xai_bench.llm.models.local import resolve_local_model

    port = _free_port()
    log = open(Path(tempfile.gettempdir()) / f"bench-llama-server-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_local_model("smollm2-135m")),
                             "--model_alias", "smol", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        prompts = list(dict.fromkeys(prompts_for(PROMPT, 4 * n_prompts, seed=2)))[:n_prompts]
        base = QuerySettings(model="openai/smol", api_base=f"http://127.0.0.1:{port}/v1", max_tokens=max_tokens,
                             system_prompt=DEFAULT_SYSTEM_PROMPT)
        query_model(["warm up"], base, progress=False)
        print(f"[4] loopback llama.cpp server, {len(prompts)} unique prompts, no cache:")
        times = {}
        for c in (1, 4, 8):
            s = QuerySettings(**{**base.__dict__, "concurrency": c})
            t0 = time.perf_counter()
            res = query_model(prompts, s, cache=None, progress=False)
            times[c] = time.perf_counter() - t0
            print(f"    concurrency {c}: {times[c]:.2f} s ({res.usage.llm_calls} calls, {res.usage.failed_calls} failed), "
                  f"speed-up {times[1] / times[c]:.2f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--j", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--server-prompts", type=int, default=24)
    args = ap.parse_args()
    print(f"bench_query: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    bench_dedupe()
    bench_cache(args.j, args.max_tokens)
    bench_overhead(args.j, args.max_tokens)
    bench_server(args.server_prompts, args.max_tokens)


if __name__ == "__main__":
    main()
