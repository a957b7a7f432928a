"""The ``xai-bench`` command. Each sub-command lives in its own module of this package
and is imported only when it runs, so ``xai-bench --help`` stays fast.

Library errors (``XaiBenchError`` and ``ValueError`` subclasses raised for user input)
become a one-line message and exit code 2 here, at the CLI boundary; nothing else
catches them.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

__all__ = ["main"]

# command name -> (module, attribute)
_COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("xai_bench.cli.explain", "explain"),
    "examples": ("xai_bench.cli.explain", "examples"),
    "run": ("xai_bench.cli.run", "run"),
    "gate": ("xai_bench.cli.gate", "gate"),
    "audit": ("xai_bench.cli.audit", "audit"),
    "models": ("xai_bench.cli.models", "models"),
    "data": ("xai_bench.cli.data", "data"),
    "fairness": ("xai_bench.cli.run", "fairness"),
    "stage": ("xai_bench.cli.stage", "stage"),
    "ui": ("xai_bench.cli.ui", "ui"),
    "cache": ("xai_bench.cli.cache", "cache"),
    "trend": ("xai_bench.cli.trend", "trend"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (mod, _) in _COMMANDS.items() if importlib.util.find_spec(mod) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        mod, attr = _COMMANDS[name]
        if importlib.util.find_spec(mod) is None:
            return None
        return getattr(importlib.import_module(mod), attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xai-bench")
def main() -> None:
    """xai-bench: benchmark token-level explanations (gSMILE, LIME, Bay-LIME) of LLMs.

    \b
    Example:
      xai-bench explain "What is the meaning of life ?" --model "oracle:meaning,life" --out out/demo
    """
