"""Two llama.cpp builds side by side: prefill and decode tokens/s on the same prompt, rounds
interleaved so that machine load hits both alike (compare within a round, not across).

    .venv/bin/python benchmarks/bench_llama_build.py --other /path/to/venv-with-another-build/bin/python

The other virtualenv needs llama-cpp-python built another way (for example runtime dispatch:
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"). A dispatch
wheel of llama-cpp-python 0.3.36 keeps its CPU variants in site-packages/bin, where ggml does
not look; the child loads them from there by hand. docs/llama-build.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_CHILD = r"""
import ctypes, json, os, site, sys, time
sp = site.getsitepackages()[0]
variants = os.path.join(sp, "bin")
if os.path.isdir(variants) and any(f.startswith("libggml-cpu") for f in os.listdir(variants)):
    g = ctypes.CDLL(os.path.join(sp, "llama_cpp", "lib", "libggml.so"))
    g.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    g.ggml_backend_load_all_from_path(variants.encode())
import llama_cpp
from llama_cpp import Llama
prompt, model = sys.stdin.read(), sys.argv[1]
llm = Llama(model_path=model, n_ctx=2048, n_threads=2, verbose=False)
toks = llm.tokenize(prompt.encode())
t0 = time.perf_counter(); llm.eval(toks); t_pp = time.perf_counter() - t0
llm.reset()
t0 = time.perf_counter(); out = llm.create_completion("Once upon a time", max_tokens=128, temperature=0)
t_gen = time.perf_counter() - t0
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"prefill": len(toks) / t_pp, "decode": out["usage"]["completion_tokens"] / t_gen,
                  "n_prompt": len(toks), "avx512": "AVX512 = 1" in info}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--other", required=True, help="python of a virtualenv with another llama.cpp build")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from xai_bench.llm.models.llama_build import long_prompt
    from xai_bench.llm.models.local import resolve_local_model

    model, prompt = str(resolve_local_model("smollm2-135m")), long_prompt(400)
    builds = {"this build": sys.executable, "other build": args.other}
    print(f"{'round':>5}  {'build':<12} {'prefill tok/s':>14} {'decode tok/s':>13}  AVX-512")
    for r in range(1, args.rounds + 1):
        for name, python in builds.items():
            out = subprocess.run([python, "-c", _CHILD, model], input=prompt, capture_output=True, text=True,
                                 timeout=900)
            if out.returncode != 0:
                print(f"{r:>5}  {name:<12} failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
                continue
            m = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r:>5}  {name:<12} {m['prefill']:>14.1f} {m['decode']:>13.1f}  {'yes' if m['avx512'] else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
