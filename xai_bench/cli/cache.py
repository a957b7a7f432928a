"""``xai-bench cache``: what the response cache holds, and clearing it (all, or one model)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import user_errors

__all__ = ["cache"]

_CACHE_HELP = "Response cache file (default: $XAI_BENCH_CACHE_DIR/responses.sqlite, else ~/.cache/xai-bench/...)."


def _open(path: str | None):
    from ..llm.cache import ResponseCache
    from ..paths import response_cache_path

    file = Path(path).expanduser() if path else response_cache_path()
    if file.is_dir():
        raise click.BadParameter(f"{file} is a folder, not a cache file.", param_hint="--cache")
    return ResponseCache(file)


@click.group()
def cache() -> None:
    """The response cache: every model answer, keyed by the full request.

    \b
    Examples:
      xai-bench cache info
      xai-bench cache clear --model oracle:meaning,life --yes
    """


@cache.command("info")
@click.option("--cache", "path", type=click.Path(), default=None, help=_CACHE_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@user_errors
def info(path: str | None, fmt: str) -> None:
    """File, entries, size in bytes and entries per model."""
    c = _open(path)
    try:
        st = c.stats()
    finally:
        c.close()
    if fmt == "json":
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"file:    {st['file']}{'' if st['exists'] else ' (does not exist)'}")
    click.echo(f"entries: {st['entries']}")
    click.echo(f"size:    {st['size_bytes']} bytes")
    for model, n in st["models"].items():
        click.echo(f"  {n:>8}  {model}")


@cache.command("clear")
@click.option("--model", default=None, help="Delete only this model's entries (exactly as queried, e.g. oracle:a,b).")
@click.option("--cache", "path", type=click.Path(), default=None, help=_CACHE_HELP)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@user_errors
def clear(model: str | None, path: str | None, yes: bool) -> None:
    """Delete cached answers (all, or one model's), then VACUUM the file."""
    c = _open(path)
    try:
        st = c.stats()
        n = st["entries"] if model is None else st["models"].get(model, 0)
        what = "all entries" if model is None else f"the entries of model {model!r}"
        if n == 0:
            click.echo(f"Nothing to delete: {st['file']} holds no entries" + (f" of model {model!r}." if model else "."))
            return
        if not yes:
            click.confirm(f"Delete {n} of {st['entries']} cached answers ({what}) from {st['file']}?", abort=True)
        before = st["size_bytes"]
        deleted = c.clear(model)
        click.echo(f"Deleted {deleted} entries from {st['file']} ({before} -> {c.size_bytes()} bytes).")
    finally:
        c.close()
