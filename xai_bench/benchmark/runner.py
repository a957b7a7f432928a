"""Run a whole benchmark in process: the same stage functions the Airflow DAG runs, in order."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from . import stages
from .config import BenchmarkConfig

__all__ = ["run_benchmark"]


def run_benchmark(config: BenchmarkConfig, out_dir: str | Path, progress: bool = True,
                  log: Callable[[str], None] | None = None) -> Path:
    """prepare -> (perturb, query, distances, fit) per shard -> aggregate; returns ``out_dir/metrics.json``.

    Every stage skips work whose output already exists, so re-running on the same folder
    resumes an interrupted run. ``log`` receives one line per finished shard stage (default:
    printed when ``progress`` is on). Raises DataValidationError before any model is queried
    when a data set is invalid.
    """
    out_dir = Path(out_dir)
    if log is None:
        log = print if progress else (lambda _msg: None)
    t0 = time.perf_counter()
    ids = stages.prepare(config, out_dir)
    log(f"prepared {len(ids)} shard(s) in {out_dir}")
    for i, shard_id in enumerate(ids, 1):
        for name, stage in (("perturb", stages.perturb), ("query", stages.query), ("distances", stages.distances),
                            ("fit", stages.fit)):
            t = time.perf_counter()
            if name == "query":
                stages.query(out_dir, shard_id, progress=progress)
            else:
                stage(out_dir, shard_id)
            log(f"[{i}/{len(ids)}] {shard_id}: {name} {time.perf_counter() - t:.1f} s")
    path = stages.aggregate(out_dir)
    log(f"aggregated in {time.perf_counter() - t0:.1f} s total: {path}")
    return path
