"""What happens after a benchmark run: MLflow record, drift gate, audit record.

The Airflow DAG runs these as its last three tasks; ``xai-bench run --record`` runs them
in process. Each reads the results folder written by ``benchmark.stages.aggregate`` through
:class:`xai_bench.ops.runfolder.RunFolder`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..paths import audit_log_path
from .runfolder import RunFolder
from ..secrets import redact_known

__all__ = ["record_mlflow", "run_gate", "record_audit", "default_audit_log", "data_version"]


def default_audit_log() -> Path:
    """$XAI_BENCH_AUDIT_LOG, else <home>/audit/audit.jsonl (see :mod:`xai_bench.paths`)."""
    return audit_log_path()


def record_mlflow(results_dir: str | Path, *, tracking_uri: str | None = None) -> str:
    """Log the results folder to MLflow (parent + nested runs); returns the parent run id."""
    from .tracking import log_benchmark_run

    results_dir = Path(results_dir)
    files = {name: str(path) for name, path in RunFolder(results_dir).dataset_files().items()}
    return log_benchmark_run(results_dir, tracking_uri=tracking_uri, dataset_files=files)


def run_gate(results_dir: str | Path, baseline: str | None, thresholds: str | None = None) -> dict[str, Any]:
    """Compare the run with a baseline prompt by prompt (``xai_bench.ops.gate``); writes gate.json.

    ``baseline``: a run folder, its metrics.json (per_prompt.csv beside it) or ``mlflow:<run_id>``.
    Verdict "pass", "fail", "insufficient" (too few prompts to decide: recorded, not a failure
    of the run; only "fail" is), or "no-baseline" when none is given or the path does not exist.
    """
    from .gate import compare, is_mlflow_source, load_run, load_thresholds

    results_dir = Path(results_dir)
    if not baseline or not (is_mlflow_source(str(baseline)) or Path(baseline).exists()):
        verdict = {"verdict": "no-baseline", "baseline": baseline, "passed": True}
    else:
        report = compare(load_run(baseline), load_run(results_dir), load_thresholds(thresholds))
        verdict = {"verdict": report.verdict, "baseline": str(baseline), "passed": report.passed,
                   "report": report.to_dict()}
    (results_dir / "gate.json").write_text(redact_known(json.dumps(verdict, indent=1, default=str)) + "\n",
                                            encoding="utf-8")
    return verdict


def record_audit(results_dir: str | Path, *, log_path: str | Path | None = None, gate: dict[str, Any] | None = None,
                 mlflow_run_id: str | None = None) -> dict[str, Any]:
    """Append this run's record to the hash-chained audit log; returns the written record."""
    from .audit import AuditRecord, append_record, text_hashes

    results_dir = Path(results_dir)
    folder = RunFolder(results_dir)
    info = folder.info()
    metrics = folder.metrics()
    config = folder.config()
    models = {m: folder.model_identity(m) for m in info.get("models", [])}
    prompts, responses = folder.explanation_texts()
    record = AuditRecord(
        run_id=info.get("run_id", results_dir.name),
        git_commit=info.get("git_commit"),
        config_hash=info.get("config_hash"),
        dataset_hashes=folder.dataset_hashes(),
        models=models,
        embedding_model=(config.get("explain") or {}).get("embedding_model", "all-MiniLM-L6-v2"),
        seeds=info.get("seed"),
        prompt_hashes=text_hashes(prompts, inline_limit=64),
        response_hashes=text_hashes(responses, inline_limit=64),
        metrics=metrics.get("results", {}),
        gate_verdict=(gate or {}).get("verdict"),
        extra={"mlflow_run_id": mlflow_run_id, "results_dir": str(results_dir)},
    )
    written = append_record(log_path or default_audit_log(), record)
    if mlflow_run_id:
        # The log's head hash kept outside the log: `xai-bench audit verify LOG --head <tag>` then
        # also detects a deleted last record, which the chain alone cannot.
        from .tracking import tag_run

        tag_run(mlflow_run_id, {"xai_bench.audit_head": written["hash"], "xai_bench.audit_seq": written["seq"],
                                "xai_bench.gate_verdict": (gate or {}).get("verdict")})
    return written


def data_version(project: str | Path) -> str:
    """The DVC content hash of ``data/prepared`` as recorded in dvc.lock (sha256 of the lock if absent)."""
    import hashlib

    import yaml

    lock = Path(project) / "dvc.lock"
    if not lock.is_file():
        return "no-dvc-lock"
    doc = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    for stage in (doc.get("stages") or {}).values():
        for out in stage.get("outs", []):
            if str(out.get("path", "")).rstrip("/") == "data/prepared":
                return str(out.get("md5") or out.get("hash") or out)
    return hashlib.sha256(lock.read_bytes()).hexdigest()
