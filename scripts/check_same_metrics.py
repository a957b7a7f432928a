"""Check that a refactoring left the benchmark's numbers unchanged.

Runs ``xai-bench run --config CONFIG --out DIR`` and compares its ``metrics.json`` with a
reference ``metrics.json`` written before the change, ignoring the fields that name the run
rather than measure it (run id, creation time, git commit and dirty flag, output folder) and
the wall-clock timings (``seconds*`` keys), which differ between any two runs.
Exit 0 when identical, 1 with the differing keys otherwise.

    python scripts/check_same_metrics.py --reference /tmp/ref/metrics.json \
        [--config configs/oracle-smoke.yaml] [--out /tmp/now]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

IGNORED_RUN_KEYS = ("run_id", "created", "git_commit", "git_dirty", "results_dir", "out", "duration_s", "elapsed_s")
TIMING_PREFIX = "seconds"  # seconds, seconds_min, seconds_max, seconds_ci_low, ...


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without the run-identity fields (they differ between any two runs)."""
    doc = json.loads(json.dumps(doc))
    run = doc.get("run")
    if isinstance(run, dict):
        for key in IGNORED_RUN_KEYS:
            run.pop(key, None)
    return doc


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if str(k).startswith(TIMING_PREFIX):
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'reference' if k in a else 'current'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: reference {a!r}, current {b!r}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="metrics.json written before the change")
    parser.add_argument("--config", default="configs/oracle-smoke.yaml")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="xai-bench-same-"))
    exe = Path(sys.executable).with_name("xai-bench")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "xai_bench.cli"]
    subprocess.run([*cmd, "run", "--config", args.config, "--out", str(out)], check=True)
    ref = normalise(json.loads(args.reference.read_text(encoding="utf-8")))
    now = normalise(json.loads((out / "metrics.json").read_text(encoding="utf-8")))
    diffs = differences(ref, now)
    for d in diffs[:50]:
        print(d)
    print(f"{'IDENTICAL' if not diffs else f'{len(diffs)} DIFFERENCES'}: {args.reference} vs {out / 'metrics.json'}"
          f" (ignoring run.{', run.'.join(IGNORED_RUN_KEYS)} and {TIMING_PREFIX}* timings)")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
