"""``--format table|json|md``: how the commands that report results print them.

    table  rich tables for people (the default)
    json   one JSON document on stdout and nothing else there: progress bars, log lines,
           notes and the final status line go to stderr, so ``... --format json | jq`` works
    md     GitHub-flavoured Markdown (headings and pipe tables), e.g. for a pull request
           comment or a CI step summary

A command builds its result as :class:`Block` s (a title, column names, rows of plain
strings, notes) once and hands them to :func:`print_blocks`, which renders either format;
JSON documents go through :func:`echo_json`. All user text is escaped here: rich markup
in a table, pipes, HTML and line breaks in Markdown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

__all__ = ["FORMATS", "Block", "format_option", "dumps", "echo_json", "md_escape", "md_table", "render_md",
           "print_blocks", "stdout_to_stderr", "status"]

FORMATS = ("table", "json", "md")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def format_option(help_json: str) -> Any:
    """The ``--format`` option (into the parameter ``fmt``); ``help_json`` says what the JSON holds."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help=f"table: for people; json: {help_json}, alone on stdout (progress on stderr); "
                             "md: Markdown tables.")


def dumps(doc: Any) -> str:
    """The JSON text every command prints: indented, UTF-8 kept, NaN refused (it is not JSON)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)


def echo_json(doc: Any) -> None:
    click.echo(dumps(doc))


@dataclass(frozen=True)
class Block:
    """One table of a command's result: ``rows`` hold display strings, one per column.

    ``right``: names of right-aligned (numeric) columns. ``notes``: lines shown after it.
    """

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    right: frozenset[str] = frozenset()
    notes: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"Block {self.title!r}: row {i} has {len(row)} cells, expected "
                                 f"{len(self.columns)} (one per column {list(self.columns)}).")


def md_escape(text: Any) -> str:
    """``text`` safe inside a Markdown table cell or line: no pipe, no HTML, no line break."""
    s = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text).replace("\r\n", " ").replace("\n", " "))
    s = s.replace("\\", "\\\\")
    for ch in "|`*[]~":
        s = s.replace(ch, "\\" + ch)
    s = _LONE_UNDERSCORE.sub(r"\\_", s)  # att_auroc stays readable: GFM ignores underscores inside words
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_table(columns: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[str] = frozenset()) -> str:
    """A GitHub pipe table; every cell is escaped with :func:`md_escape`."""
    lines = ["| " + " | ".join(md_escape(c) for c in columns) + " |",
             "|" + "|".join("---:" if c in right else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_md(blocks: Sequence[Block], heading: str | None = None, level: int = 3) -> str:
    """Blocks as Markdown: an optional ``##`` heading, then per block a heading, its table and notes."""
    out: list[str] = []
    if heading:
        out += [f"## {md_escape(heading)}", ""]
    for b in blocks:
        out += [f"{'#' * level} {md_escape(b.title)}", ""]
        out += [md_table(b.columns, b.rows, b.right) if b.rows else "(no rows)", ""]
        out += [f"- {md_escape(n)}" for n in b.notes]
        if b.notes:
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def print_blocks(blocks: Sequence[Block], fmt: str, heading: str | None = None) -> None:
    """Print ``blocks`` on stdout as rich tables (``table``) or Markdown (``md``)."""
    if fmt == "md":
        click.echo(render_md(blocks, heading), nl=False)
        return
    if fmt != "table":
        raise ValueError(f"print_blocks renders 'table' or 'md', got {fmt!r}; JSON goes through echo_json.")
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console(highlight=False, emoji=False)  # ':smile:' in a prompt prints as typed (escape() leaves it)
    if heading:
        con.print(escape(heading))
    for b in blocks:
        con.print(escape(b.title), style="bold")  # a line of its own: a table title wraps at the table's width
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
        for c in b.columns:
            table.add_column(escape(c), justify="right" if c in b.right else "left",
                             no_wrap=c in b.right, overflow="fold")
        for row in b.rows:
            table.add_row(*(escape(str(c)) for c in row))
        con.print(table)
        for n in b.notes:
            con.print(escape(n))


def status(message: str, fmt: str, **style: Any) -> None:
    """A closing status line: stdout for tables, stderr when stdout carries a JSON or Markdown document."""
    click.secho(message, err=fmt != "table", **style)


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """While active, whatever is written to stdout goes to stderr instead.

    Covers ``print``, rich consoles and progress bars (they look up ``sys.stdout`` when they
    write) and, when stdout is the process's file descriptor 1, native code writing to it
    (llama.cpp's loader). A command wraps its work in this and prints its JSON afterwards,
    so the document is alone on stdout.
    """
    if not enabled:
        yield
        return
    try:
        fd_level = sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # click's test runner: no descriptors, Python level is all
        fd_level = False
    sys.stdout.flush()
    saved = None
    if fd_level:
        saved = os.dup(1)
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        sys.stdout.flush()  # what a handler holding the original stdout buffered meanwhile belongs to stderr too
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
