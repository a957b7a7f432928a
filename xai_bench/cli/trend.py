"""``xai-bench trend``: each gated metric over the last N MLflow runs, as an HTML page and a PNG."""

from __future__ import annotations

import json

import click

from ._common import user_errors

__all__ = ["trend"]


@click.command()
@click.option("--last", "-n", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the newest benchmark runs of the experiment to draw.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="out/trend", show_default=True,
              help="Folder for trend.html and trend.png (created).")
@click.option("--baseline", default=None,
              help="Run folder, metrics.json or mlflow:<run_id> whose means are the baseline "
                   "[configs/baseline/metrics.json]; 'none' draws no bands.")
@click.option("--thresholds", type=click.Path(dir_okay=False), default=None,
              help="Gate thresholds YAML [the built-in defaults = configs/gate-thresholds.yaml].")
@click.option("--warn-share", type=click.FloatRange(min=0, max=1, min_open=True), default=0.5, show_default=True,
              help="Warning line at this share of each metric's tolerance.")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI [$MLFLOW_TRACKING_URI, else mlflow/mlflow.db].")
@click.option("--experiment", default=None, help="MLflow experiment [xai-bench].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="What to print: a short summary, or JSON with the files and each series' latest status.")
@user_errors
def trend(last: int, out: str, baseline: str | None, thresholds: str | None, warn_share: float,
          tracking_uri: str | None, experiment: str | None, fmt: str) -> None:
    """Draw every gated metric over the last runs against its baseline and tolerance band.

    Reads the newest benchmark runs of the MLflow experiment (logged by the DAG or
    `xai-bench run --record`), writes OUT/trend.html (self-contained) and OUT/trend.png.

    \b
    Examples:
      xai-bench trend --last 10 --out out/trend
      xai-bench trend -n 5 --baseline runs/ci --thresholds configs/gate-thresholds.yaml --format json
    """
    from ..ops.trend import DEFAULT_BASELINE, write_trend

    base = DEFAULT_BASELINE if baseline is None else (None if baseline.lower() == "none" else baseline)
    pages = write_trend(out, last=last, baseline=base, thresholds=thresholds, tracking_uri=tracking_uri,
                        experiment=experiment, warn_share=warn_share)
    counts = pages.counts(warn_share)
    if fmt == "json":
        click.echo(json.dumps({
            "html": str(pages.html), "png": str(pages.png), "runs": [r.mlflow_run_id for r in pages.runs],
            "counts": counts,
            "series": [{"model": s.model, "dataset": s.dataset, "method": s.method, "metric": s.metric,
                        "status": s.status(warn_share), "values": s.values, "baseline": s.baseline,
                        "tolerance": s.tolerance} for s in pages.series],
        }, indent=1))
        return
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no gated metric"
    click.echo(f"{len(pages.runs)} run(s), {len(pages.series)} gated series; latest values: {summary}")
    for s in pages.series:
        if s.status(warn_share) in ("beyond", "warning"):
            click.echo(f"  {s.status(warn_share)}: {s.label} | {s.metric}")
    click.echo(f"wrote {pages.html} and {pages.png}")
