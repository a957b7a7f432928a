"""``xai-bench explain`` (one prompt) and ``xai-bench examples`` (the built-in demo set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._common import console, load_config, open_cache, preflight_out, user_errors
from ._format import Block, dumps, format_option, print_blocks, status, stdout_to_stderr
from ..secrets import redact_known

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


def _top_blocks(explanations: dict[str, Any], k: int = 8) -> list[Block]:
    """One block per method, its title naming the method (with --method all they are several)."""
    blocks = []
    for e in explanations.values():
        rows = [[str(rank), str(pos), word, f"{att:+.4f}"] for rank, (pos, word, att) in enumerate(e.top(k), 1)]
        r2w = e.fit.get("r2w")
        fit = f"weighted R^2 {r2w:.3f} | " if r2w is not None else ""
        notes = [f"{e.method}: {fit}llm_calls {e.usage.get('llm_calls', 0)} | cache_hits "
                 f"{e.usage.get('cache_hits', 0)} | {e.timings.get('total', 0):.1f} s"]
        notes += [f"warning: {w}" for w in e.warnings]
        blocks.append(Block(f"method {e.method} on {e.model}: top {len(rows)} of {len(e.tokens)} words",
                            ["rank", "position", "word", "attribution"], rows,
                            right=frozenset({"rank", "position", "attribution"}), notes=notes))
    return blocks


def print_top(explanations: dict[str, Any], k: int = 8, fmt: str = "table") -> None:
    """The top-``k`` words of each method as a table (or Markdown), headed by the prompt and response."""
    first = next(iter(explanations.values()))
    response = " ".join(first.original_response.split())
    print_blocks(_top_blocks(explanations, k), fmt, heading=f"prompt: {first.prompt} | response: {response}")


def explanations_json(explanations: dict[str, Any]) -> str:
    """What ``--format json`` prints: one method's explanation exactly as explanation.json holds it,
    several methods as a JSON array of them in --method order (each as explanation_<method>.json)."""
    exps = list(explanations.values())
    if len(exps) == 1:
        return exps[0].to_json()
    return dumps([e.to_dict() for e in exps])


@click.command()
@click.argument("prompt")
@click.option("--model", "-m", default="local/smollm2-135m", show_default=True,
              help="Any litellm model string, 'local/<name>', or 'oracle:<word>,<word>'.")
@click.option("--perturbations", "-j", "n_perturbations", type=int, default=None, help="Number of perturbations J [64].")
@click.option("--seed", type=int, default=None, help="Random seed [0].")
@click.option("--method", type=_METHOD_CHOICES, multiple=True,
              help="gsmile (default), lime, baylime, or all; repeat to compare side by side.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
              help="Output folder for explanation.json and the heatmaps; without it nothing is written.")
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
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table (json and md are still printed).")
@format_option("the explanation as in explanation.json (an array of them for several methods)")
@_cache_options
@user_errors
def explain(prompt: str, model: str, out: str | None, config_path: str | None, method: tuple[str, ...], quiet: bool,
            fmt: str, template: str | None, cache_path: str | None, no_cache: bool, refresh_cache: bool,
            **flags: Any) -> None:
    """Explain which words of PROMPT drive MODEL's answer.

    With --out, writes OUT/explanation.json (explanation_<method>.json for each of several
    methods), OUT/heatmap.html and OUT/heatmap.png. Without --out nothing is written to disk
    except model answers to the response cache in its own location (see --cache; --no-cache
    writes nothing at all). --format json prints the explanation alone on stdout.

    \b
    Examples:
      xai-bench explain "What is the meaning of life ?" --model "oracle:meaning,life" --out out/oracle
      xai-bench explain "Give me three tips for cooking rice ." -m local/smollm2-135m -j 32 --method all -o out/rice
      xai-bench explain "What is the meaning of life ?" -m "oracle:meaning,life" --format json | jq .attributions
    """
    from ..explain.explainer import explain as run_explain

    config = load_config(config_path, {**flags, "methods": _methods(method)})
    # before any model call: an unwritable --out is one line, not a late traceback
    out_dir = preflight_out(out) if out is not None else None
    cache = open_cache(cache_path, no_cache, refresh_cache)
    with stdout_to_stderr(fmt != "table"):
        exps = run_explain(prompt, model, config, template=template, cache=cache, progress=not quiet)
        paths = write_outputs(exps, out_dir) if out_dir is not None else None
    if fmt == "json":
        click.echo(explanations_json(exps))
        for e in exps.values():  # also in the JSON; said on stderr so that a person piping it sees them
            for w in e.warnings:
                click.echo(f"warning ({e.method}): {w}", err=True)
    elif fmt == "md" or not quiet:
        print_top(exps, fmt=fmt)
    if not quiet:
        if paths is not None:
            status(f"wrote {paths['explanation']}, {paths['html']}, {paths['png']}", fmt)
        elif fmt == "table":
            status("nothing written (pass --out to save explanation.json and the heatmaps)", fmt)


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
    (Path(out) / "summary.json").write_text(redact_known(json.dumps(rows, indent=2)) + "\n", encoding="utf-8")
    console().print(f"heatmaps and summary in {out}/", markup=False)
