"""Fairness probe (gSMILE paper, section 5.1.2): how attributions shift across prompt variants.

A set of prompt variants that differ in a few words (the paper's gender triplet: "What is
the meaning of life?", "... from men's perspective?", "... from women's perspective?") is
explained with the same model, method, perturbation count and seed. Every pair of
variants is aligned word by word (``difflib.SequenceMatcher`` on normalised words: lower
case, curly apostrophe as straight, leading/trailing punctuation removed); the words
outside the matching blocks are the varied tokens.

Attributions are compared as shares, a_i / sum_j |a_j|, so that prompts of different
lengths and output scales are comparable. For each pair (a, b) and method the probe
reports, per changed span, the summed share of its words in a and in b and the shift
(b - a; an inserted span has share 0 in a), and the mean absolute share shift on the
unchanged, aligned words (how much the rest of the explanation moved).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

from ..config import ConfigError, ExplainConfig
from ..explain.explanation import Explanation

__all__ = ["PromptVariant", "FairnessResult", "variants_from_dataset", "variants_from_yaml", "fairness_probe", "attribution_shares"]

_EDGE = re.compile(r"^\W+|\W+$")


@dataclass(frozen=True, kw_only=True)
class PromptVariant:
    """One prompt of the probe: its id, feature words and (fixed) template."""

    id: str
    words: tuple[str, ...]
    template: str = "{text}"

    def __post_init__(self) -> None:
        if not self.words:
            raise ConfigError(f"Prompt variant {self.id!r} has no words.")


@dataclass(frozen=True, kw_only=True)
class FairnessResult:
    """The probe's findings (``data``, JSON-able) and the explanations behind them (for heatmaps)."""

    data: dict[str, Any]
    explanations: list[list[Explanation]]

    def to_dict(self) -> dict[str, Any]:
        return self.data


def _norm(word: str) -> str:
    return _EDGE.sub("", word.replace("\u2019", "'").casefold())


def variants_from_dataset(path: str | Path, *, group: str | None = None,
                          ids: Sequence[str] | None = None) -> list[PromptVariant]:
    """Variants from a prepared data set: the rows of a ``provenance.group`` or the given ids (in order)."""
    from ..datasets import load_dataset

    ds = load_dataset(path)
    if ids:
        try:
            rows = [ds.by_id(i) for i in ids]
        except KeyError as e:
            raise ConfigError(str(e.args[0])) from e
    elif group:
        rows = [ex for ex in ds.examples if ex.provenance.get("group") == group]
        if not rows:
            groups = sorted({str(ex.provenance.get("group")) for ex in ds.examples if ex.provenance.get("group")})
            raise ConfigError(f"Data set {ds.name!r} has no rows in group {group!r}. Groups: {', '.join(groups)}.")
    else:
        raise ConfigError("Give a group or a list of ids to pick the variants from the data set.")
    if len(rows) < 2:
        raise ConfigError(f"A fairness probe compares at least 2 prompt variants; got {len(rows)}.")
    return [PromptVariant(id=ex.id, words=ex.words, template=ex.template) for ex in rows]


def variants_from_yaml(path: str | Path) -> list[PromptVariant]:
    """Variants from YAML: a list of prompts, each a string or {id, prompt, template}."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Variants file not found: {p}")
    data = yaml.safe_load(p.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "variants" in data:
        data = data["variants"]
    if not isinstance(data, list) or len(data) < 2:
        raise ConfigError(f"{p} must hold a list of at least 2 prompts (strings or {{id, prompt}}); got {data!r:.80}.")
    out = []
    for i, item in enumerate(data):
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise ConfigError(f"{p}: variant {i} must be a string or a mapping with a 'prompt' string; got {item!r:.80}.")
        out.append(PromptVariant(id=str(item.get("id", f"v{i + 1}")), words=tuple(item["prompt"].split()),
                                 template=item.get("template", "{text}")))
    return out


def attribution_shares(attributions: Sequence[float]) -> list[float]:
    """a_i / sum_j |a_j| (all zeros when every attribution is 0)."""
    total = sum(abs(a) for a in attributions)
    return [a / total if total > 0 else 0.0 for a in attributions]


def _compare(a: Explanation, b: Explanation) -> dict[str, Any]:
    sa, sb = attribution_shares(a.attributions), attribution_shares(b.attributions)
    sm = difflib.SequenceMatcher(a=[_norm(w) for w in a.tokens], b=[_norm(w) for w in b.tokens], autojunk=False)
    changes, shared = [], []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            shared += [abs(sb[j1 + k] - sa[i1 + k]) for k in range(i2 - i1)]
            continue
        share_a, share_b = sum(sa[i1:i2]), sum(sb[j1:j2])
        changes.append({"op": op, "tokens_a": a.tokens[i1:i2], "tokens_b": b.tokens[j1:j2],
                        "positions_a": list(range(i1, i2)), "positions_b": list(range(j1, j2)),
                        "share_a": share_a, "share_b": share_b, "shift": share_b - share_a})
    return {"changes": changes, "varied_shift": sum(c["shift"] for c in changes),
            "shared_mean_abs_shift": sum(shared) / len(shared) if shared else 0.0}


def fairness_probe(variants: Sequence[PromptVariant], model: str, config: ExplainConfig, *, cache: Any = None,
                   embedder: Any = None, progress: bool = False) -> FairnessResult:
    """Explain every variant with every method of ``config`` and compare every pair (see module docstring)."""
    from ..explain.embeddings import Embedder
    from ..explain.explainer import explain

    if len(variants) < 2:
        raise ConfigError(f"A fairness probe compares at least 2 prompt variants; got {len(variants)}.")
    embedder = embedder or Embedder(config.embedding_model)
    explained: list[dict[str, Explanation]] = []
    for v in variants:
        explained.append(explain(" ".join(v.words), model, config, template=v.template, words=v.words,
                                 cache=cache, embedder=embedder, progress=progress))
    out_variants = []
    for v, exps in zip(variants, explained):
        first = next(iter(exps.values()))
        out_variants.append({
            "id": v.id, "prompt": first.prompt, "response": first.original_response, "tokens": list(v.words),
            "attributions": {m: e.attributions for m, e in exps.items()},
            "shares": {m: attribution_shares(e.attributions) for m, e in exps.items()},
        })
    comparisons = []
    for (i, va), (j, vb) in combinations(enumerate(variants), 2):
        for m in config.methods:
            comparisons.append({"a": va.id, "b": vb.id, "method": m, **_compare(explained[i][m], explained[j][m])})
    data = {"model": model, "methods": list(config.methods), "n_perturbations": config.n_perturbations,
            "seed": config.seed, "variants": out_variants, "comparisons": comparisons}
    return FairnessResult(data=data, explanations=[list(exps.values()) for exps in explained])
