"""Import every module of xai_bench and report import cycles among them (exit 1 on a cycle).

Reads each module's import statements (top level and inside functions) with ``ast``, resolves
relative imports, and searches the module graph for cycles. Also fails on a module over
MAX_LINES lines. Usage: python scripts/check_imports.py
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

MAX_LINES = 430
ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "xai_bench"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # the longest prefix that is one of our modules
                t = t.rpartition(".")[0]
            if t and t != name and not name.startswith(t + "."):  # a package's own __init__ is not a cycle
                found.add(t)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def main() -> int:
    files = sorted(PKG.rglob("*.py"))
    modules = {module_name(f) for f in files}
    graph = {module_name(f): imports_of(f, modules) for f in files}
    # A package's __init__ re-exporting its children is not a cycle: drop parent -> child edges.
    for m, deps in graph.items():
        graph[m] = {d for d in deps if not d.startswith(m + ".")}
    problems = [" -> ".join(c) for c in find_cycles(graph)]
    problems += [f"{f.relative_to(ROOT)}: {n} lines (max {MAX_LINES})" for f in files
                 if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    sys.path.insert(0, str(ROOT))
    for m in sorted(modules):
        if m.endswith("__main__"):
            continue
        try:
            importlib.import_module(m)
        except Exception as e:  # report every module that fails to import, not just the first
            problems.append(f"import {m}: {type(e).__name__}: {e}")
    print(f"{len(modules)} modules, {sum(len(d) for d in graph.values())} import edges")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
