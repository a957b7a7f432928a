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

__all__ = ["user_errors", "load_config", "open_cache", "console", "preflight_out", "preflight_cache", "preflight_record"]


def console() -> Any:
    from rich.console import Console

    return Console(stderr=False, emoji=False)  # ':smile:' in a prompt prints as typed, like '[bold]' (escaped)


# What the running command keeps on disk as it works (the response cache, a resumable run
# folder), as (file that exists once something is kept, description): named when the command
# fails on output after the work, so the user knows what is not lost and how to reuse it.
_kept: list[tuple[Path, str]] = []


def _keep(marker: Path, where: str) -> None:
    if (marker, where) not in _kept:
        _kept.append((marker, where))


def _kept_note() -> str:
    kept = [where for marker, where in _kept if marker.is_file() and marker.stat().st_size > 0]
    return (" Computed results are kept in " + "; ".join(kept) + ".") if kept else ""


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print library errors caused by the user's input as one line and exit 2 (no traceback).

    A write that fails after the work (OSError: a folder replaced by a file, a full disk)
    is one line too, naming the file and where the computed results are kept."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _kept.clear()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Redacting(sys.stdout), _Redacting(sys.stderr)  # what a CI log keeps
        try:
            return fn(*args, **kwargs)
        except XaiBenchError as e:  # ConfigError, FeatureError, ModelError, ... all derive from it
            text = " ".join(str(e).split()) if isinstance(e, ConfigError) else str(e)  # YAML errors span lines
            click.echo(f"Error: {text}", err=True)
            report = getattr(e, "report", None)
            if report is not None and str(report) != str(e):
                click.echo(str(report), err=True)
            sys.exit(2)
        except OSError as e:
            what = str(e.filename2 or e.filename or "an output file")  # os.replace: filename2 is the target
            click.echo(f"Error: could not write {what}: {e.strerror or e}.{_kept_note()}", err=True)
            sys.exit(2)
        except RecursionError:  # e.g. a YAML alias inside its own anchor ('&a [*a]') in a configuration
            click.echo("Error: an input nests too deeply or refers to itself (a YAML alias inside its own anchor, "
                       "such as '&a [*a]'?). Write the value out instead.", err=True)
            sys.exit(2)
        finally:
            for stream in (sys.stdout, sys.stderr):
                if isinstance(stream, _Redacting):
                    stream.flush()
            sys.stdout, sys.stderr = saved

    return wrapper


class _Redacting:
    """A text stream that masks known credentials (``xai_bench.secrets.redact_known``) in
    everything written through it; every other attribute is the wrapped stream's."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from ..secrets import redact_known

        self._stream.write(redact_known(text) if isinstance(text, str) else text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


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
        except (yaml.YAMLError, UnicodeDecodeError) as e:  # one line: the parser's message spans several
            raise ConfigError(f"{p} is not valid YAML: {' '.join(str(e).split())}") from e
        section = data.get("explain", data) if isinstance(data, dict) else data
        section = {} if section is None else section  # 'explain:' left empty
        if not isinstance(section, dict):
            where = "its 'explain' section" if isinstance(data, dict) else "it"
            raise ConfigError(f"{p} must hold a mapping of configuration keys, but {where} is a "
                              f"{type(section).__name__}.")
        bad = [k for k in section if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"{p}: configuration keys must be names. Got {bad[0]!r} ({type(bad[0]).__name__}).")
        values = dict(section)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "methods" in values and isinstance(values["methods"], str):
        values["methods"] = (values["methods"],)
    try:
        return ExplainConfig.from_dict(values)
    except TypeError as e:  # a value of a type its check does not expect, e.g. 'methods: null'
        raise ConfigError(f"{path or 'the command line'}: a configuration value has the wrong type ({e}). "
                          "See the documented keys in xai_bench/config.py.") from e


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
    _keep(folder / "run.json", f"the run folder {folder} (the same command resumes from its finished stages)")
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
    _keep(file, f"the response cache {file} (every model answer so far; the same command reuses them)")


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores)."""
    return Path(os.path.abspath(uri[len("sqlite:///"):])) if uri.startswith("sqlite:///") else None


def preflight_record(thresholds: str | None = None) -> None:
    """Before the first model call of ``run --record``: the MLflow store and its artifact folder,
    the audit log (writable, last record intact) and the gate thresholds are usable; else a
    one-line error (exit 2) instead of a failure after the work.

    The store is ``$MLFLOW_TRACKING_URI`` or the project's ``mlflow/mlflow.db``; a SQLite store
    is checked as a file with ``artifacts/`` beside it, a ``file:`` store as a folder; a
    tracking server is not contacted here (no network before the work). A missing baseline is
    not an error (the gate records "no-baseline").
    """
    from urllib.parse import unquote, urlsplit

    from ..ops.audit import check_appendable
    from ..ops.tracking import default_tracking_uri
    from ..paths import audit_log_path

    uri = os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    db = _sqlite_file(uri)
    if db is not None:
        if db.is_dir():
            raise OutputError(f"The MLflow store {db} (MLFLOW_TRACKING_URI) is a folder, not a SQLite file.")
        _probe(db.parent, f"The MLflow store's folder (for {db.name}, MLFLOW_TRACKING_URI)")
        if db.exists() and not os.access(db, os.W_OK):
            raise OutputError(f"The MLflow store {db} is not writable. Fix its permissions or set MLFLOW_TRACKING_URI.")
        _probe(db.parent / "artifacts", "The MLflow artifact folder")
    elif uri.startswith("file:"):
        _probe(Path(unquote(urlsplit(uri).path)), "The MLflow file store (MLFLOW_TRACKING_URI)")
    check_appendable(audit_log_path())
    if thresholds:
        from ..ops.thresholds import load_thresholds

        load_thresholds(thresholds)


def open_cache(path: str | None, no_cache: bool, refresh: bool) -> Any:
    from ..llm.cache import ResponseCache

    if no_cache and refresh:
        raise click.UsageError("Use just one of --no-cache or --refresh-cache.")
    mode = "off" if no_cache else ("refresh" if refresh else "use")
    if not no_cache:
        preflight_cache(Path(path) if path else response_cache_path())
    return ResponseCache(Path(path) if path else response_cache_path(), mode=mode)
