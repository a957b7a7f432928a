"""``xai-bench run`` (a benchmark from a YAML configuration) and ``xai-bench fairness`` (paper 5.1.2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._common import console, load_config, open_cache, preflight_cache, preflight_out, preflight_record, user_errors
from ._format import Block, echo_json, format_option, print_blocks, status, stdout_to_stderr
from ..secrets import redact_known

__all__ = ["run", "fairness"]

# metric key -> short column title of the summary table (the full table is in report.md)
_SUMMARY_METRICS = {"att_auroc": "AUROC", "att_f1": "F1", "comprehensiveness": "compr.",
                    "stability_jaccard": "stab.J", "consistency_std": "cons.sd", "fidelity_r2w": "R2w",
                    "fidelity_r2w_heldout": "R2w-ho", "seconds": "s"}


def _summary_blocks(doc: dict[str, Any]) -> list[Block]:
    """One compact table per model x data set (methods as rows); the run's notes after the last."""
    blocks = []
    for model, per in doc["results"].items():
        for dataset, methods in per.items():
            present = [m for m in _SUMMARY_METRICS if any(m in v for v in methods.values())]
            rows = [[method, *[f"{vals[m]:.3f}" if m in vals else "-" for m in present]]
                    for method, vals in methods.items()]
            blocks.append(Block(f"{model} / {dataset}", ["method", *(_SUMMARY_METRICS[m] for m in present)], rows,
                                right=frozenset(_SUMMARY_METRICS[m] for m in present)))
    if blocks:
        notes = [f"note: {n}" for n in doc.get("notes", [])]
        blocks[-1] = Block(blocks[-1].title, blocks[-1].columns, blocks[-1].rows, blocks[-1].right, notes)
    return blocks


def _print_summary(metrics_path: Path, fmt: str = "table") -> None:
    """The means of every model x data set x method (the full table with intervals is in report.md)."""
    doc = json.loads(metrics_path.read_text(encoding="utf-8"))
    legend = ", ".join(f"{v} = {k}" for k, v in _SUMMARY_METRICS.items() if v != k)
    print_blocks(_summary_blocks(doc), fmt,
                 heading=f"{doc.get('config_name', '')}: means over prompts ({legend}; every metric with its "
                         "confidence interval is in report.md)")


def _cache_file(cache: str, out: str) -> Path | None:
    """The response cache file a benchmark configuration's ``cache`` names (as stages.open_run_cache)."""
    from ..paths import response_cache_path

    if cache == "off":
        return None
    if cache == "run":
        return Path(out) / "responses.sqlite"
    return response_cache_path() if cache == "default" else Path(cache).expanduser()


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True,
              help="Benchmark YAML (see configs/*.yaml and docs/results-schema.md).")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True,
              help="Run folder; an interrupted run resumes when given the same folder.")
@click.option("--limit", type=int, default=None, help="Use at most this many prompts of every data set.")
@click.option("--seed", type=int, default=None, help="Override the configuration's master seed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output and no summary table (json and md are still printed).")
@click.option("--record", is_flag=True,
              help="Afterwards, as the Airflow DAG does: log to MLflow, gate against --baseline, append an audit record.")
@click.option("--baseline", default=None, help="With --record: run folder, metrics.json (per_prompt.csv beside it) or mlflow:<run_id> to gate against.")
@click.option("--thresholds", default=None, type=click.Path(dir_okay=False), help="With --record: gate thresholds YAML.")
@format_option("{out, metrics_json, report_md, metrics: metrics.json's content, record: null or "
               "{mlflow_run_id, gate_verdict, audit_seq, audit_hash}}")
@user_errors
def run(config_path: str, out: str, limit: int | None, seed: int | None, quiet: bool, record: bool,
        baseline: str | None, thresholds: str | None, fmt: str) -> None:
    """Run models x datasets x methods from a YAML configuration.

    Writes OUT/metrics.json (schema in docs/results-schema.md), OUT/per_prompt.csv,
    OUT/task_answers.csv, OUT/heatmaps/ and OUT/report.md. Precedence: flags > file > defaults.
    Re-running the same configuration and seed gives the same numbers (wall time aside).
    --format md prints the summary as Markdown; --format json prints metrics.json's content
    with the paths (and the --record results) as one document, progress going to stderr.

    \b
    Examples:
      xai-bench run --config configs/oracle-smoke.yaml --out runs/oracle-smoke
      xai-bench run --config configs/paper-table3.yaml --out runs/table3 --limit 2 --seed 1
      xai-bench run --config configs/dag-default.yaml --out runs/ci --record --baseline configs/baseline/metrics.json
      xai-bench run --config configs/oracle-smoke.yaml --out runs/oracle-smoke --format json | jq .metrics.results
    """
    from ..benchmark import load_benchmark_config
    from ..benchmark.runner import run_benchmark

    if limit is not None and limit < 1:
        raise click.BadParameter(f"must be an int >= 1. Got {limit} instead.", param_hint="--limit")
    config = load_benchmark_config(config_path).replace(limit=limit, seed=seed)
    out = str(preflight_out(out))  # before any model call: an unwritable --out is one line, not a late traceback
    preflight_cache(_cache_file(config.cache, out))
    if record: preflight_record(thresholds)  # MLflow store, audit log, thresholds: usable before any model call
    recorded = None
    with stdout_to_stderr(fmt != "table"):  # progress and log lines; json/md alone on stdout
        path = run_benchmark(config, out, progress=not quiet)
        if record:
            from ..ops.pipeline import record_audit, record_mlflow, run_gate

            run_id = record_mlflow(out)
            gate = run_gate(out, baseline, thresholds)
            rec = record_audit(out, gate=gate, mlflow_run_id=run_id)
            recorded = {"mlflow_run_id": run_id, "gate_verdict": gate["verdict"], "audit_seq": rec["seq"],
                        "audit_hash": rec["hash"]}
        from ..ops.report_html import publish_report

        publish_report(out, (recorded or {}).get("mlflow_run_id"))  # report.html beside report.md (+ MLflow)
    if fmt == "json":
        echo_json({"out": out, "metrics_json": str(path), "report_md": str(Path(out) / "report.md"),
                   "metrics": json.loads(path.read_text(encoding="utf-8")), "record": recorded})
    elif fmt == "md" or not quiet:
        _print_summary(path, fmt)
    if not quiet:
        status(f"wrote {path} and {Path(out) / 'report.md'}", fmt)
    if recorded is not None:
        status(f"MLflow run {recorded['mlflow_run_id']}; gate {recorded['gate_verdict']}; audit record "
               f"{recorded['audit_seq']} ({recorded['audit_hash'][:12]})", fmt)
        if recorded["gate_verdict"] == "insufficient":  # recorded, not a failure of the run
            status("gate: too few prompts to decide for some metric; see gate.json (not a failure)", fmt)
        if recorded["gate_verdict"] == "fail":
            raise SystemExit(1)


def _fairness_table(data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Attribution shift on the varied tokens ({escape(data['model'])}; share = a_i / sum |a|)",
                  title_justify="left")
    for col in ("a", "b", "method", "varied tokens (a -> b)", "share a", "share b", "shift", "shared |shift|"):
        table.add_column(col, justify="right" if col.startswith(("share", "shift")) else "left")
    for c in data["comparisons"]:
        for i, ch in enumerate(c["changes"] or [{"tokens_a": [], "tokens_b": [], "share_a": 0, "share_b": 0,
                                                   "shift": 0}]):
            table.add_row(escape(c["a"]) if i == 0 else "", escape(c["b"]) if i == 0 else "",
                          escape(c["method"]) if i == 0 else "",
                          escape(f"{' '.join(ch['tokens_a']) or '∅'} -> {' '.join(ch['tokens_b']) or '∅'}"),
                          f"{ch['share_a']:+.3f}", f"{ch['share_b']:+.3f}", f"{ch['shift']:+.3f}",
                          f"{c['shared_mean_abs_shift']:.3f}" if i == 0 else "")
    console().print(table)


@click.command()
@click.option("--model", "-m", default="local/smollm2-135m", show_default=True,
              help="Any litellm model string, 'local/<name>', or 'oracle:<word>,<word>'.")
@click.option("--dataset", "dataset_path", type=click.Path(dir_okay=False), default="data/prepared/paper.jsonl",
              show_default=True, help="Prepared data set to take the variants from.")
@click.option("--group", default=None, help="provenance.group of the variants [gender_triplet].")
@click.option("--ids", default=None, help="Comma-separated example ids instead of a group, in order.")
@click.option("--variants", "variants_path", type=click.Path(dir_okay=False), default=None,
              help="YAML list of prompts (strings or {id, prompt}) instead of a data set.")
@click.option("--method", type=click.Choice(["gsmile", "lime", "baylime", "all"]), multiple=True,
              help="gsmile (default), lime, baylime, or all.")
@click.option("--perturbations", "-j", "n_perturbations", type=int, default=None, help="Perturbations J [64].")
@click.option("--seed", type=int, default=None, help="Random seed [0].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML explain configuration (top level or an 'explain:' section).")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True,
              help="Output folder: fairness.json and heatmap.html.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON instead of the table.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None, help="Response cache file.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@user_errors
def fairness(model: str, dataset_path: str, group: str | None, ids: str | None, variants_path: str | None,
             method: tuple[str, ...], n_perturbations: int | None, seed: int | None, config_path: str | None,
             out: str, as_json: bool, cache_path: str | None, no_cache: bool) -> None:
    """Compare attributions across prompt variants (paper 5.1.2): the shift on the varied tokens.

    By default explains the gender triplet of data/prepared/paper.jsonl. Writes
    OUT/fairness.json and OUT/heatmap.html and prints a table.

    \b
    Examples:
      xai-bench fairness --model local/smollm2-135m -j 32 --out runs/fairness
      xai-bench fairness -m "oracle:meaning,life" --ids paper/gender-men,paper/gender-women --out runs/f2
      xai-bench fairness -m local/smollm2-135m --variants my_variants.yaml --method all --out runs/f3
    """
    from ..benchmark.fairness import fairness_probe, variants_from_dataset, variants_from_yaml
    from ..explain.heatmap import render_html
    from ..llm.models.control import check_control_model
    from ..llm.query import check_model

    if variants_path and (group or ids):
        raise click.UsageError("Use just one of --variants or --group/--ids.")
    if group and ids:
        raise click.UsageError("Use just one of --group or --ids.")
    methods = None if not method else (("gsmile", "lime", "baylime") if "all" in method else tuple(dict.fromkeys(method)))
    config = load_config(config_path, {"methods": methods, "n_perturbations": n_perturbations, "seed": seed})
    if variants_path:
        variants = variants_from_yaml(variants_path)
    else:
        variants = variants_from_dataset(
            dataset_path, group=group or (None if ids else "gender_triplet"),
            ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None)
    check_model(model)
    check_control_model(model)
    out = str(preflight_out(out))
    cache = open_cache(cache_path, no_cache, False)
    result = fairness_probe(variants, model, config, cache=cache, progress=not as_json)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)
    (out_dir / "fairness.json").write_text(redact_known(text) + "\n", encoding="utf-8")
    render_html([e for exps in result.explanations for e in exps], out_dir / "heatmap.html",
                title=f"Fairness probe: {model}")
    if as_json:
        click.echo(text)
    else:
        _fairness_table(result.to_dict())
        console().print(f"wrote {out_dir / 'fairness.json'} and {out_dir / 'heatmap.html'}", markup=False)
