"""What Airflow adds: the xai_benchmark DAG against ``xai-bench run --record`` on one configuration.

Both do the same work (prepare and validate the data, perturb, query, distances, fits,
aggregate, MLflow, gate, audit record) from the same configuration and seed, each with its
own empty run folder, response cache, MLflow store and audit log, in child processes of
this script. The DAG runs with ``airflow dags test`` (the scheduler-less executor that
``make run`` uses) on a SQLite metadata database migrated beforehand; the migration is
a one-time cost and is printed separately. Prints the wall time of each, the difference,
and the share of the DAG's wall time that Airflow adds; repeat with ``--repeat`` to see the
spread (the machine is shared: compare the ratio, not the absolute times).

    python benchmarks/bench_dag_overhead.py [--config configs/oracle-smoke.yaml] [--repeat 1]

The default configuration is the oracle smoke set (no language model), where Airflow's
share is largest; ``--config configs/dag-default.yaml`` measures the main job itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _env(tmp: Path) -> dict[str, str]:
    from xai_bench.offline import OFFLINE_ENV, TELEMETRY_OFF_ENV
    from xai_bench.paths import location_env

    env = {**os.environ, **OFFLINE_ENV, **TELEMETRY_OFF_ENV,
           **location_env(home=ROOT, audit_log=tmp / "audit.jsonl", cache_dir=tmp / "cache")}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "AIRFLOW_HOME": str(tmp / "airflow_home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
    })
    return env


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        sys.exit(f"{tail}\n{' '.join(cmd[:3])} ... failed (exit {proc.returncode}); the last lines of its output are above")
    return seconds


def _metrics(run_dir: Path) -> dict:
    """metrics.json's results without the wall-clock timings (``seconds*``), which differ between any two runs."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if not k.startswith("seconds")}
        return x

    return strip(json.loads((run_dir / "metrics.json").read_text())["results"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/oracle-smoke.yaml")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    config = str((ROOT / args.config).resolve())
    # the committed baseline belongs to the default configuration; any other is gated against nothing
    baseline = str(ROOT / "configs" / "baseline" / "metrics.json") if args.config.endswith("dag-default.yaml") else None
    cli, dag, migrate = [], [], []
    same = True
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="xai-bench-dagbench-") as t:
            tmp = Path(t)
            env = _env(tmp)
            migrate.append(_timed([str(BIN / "airflow"), "db", "migrate"], env, tmp / "migrate.log"))
            cli_out = tmp / "cli-run"
            cli.append(_timed([str(BIN / "xai-bench"), "run", "--config", config, "--out", str(cli_out), "--quiet",
                               "--record", *(["--baseline", baseline] if baseline else [])], env, tmp / "cli.log"))
            conf = json.dumps({"config": config, "out_root": str(tmp / "dag-runs"), "baseline": baseline,
                               "fail_on_regression": False})
            dag.append(_timed([str(BIN / "airflow"), "dags", "test", "xai_benchmark", "-c", conf], env,
                              tmp / "dag.log"))
            dag_runs = list((tmp / "dag-runs").glob("*/metrics.json"))
            if len(dag_runs) != 1:
                sys.exit(f"expected one DAG run folder under {tmp / 'dag-runs'}, found {len(dag_runs)}")
            same &= _metrics(dag_runs[0].parent) == _metrics(cli_out)
            print(f"repeat {r + 1}/{args.repeat}: cli {cli[-1]:.1f} s, dag {dag[-1]:.1f} s, "
                  f"db migrate {migrate[-1]:.1f} s", file=sys.stderr)

    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs):7.1f} s" + (f"  (range {min(xs):.1f}-{max(xs):.1f}, n={len(xs)})"
                                                     if len(xs) > 1 else "  (n=1)")

    added = [d - c for d, c in zip(dag, cli)]
    share = [a / d for a, d in zip(added, dag)]
    print(f"configuration: {args.config}")
    print(f"xai-bench run --record          {fmt(cli)}")
    print(f"airflow dags test xai_benchmark {fmt(dag)}")
    print(f"Airflow adds                    {fmt(added)}")
    print(f"Airflow's share of the DAG run   {statistics.median(share):6.1%}"
          + (f"  (range {min(share):.1%}-{max(share):.1%})" if len(share) > 1 else ""))
    print(f"airflow db migrate (one-time)   {fmt(migrate)}")
    print(f"same metrics from both paths:   {'yes' if same else 'NO'} (timings aside)")


if __name__ == "__main__":
    main()
