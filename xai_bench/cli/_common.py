"""Shared CLI plumbing: configuration precedence and turning library errors into exits."""

from __future__ import annotations

import functools
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

import click

from ..config import ConfigError, ExplainConfig
from ..errors import OutputError, XaiBenchError
from ..paths import response_cache_path

__all__ = ["user_errors", "load_config", "open_cache", "console", "preflight_out", "preflight_cache"]


def console() -> Any:
    from rich.console import Console

    return Console(stderr=False)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print library errors caused by the user's input as one line and exit 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except XaiBenchError as e:  # ConfigError, FeatureError, ModelError, ... all derive from it
            click.echo(f"Error: {e}", err=True)
            report = getattr(e, "report", None)
            if report is not None and str(report) != str(e):
                click.echo(str(report), err=True)
            sys.exit(2)

    return wrapper


def load_config(path: str | None, overrides: dict[str, Any]) -> ExplainConfig:
    """CLI flags > YAML file (its top level or its ``explain:`` section) > defaults."""
    values: dict[str, Any] = {}
    if path:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"Configuration file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p} is not valid YAML: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{p} must hold a mapping of configuration keys, got {type(data).__name__}")
        values = dict(data.get("explain", data))
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "methods" in values and isinstance(values["methods"], str):
        values["methods"] = (values["methods"],)
    return ExplainConfig.from_dict(values)


def _probe(folder: Path, what: str) -> None:
    """Create ``folder`` and write and delete a probe file in it, or raise OutputError naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".xai-bench-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputError(f"{what} {folder} is not writable: {e.strerror or e}. "
                          "Choose another location or fix its permissions.") from e


def preflight_out(out: str | Path, what: str = "Output folder --out") -> Path:
    """``out`` with ``..`` resolved (no stray intermediate folder), created and checked for writing.

    Called before the first model call, so an unusable folder is one line (exit 2), not a
    traceback after the work.
    """
    folder = Path(os.path.abspath(os.path.expanduser(str(out))))
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {folder} is a file, not a folder. Choose another location.")
    _probe(folder, what)
    return folder


def preflight_cache(path: str | Path | None) -> None:
    """Check that the response cache file at ``path`` can be created or written (None: no cache)."""
    if path is None:
        return
    file = Path(os.path.abspath(os.path.expanduser(str(path))))
    if file.is_dir():
        raise OutputError(f"Response cache {file} is a folder, not a file. Give a file path to --cache.")
    _probe(file.parent, f"The response cache's folder (for {file.name})")
    if file.exists() and not os.access(file, os.W_OK):
        raise OutputError(f"Response cache {file} is not writable. Fix its permissions or use another --cache.")


def open_cache(path: str | None, no_cache: bool, refresh: bool) -> Any:
    from ..llm.cache import ResponseCache

    if no_cache and refresh:
        raise click.UsageError("Use just one of --no-cache or --refresh-cache.")
    mode = "off" if no_cache else ("refresh" if refresh else "use")
    if not no_cache:
        preflight_cache(Path(path) if path else response_cache_path())
    return ResponseCache(Path(path) if path else response_cache_path(), mode=mode)
