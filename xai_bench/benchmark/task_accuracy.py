"""Task accuracy on gold labels, with its chance level: can the model do the task at all?

Task accuracy is the share of labelled prompts whose parsed answer equals the gold label
(``answers.parse_answer``), with a Wilson score interval (``scipy.stats.binomtest``), valid
for a proportion at any n. Beside it stand its chance level (the mean of 1 / size of the
label set over the prompts, e.g. 1/3 for HateXplain's three labels, 1/5 for CoS-E's
options) and the one-sided exact binomial p-value of "no better than chance"; a cell is
``above_chance`` when that p-value is below 1 - confidence. Agreement with human rationales
(``metrics.accuracy.PLAUSIBILITY_METRICS``) says something about a method only for a model
that can do the task: the report names cells that are not above chance and the gate reports
their plausibility rows as information, never as a verdict on the method. Control models
(``oracle:``, ``control:``) have no task skill to judge and get no flag.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scipy.stats import binomtest

from ..llm.families import is_control

__all__ = ["task_accuracy", "chance_notes"]


def task_accuracy(task: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """``{model: {dataset: {task_accuracy, its Wilson interval, n, parse_rate, chance, above_chance_p,
    above_chance}}}`` from the task rows of the fit stage (module docstring)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for t in task:
        groups[(t["model"], t["dataset"])].append(t)
    out: dict[str, Any] = {}
    for (model, dataset), items in groups.items():
        k = sum(1 for t in items if t["correct"])
        ci = binomtest(k, len(items)).proportion_ci(confidence_level=confidence, method="wilson")
        entry = out.setdefault(model, {})[dataset] = {
            "task_accuracy": k / len(items), "task_accuracy_ci_low": float(ci.low),
            "task_accuracy_ci_high": float(ci.high),
            "task_accuracy_n": len(items), "parse_rate": sum(t["parsed"] is not None for t in items) / len(items),
        }
        sizes = [t["n_labels"] for t in items if t.get("n_labels")]
        if sizes and not is_control(model):
            chance = sum(1.0 / n for n in sizes) / len(sizes)
            p = float(binomtest(k, len(items), chance, alternative="greater").pvalue)
            entry.update({"chance": chance, "above_chance_p": p, "above_chance": p < 1 - confidence})
    return out


def chance_notes(task_acc: dict[str, Any]) -> list[str]:
    """One note per language-model cell that is not above chance."""
    return [f"{model} / {dataset}: task accuracy {v['task_accuracy']:.3f} (n={v['task_accuracy_n']}) is not above "
            f"chance {v['chance']:.3f} (one-sided binomial p={v['above_chance_p']:.3g}); agreement with the human "
            "rationales (att_*) in this cell is no verdict on the methods, and the gate does not judge it."
            for model, per in task_acc.items() for dataset, v in per.items() if v.get("above_chance") is False]
