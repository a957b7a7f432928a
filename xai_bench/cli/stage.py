"""``xai-bench stage``: run one pipeline stage over every shard of a run folder.

The DVC pipeline (dvc.yaml) calls this, one stage per DVC stage, so DVC, Airflow and
``xai-bench run`` share the very same stage functions.
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import user_errors

__all__ = ["stage"]

_STAGES = ("prepare", "perturb", "query", "distances", "fit", "aggregate")


@click.command()
@click.argument("name", type=click.Choice(_STAGES))
@click.option("--run-dir", type=click.Path(file_okay=False), required=True, help="The run folder.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Benchmark YAML (prepare only; e.g. params.yaml).")
@user_errors
def stage(name: str, run_dir: str, config_path: str | None) -> None:
    """Run pipeline stage NAME for every shard of RUN_DIR.

    \b
    Example (the DVC pipeline):
      xai-bench stage prepare --config params.yaml --run-dir runs/dvc
      xai-bench stage query --run-dir runs/dvc
    """
    from ..benchmark import stages

    if name == "prepare":
        if not config_path:
            raise click.UsageError("The prepare stage needs --config.")
        from ..benchmark import load_benchmark_config

        ids = stages.prepare(load_benchmark_config(config_path), run_dir)
        click.echo(f"prepare: {len(ids)} shard(s) in {run_dir}")
        return
    if name == "aggregate":
        click.echo(f"aggregate: {stages.aggregate(run_dir)}")
        return
    fn = getattr(stages, name)
    ids = stages.shard_ids(run_dir)
    for shard_id in ids:
        fn(Path(run_dir), shard_id)
    click.echo(f"{name}: {len(ids)} shard(s) done")
