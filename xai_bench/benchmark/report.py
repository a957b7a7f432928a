"""The reduce stage: per-prompt rows -> metrics.json, per_prompt.csv, heatmaps and report.md.

``metrics.json`` follows the schema written down key by key in ``docs/results-schema.md``
(schema version 1, the one ``xai_bench.ops.gate`` reads). Every value is a finite number: a
metric that is not enabled, or undefined on every prompt, is left out rather than written
as NaN, and the report says why where it is a known case (faithfulness with fewer than
three models).

Aggregates over prompts are means (``metrics.aggregate``): from 10 prompts on with a
Student-t confidence interval at the level ``metrics.confidence``; below 10 with the range
(min, max) of the per-prompt values instead, and no interval. Paired comparisons
(``paired``): gSMILE minus LIME and gSMILE minus the random baseline, prompt by prompt on the
prompts where both are defined, summarised the same way (the t-interval of a mean paired
difference is the paired t-interval), for the metrics that share their units across methods
(``PAIRED_METRICS``). Task accuracy is the share of
labelled prompts whose parsed answer equals the gold label (``answers.parse_answer``), with
a Wilson score interval (``scipy.stats.binomtest``), valid for a proportion at any n;
faithfulness is the Pearson r across models between task accuracy and the mean
attribution metric, per data set and method, when at least three models have both;
control models (``oracle:``, ``control:``) are left out of it, having no task skill.
A published accuracy given under ``model_accuracy`` takes precedence over the measured one.

Task accuracy, its chance level and the not-above-chance flag: ``task_accuracy``.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from ..llm.families import is_control
from ..metrics import INTERVAL_METHOD, MIN_INTERVAL_PROMPTS, faithfulness_pearson
from ..metrics import aggregate as aggregate_rows
from ..metrics.faithfulness import MIN_MODELS
from ..explain.surrogates import is_underdetermined_warning
from .config import RANDOM_METHOD, BenchmarkConfig
from .task_accuracy import calibration_section, chance_notes, task_accuracy
from .rundir import finite_or_none, read_json, slug, stage_path, write_json, write_text

__all__ = ["aggregate", "REPORT_COLUMNS", "ID_COLUMNS", "PAIRED", "PAIRED_METRICS"]

# every column of per_prompt.csv that is not a metric (``degenerate``: why the explanation
# learned nothing, empty when it did learn something; see ``scoring``)
ID_COLUMNS = ("model", "dataset", "method", "example_id", "n_words", "n_rationale", "degenerate")
FAITHFULNESS_METRICS = ("att_acc", "att_f1", "att_auroc", "att_auprc")
REPORT_COLUMNS = (
    ("Attribution", ("att_auroc", "att_auprc", "att_acc", "att_f1", "comprehensiveness", "sufficiency",
                     "stability_jaccard", "consistency_std")),
    ("Fidelity and cost", ("fidelity_r2w", "fidelity_r2w_adj", "fidelity_r2w_heldout", "fidelity_wmse",
                           "fidelity_wmae", "fidelity_l1", "fidelity_l2", "seconds", "llm_calls")),
)
# Compared across methods prompt by prompt: metrics in the same units for every method (the
# rationale, and the OWMD shift erasure and stability measure for all). Not consistency_std (each
# method's own output distance: OWMD for gSMILE, cosine for LIME, N(0, 1) for random) nor the
# fidelity_* (each surrogate against its own target), whose differences would mix units.
PAIRED_METRICS = ("att_auroc", "att_auprc", "att_acc", "att_f1", "comprehensiveness", "sufficiency",
                  "stability_jaccard")
PAIRED = (("gsmile", "lime"), ("gsmile", RANDOM_METHOD))  # (method, baseline): method - baseline
# metrics whose values are in each method's own units: never ranked or compared across methods
OWN_UNITS = {"consistency_std": "†"}
OWN_UNITS_FOOTNOTE = (
    "† consistency_std is the per-token standard deviation of a method's attributions over repeated runs, in "
    "the units of that method's own surrogate target (OWMD for gSMILE, cosine distance for LIME and Bay-LIME, "
    "N(0, 1) draws for random): a smaller value for one method than for another says nothing about which is "
    "more consistent, so it is not ranked across methods and is left out of the paired comparisons. Compare it "
    "across models, or across runs of one method."
)


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.001:
        return f"{v:.3f}"
    return f"{v:.1e}"


def bounds_text(d: dict[str, Any], m: str, fmt: Callable[[float], str] = _fmt) -> str:
    """``m``'s interval "[low, high]" (>= 10 prompts) or its range "(min to max)" (fewer) as metrics.json
    gives them, each number through ``fmt``; "" when there is neither (one value, or no spread)."""
    lo, hi = d.get(f"{m}_ci_low"), d.get(f"{m}_ci_high")
    if lo is not None and hi is not None and lo != hi:
        return f"[{fmt(lo)}, {fmt(hi)}]"
    lo, hi = d.get(f"{m}_min"), d.get(f"{m}_max")
    if lo is not None and hi is not None and lo != hi:
        return f"({fmt(lo)} to {fmt(hi)})"
    return ""


def _cell(d: dict[str, float], m: str) -> str:
    """The mean with its interval or range (``bounds_text``)."""
    if m not in d:
        return "–"
    bounds = bounds_text(d, m)
    return f"{_fmt(d[m])} {bounds}" if bounds else _fmt(d[m])


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def _write_csv(path: Path, rows: list[dict[str, Any]], first: tuple[str, ...]) -> None:
    names: list[str] = list(first)
    for r in rows:
        for k in r:
            if k not in names:
                names.append(k)
    head, rest = names[: len(first)], sorted(names[len(first):])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=head + rest, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in head + rest})
    write_text(path, buf.getvalue())


def _aggregate_groups(rows: list[dict[str, Any]], config: BenchmarkConfig) -> dict[str, Any]:
    groups: dict[tuple[str, str, str], list[dict[str, float]]] = defaultdict(list)
    for r in rows:
        metrics = {k: (math.nan if v is None else float(v)) for k, v in r.items() if k not in ID_COLUMNS}
        groups[(r["model"], r["dataset"], r["method"])].append(metrics)
    results: dict[str, Any] = {}
    for (model, dataset, method), metric_rows in groups.items():
        results.setdefault(model, {}).setdefault(dataset, {})[method] = _summaries(metric_rows, config)
    return results


def _summaries(metric_rows: list[dict[str, float]], config: BenchmarkConfig) -> dict[str, float]:
    """metrics.json values of one cell: mean, interval or range, n per metric (never NaN)."""
    agg = aggregate_rows(metric_rows, confidence=config.metrics.confidence)
    out: dict[str, float] = {}
    for name in dict.fromkeys(k for r in metric_rows for k in r):
        if agg.get(f"{name}_n", 0) == 0:
            continue  # undefined on every prompt: left out, never NaN
        for suffix in ("", "_ci_low", "_ci_high", "_min", "_max", "_n"):
            v = finite_or_none(agg.get(f"{name}{suffix}"))
            if v is not None:
                out[f"{name}{suffix}"] = int(v) if suffix == "_n" else v
    return out


def _paired(rows: list[dict[str, Any]], config: BenchmarkConfig) -> dict[str, Any]:
    """``{model: {dataset: {"<method> - <baseline>": {metric: mean difference, ...}}}}`` over the prompts
    where both are defined (a sweep pairs ``gsmile[x]`` with ``lime[x]``; random has no sweep label)."""
    by_key = {(r["model"], r["dataset"], r["method"], r["example_id"]): r for r in rows}
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in rows:
        methods = cells[(r["model"], r["dataset"])]
        if r["method"] not in methods:
            methods.append(r["method"])
    out: dict[str, Any] = {}
    for (model, dataset), methods in cells.items():
        for method in methods:
            for base_method, baseline in PAIRED:
                label = method[len(base_method):] if method.startswith(base_method) else None
                if label is None or (label and not label.startswith("[")):
                    continue
                partner = baseline if baseline == RANDOM_METHOD else baseline + label
                if partner not in methods:
                    continue
                diffs: list[dict[str, float]] = []
                for (m, d, meth, example), r in by_key.items():
                    other = by_key.get((m, d, partner, example))
                    if (m, d, meth) != (model, dataset, method) or other is None:
                        continue
                    diffs.append({k: (math.nan if r.get(k) is None or other.get(k) is None
                                      else float(r[k]) - float(other[k])) for k in PAIRED_METRICS})
                summary = _summaries(diffs, config)
                if summary:
                    out.setdefault(model, {}).setdefault(dataset, {})[f"{method} - {partner}"] = summary
    return out


def _underdetermined_notes(explanations: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """One note per model x data set x method whose fits had too few included perturbations for
    their words (the explanation's underdetermined warning), counting and naming the prompts."""
    found: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for model, dataset, item in explanations:
        e = item.get("explanation") or {}
        if any(is_underdetermined_warning(w) for w in e.get("warnings", [])):
            found[(model, dataset, str(e.get("method")))].append(str(item.get("example_id")))
    return [f"{m} / {d} / {meth}: {len(ids)} prompt(s) with too few included perturbations for their words "
            "(underdetermined fit: R² undefined, attributions are shrunken ridge estimates; raise "
            f"explain.n_perturbations above the word count + 1): {', '.join(ids[:20])}"
            + (f" and {len(ids) - 20} more" if len(ids) > 20 else "") + "."
            for (m, d, meth), ids in found.items()]


def _degenerate_notes(rows: list[dict[str, Any]]) -> list[str]:
    """One note per model x data set x method with degenerate explanations, counting them by reason."""
    total: dict[tuple[str, str, str], int] = defaultdict(int)
    reasons: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    prompts: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in rows:
        key = (r["model"], r["dataset"], r["method"])
        prompts[key] += 1
        if r.get("degenerate"):
            total[key] += 1
            for reason in str(r["degenerate"]).split("; "):
                reasons[key][reason] += 1
    return [f"{m} / {d} / {meth}: {total[(m, d, meth)]} of {prompts[(m, d, meth)]} prompt(s) with a degenerate "
            f"explanation ({', '.join(f'{why}: {n}' for why, n in reasons[(m, d, meth)].items())}); it learned "
            "nothing, so its fidelity R² is undefined and its top-k words are a seeded random pick."
            for (m, d, meth) in total]


def _faithfulness(results: dict[str, Any], task_acc: dict[str, Any], config: BenchmarkConfig,
                  notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    datasets = list(dict.fromkeys(d for per_model in results.values() for d in per_model))
    for dataset in datasets:
        accuracy: dict[str, tuple[float, str]] = {}
        for model in results:
            if is_control(model):
                continue  # control models have no task skill by construction
            published = config.published_accuracy(model, dataset)
            measured = task_acc.get(model, {}).get(dataset, {}).get("task_accuracy")
            if published is not None:
                accuracy[model] = (published, "published")
            elif measured is not None:
                accuracy[model] = (measured, "measured")
        methods = list(dict.fromkeys(m for model in results for m in results[model].get(dataset, {})))
        for method in methods:
            for metric in FAITHFULNESS_METRICS:
                values = {m: results[m][dataset][method].get(metric) for m in accuracy
                          if dataset in results[m] and method in results[m][dataset]}
                values = {m: v for m, v in values.items() if v is not None}
                if len(values) < MIN_MODELS:
                    continue
                res = faithfulness_pearson({m: accuracy[m][0] for m in values}, values)
                if math.isnan(res.r):
                    continue
                entry = {"r": res.r, "p": None if math.isnan(res.p) else res.p, "n_models": res.n_models,
                         "models": list(res.models), "accuracy_source": {m: accuracy[m][1] for m in values}}
                out.setdefault(dataset, {}).setdefault(method, {})[metric] = entry
        if dataset not in out and not accuracy:
            notes.append(f"Faithfulness on {dataset!r} omitted: the data set has no gold labels in this run and "
                         "no model_accuracy is given for it.")
        elif dataset not in out:
            notes.append(
                f"Faithfulness on {dataset!r} omitted: it needs at least {MIN_MODELS} models with a task accuracy "
                f"(measured on gold labels, or given under model_accuracy) and attribution metrics; this run has "
                f"{len(accuracy)} ({', '.join(sorted(accuracy)) or 'none'}; control models do not count)."
            )
    return out


def _heatmaps(run_dir: Path, explanations: list[tuple[str, str, dict[str, Any]]], config: BenchmarkConfig
              ) -> list[tuple[str, str, str, str]]:
    from ..explain.explanation import Explanation
    from ..explain.heatmap import render_html, render_png

    by_example: dict[tuple[str, str, str], list[Explanation]] = defaultdict(list)
    for model, dataset, item in explanations:
        by_example[(model, dataset, item["example_id"])].append(Explanation.from_dict(item["explanation"]))
    written: list[tuple[str, str, str, str]] = []
    pngs: dict[tuple[str, str], int] = defaultdict(int)
    for (model, dataset, example_id), exps in by_example.items():
        folder = run_dir / "heatmaps" / slug(model, hashed=True) / slug(dataset)
        name = slug(example_id, hashed=True)
        title = f"{model} on {example_id}"
        render_html(exps, folder / f"{name}.html", title=title)
        if pngs[(model, dataset)] < config.heatmap_pngs:
            render_png(exps, folder / f"{name}.png", title=title)
            pngs[(model, dataset)] += 1
        written.append((model, dataset, example_id, str((folder / f"{name}.html").relative_to(run_dir))))
    return written


def _directions() -> str:
    """"Higher is better for ...; lower for ..." over the report's columns, from the metric registry."""
    from ..metrics.registry import direction

    columns = [c for _, cols in REPORT_COLUMNS for c in cols if c not in OWN_UNITS]
    by = {d: [c for c in columns if direction(c) == d] for d in ("higher", "lower")}
    return f"Higher is better for {', '.join(by['higher'])}; lower for {', '.join(by['lower'])}"


def _report(run: dict[str, Any], config: BenchmarkConfig, results: dict[str, Any], task_acc: dict[str, Any],
            faith: dict[str, Any], notes: list[str], heatmaps: list[tuple[str, str, str, str]],
            paired: dict[str, Any] | None = None, calibration: list[str] | None = None) -> str:
    paired = paired or {}
    level = f"{100 * config.metrics.confidence:g}%"
    lines = [f"# Benchmark report: {config.name}", "",
             f"- run id: `{run['run_id']}`, created {run['created']}",
             f"- configuration hash `{run['config_hash'][:16]}`, seed {run['seed']}, git commit "
             f"`{(run.get('git_commit') or 'unknown')[:12]}`"
             + {True: " with uncommitted changes (dirty)", False: " (clean)"}.get(run.get("git_dirty"), ""),
             f"- models: {', '.join(f'`{m}`' for m in results)}; methods: "
             f"{', '.join(f'`{m}`' for m in config.methods)}" + (", `random`" if config.random_baseline else ""),
             f"- explain: J = {config.explain.n_perturbations}, keep_prob = {config.explain.keep_prob}, "
             f"max_tokens = {config.explain.max_tokens}, temperature = {config.explain.temperature}"
             + (f"; sweep {dict(config.sweep)}" if config.sweep else ""),
             "- files: `metrics.json` (aggregates), `per_prompt.csv`, `task_answers.csv`, `heatmaps/`", "",
             f"Values are means over prompts. With at least {MIN_INTERVAL_PROMPTS} prompts, `[low, high]` is the "
             f"{level} Student-t confidence interval of the mean (`metrics.confidence` = "
             f"{config.metrics.confidence:g}); with fewer, `(min to max)` is the range of the per-prompt values, "
             f"not an interval: so few prompts support none. `–` = not measured or undefined. {_directions()}; "
             "consistency_std (†) is not compared across methods (footnote below the table). Comprehensiveness "
             "and sufficiency are OWMD output shifts for every method.", ""]
    datasets = list(dict.fromkeys(d for per_model in results.values() for d in per_model))
    for dataset in datasets:
        lines += [f"## {dataset}", ""]
        for title, columns in REPORT_COLUMNS:
            present = [c for c in columns if any(c in results[m].get(dataset, {}).get(meth, {})
                                                 for m in results for meth in results[m].get(dataset, {}))]
            if not present:
                continue
            body = []
            for model in results:
                for method, d in results[model].get(dataset, {}).items():
                    n = max((v for k, v in d.items() if k.endswith("_n")), default=0)
                    body.append([f"`{model}`", method, str(n)] + [_cell(d, c) for c in present])
            header = ["model", "method", "prompts"] + [c + (f" {OWN_UNITS[c]}" if c in OWN_UNITS else "")
                                                       for c in present]
            lines += [f"### {title}", "", _table(header, body), ""]
            lines += [OWN_UNITS_FOOTNOTE, ""] if any(c in OWN_UNITS for c in present) else []
        body = [[f"`{model}`", comparison, str(max((v for k, v in d.items() if k.endswith("_n")), default=0))]
                + [_cell(d, c) for c in PAIRED_METRICS]
                for model in paired for comparison, d in paired[model].get(dataset, {}).items()]
        if body:
            present = [i for i, c in enumerate(PAIRED_METRICS) if any(row[3 + i] != "–" for row in body)]
            lines += ["### Paired comparisons (same prompts)", "",
                      _table(["model", "comparison", "prompts"] + [PAIRED_METRICS[i] for i in present],
                             [row[:3] + [row[3 + i] for i in present] for row in body]), "",
                      "Mean over prompts of the per-prompt difference (method minus baseline) on the prompts where "
                      "both are defined, with the interval or range as above (from "
                      f"{MIN_INTERVAL_PROMPTS} prompts on, the {level} paired t-interval). Positive = the method "
                      "scores higher; for sufficiency lower is better, so negative favours the method. "
                      "consistency_std and fidelity_* are left out: their units differ between methods.", ""]
    if task_acc:
        def chance(v: dict[str, Any]) -> tuple[str, str]:
            if "chance" not in v:
                return "–", "–"
            flag = "above chance" if v["above_chance"] else "**not above chance: att_* not judged**"
            return f"{v['chance']:.3f}", f"{flag} (p={v['above_chance_p']:.3g})"

        body = [[f"`{m}`", d, _cell(v, "task_accuracy"), *chance(v), f"{v['parse_rate']:.2f}",
                 str(v["task_accuracy_n"])] for m, per in task_acc.items() for d, v in per.items()]
        lines += ["## Task accuracy (measured on gold labels)", "",
                  _table(["model", "dataset", "accuracy", "chance", "vs chance", "parse rate", "prompts"], body), "",
                  "Answers are parsed as documented in `xai_bench/benchmark/answers.py`; an unparsed answer "
                  "counts as wrong. Chance = 1 / number of labels; \"vs chance\" is a one-sided exact binomial "
                  "test. Where a model is not above chance, its agreement with human rationales (att_*) says "
                  "nothing about the methods.", ""]
    lines += calibration or []
    if faith:
        body = [[d, meth, metric, f"{e['r']:+.3f}", "–" if e["p"] is None else f"{e['p']:.3f}", str(e["n_models"])]
                for d, per in faith.items() for meth, mets in per.items() for metric, e in mets.items()]
        lines += ["## Faithfulness (Pearson r across models, task accuracy vs attribution metric)", "",
                  _table(["dataset", "method", "metric", "r", "p", "models"], body), ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    if heatmaps:
        lines += ["## Heatmaps", ""]
        shown = heatmaps[:60]
        lines += [f"- `{m}` / {d}: [{e}]({p})" for m, d, e, p in shown]
        if len(heatmaps) > len(shown):
            lines.append(f"- ... and {len(heatmaps) - len(shown)} more under `heatmaps/`")
        lines.append("")
    return "\n".join(lines)


def aggregate(run_dir: str | Path) -> Path:
    """metrics.json, per_prompt.csv, task_answers.csv, heatmaps/ and report.md of a finished run."""
    run_dir = Path(run_dir)
    out = run_dir / "metrics.json"
    if out.is_file():
        return out
    config = BenchmarkConfig.from_dict(read_json(run_dir / "config.json"))
    run = read_json(run_dir / "run.json")
    rows: list[dict[str, Any]] = []
    task: list[dict[str, Any]] = []
    explanations: list[tuple[str, str, dict[str, Any]]] = []
    notes: list[str] = list(run.get("notes", []))
    for shard_id in run["shards"]:
        fitted = read_json(stage_path(run_dir, "fit", shard_id))
        rows += fitted["rows"]
        task += fitted["task"]
        notes += fitted["notes"]
        explanations += [(fitted["model"], fitted["dataset"], e) for e in fitted["explanations"]]
    _write_csv(run_dir / "per_prompt.csv", rows, ID_COLUMNS)
    notes += _degenerate_notes(rows)
    notes += _underdetermined_notes(explanations)
    _write_csv(run_dir / "task_answers.csv", task, ("model", "dataset", "example_id", "label", "parsed", "correct"))
    results = _aggregate_groups(rows, config)
    task_acc = task_accuracy(task, config.metrics.confidence)
    notes += chance_notes(task_acc)
    faith = _faithfulness(results, task_acc, config, notes)
    if config.random_baseline and not any(RANDOM_METHOD in per for m in results.values() for per in m.values()):
        notes.append("The random baseline has no rows (every prompt failed).")
    heatmaps = _heatmaps(run_dir, explanations, config)
    paired = _paired(rows, config)
    run_meta = {k: run.get(k) for k in ("run_id", "created", "config_hash", "seed", "git_commit", "git_dirty")}
    write_text(run_dir / "report.md", _report(run_meta, config, results, task_acc, faith, notes, heatmaps, paired,
                                              calibration=calibration_section(task_acc, run_dir)))
    intervals = {"method": INTERVAL_METHOD, "confidence": config.metrics.confidence,
                 "min_prompts": MIN_INTERVAL_PROMPTS, "below_min_prompts": "range"}
    return write_json(out, {
        "schema_version": 1, "run": run_meta, "config_name": config.name, "results": results,
        "task_accuracy": task_acc, "faithfulness": faith, "paired": paired, "intervals": intervals, "notes": notes,
    }, sort_keys=False)  # models, data sets and methods in configuration order
