"""``xai-bench explain`` (one prompt) and ``xai-bench examples`` (the built-in demo set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._common import console, load_config, open_cache, preflight_out, user_errors

__all__ = ["explain", "examples", "EXAMPLE_PROMPTS"]

EXAMPLE_PROMPTS: list[tuple[str, str]] = [
    ("meaning-of-life", "What is the meaning of life ?"),
    ("rainy-day", "Suggest a fun activity to make a rainy day better ."),
    ("rice", "Give me three tips for cooking rice on a gas stove ."),
]

_METHOD_CHOICES = click.Choice(["gsmile", "lime", "baylime", "all"])


def _cache_options(f: Any) -> Any:
    f = click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
                     help="Response cache file (default: $XAI_BENCH_CACHE_DIR or ~/.cache/xai-bench/responses.sqlite).")(f)
    f = click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")(f)
    f = click.option("--refresh-cache", is_flag=True, help="Query again and overwrite cached responses.")(f)
    return f


def _methods(method: tuple[str, ...]) -> tuple[str, ...] | None:
    if not method:
        return None
    if "all" in method:
        return ("gsmile", "lime", "baylime")
    return tuple(dict.fromkeys(method))


def write_outputs(explanations: dict[str, Any], out: Path) -> dict[str, Path]:
    """explanation.json (the first method), explanation_<method>.json for each, heatmap.html/png."""
    from ..explain.heatmap import render_html, render_png

    out.mkdir(parents=True, exist_ok=True)
    exps = list(explanations.values())
    exps[0].to_json(out / "explanation.json")
    paths = {"explanation": out / "explanation.json"}
    if len(exps) > 1:
        for e in exps:
            e.to_json(out / f"explanation_{e.method}.json")
    paths["html"] = Path(out / "heatmap.html")
    render_html(exps, paths["html"], title=f"{exps[0].model}: {exps[0].prompt}")
    paths["png"] = render_png(exps, out / "heatmap.png", title=f"{exps[0].model}: {exps[0].prompt}")
    return paths


def print_top(explanations: dict[str, Any], k: int = 8) -> None:
    from rich.markup import escape
    from rich.table import Table

    con = console()
    for e in explanations.values():
        table = Table(title=f"{escape(e.method)} on {escape(e.model)}: top tokens", title_justify="left")
        table.add_column("rank", justify="right")
        table.add_column("position", justify="right")
        table.add_column("word")
        table.add_column("attribution", justify="right")
        for rank, (pos, word, att) in enumerate(e.top(k), 1):
            table.add_row(str(rank), str(pos), escape(word), f"{att:+.4f}")
        con.print(table)
        r2w = e.fit.get("r2w")
        con.print(f"weighted R^2 {r2w:.3f}" if r2w is not None else "", f"| llm_calls {e.usage.get('llm_calls', 0)}",
                  f"| cache_hits {e.usage.get('cache_hits', 0)}", f"| {e.timings.get('total', 0):.1f} s")
        for w in e.warnings:
            con.print(f"[yellow]warning:[/yellow] {escape(str(w))}")


@click.command()
@click.argument("prompt")
@click.option("--model", "-m", default="local/smollm2-135m", show_default=True,
              help="Any litellm model string, 'local/<name>', or 'oracle:<word>,<word>'.")
@click.option("--perturbations", "-j", "n_perturbations", type=int, default=None, help="Number of perturbations J [64].")
@click.option("--seed", type=int, default=None, help="Random seed [0].")
@click.option("--method", type=_METHOD_CHOICES, multiple=True,
              help="gsmile (default), lime, baylime, or all; repeat to compare side by side.")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True, help="Output directory.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="YAML configuration.")
@click.option("--keep-prob", type=float, default=None, help="Probability of keeping each word [0.5].")
@click.option("--max-tokens", type=int, default=None, help="Maximum tokens per model answer [48].")
@click.option("--temperature", type=float, default=None, help="Sampling temperature [0].")
@click.option("--sigma", type=float, default=None, help="Kernel width; default: median IWMD ('auto').")
@click.option("--wasserstein-p", type=float, default=None, help="Order P of the output Wasserstein distance [1].")
@click.option("--permutations", "pvalue_permutations", type=int, default=None,
              help="Permutations per p-value (Algorithm 1) [1000]; 0 disables p-values.")
@click.option("--exclude-nonsignificant/--keep-nonsignificant", default=None,
              help="Drop perturbations whose output shift is not significant [keep].")
@click.option("--max-features", type=int, default=None, help="Refuse prompts with more words than this [64].")
@click.option("--template", default=None, help="Task template with one {text} slot; its words are not perturbed.")
@click.option("--api-base", default=None, help="Base URL of an OpenAI-compatible server.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table.")
@_cache_options
@user_errors
def explain(prompt: str, model: str, out: str, config_path: str | None, method: tuple[str, ...], quiet: bool,
            template: str | None, cache_path: str | None, no_cache: bool, refresh_cache: bool, **flags: Any) -> None:
    """Explain which words of PROMPT drive MODEL's answer.

    Writes OUT/explanation.json, OUT/heatmap.html and OUT/heatmap.png.

    \b
    Examples:
      xai-bench explain "What is the meaning of life ?" --model "oracle:meaning,life" --out out/oracle
      xai-bench explain "Give me three tips for cooking rice ." -m local/smollm2-135m -j 32 --method all -o out/rice
    """
    from ..explain.explainer import explain as run_explain

    config = load_config(config_path, {**flags, "methods": _methods(method)})
    out_dir = preflight_out(out)  # before any model call: an unwritable --out is one line, not a late traceback
    cache = open_cache(cache_path, no_cache, refresh_cache)
    exps = run_explain(prompt, model, config, template=template, cache=cache, progress=not quiet)
    paths = write_outputs(exps, out_dir)
    if not quiet:
        print_top(exps)
        console().print(f"wrote {paths['explanation']}, {paths['html']}, {paths['png']}", markup=False)


@click.command()
@click.option("--model", "-m", default="local/smollm2-135m", show_default=True, help="Model to explain.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="out/examples", show_default=True)
@click.option("--perturbations", "-j", "n_perturbations", type=int, default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_cache_options
@user_errors
def examples(model: str, out: str, n_perturbations: int, seed: int, cache_path: str | None, no_cache: bool,
             refresh_cache: bool) -> None:
    """Explain the built-in example prompts with all three methods; write heatmaps and a summary table.

    \b
    Example:
      xai-bench examples --model local/smollm2-135m --out out/examples
    """
    from rich.markup import escape
    from rich.table import Table

    from ..config import ExplainConfig
    from ..explain.explainer import explain as run_explain

    config = ExplainConfig(methods=("gsmile", "lime", "baylime"), n_perturbations=n_perturbations, seed=seed)
    out = str(preflight_out(out))
    cache = open_cache(cache_path, no_cache, refresh_cache)
    rows = []
    for name, prompt in EXAMPLE_PROMPTS:
        exps = run_explain(prompt, model, config, cache=cache)
        write_outputs(exps, Path(out) / name)
        for e in exps.values():
            rows.append({"example": name, "method": e.method, "top": [w for _, w, _ in e.top(3)],
                         "r2w": e.fit.get("r2w"), "llm_calls": e.usage["llm_calls"],
                         "cache_hits": e.usage["cache_hits"], "seconds": round(e.timings.get("total", 0.0), 2)})
    table = Table(title=f"Examples on {escape(model)}")
    for col in ("example", "method", "top words", "weighted R^2", "llm calls", "cache hits"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["example"], r["method"], escape(", ".join(r["top"])), f"{r['r2w']:.3f}" if r["r2w"] is not None else "-",
                      str(r["llm_calls"]), str(r["cache_hits"]))
    console().print(table)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "summary.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    console().print(f"heatmaps and summary in {out}/", markup=False)
