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

Calibration (``metrics.calibration``, local models): where the task rows carry the model's
probability of each label (``label_probs``), each cell gets ``calibration`` (ECE, Brier,
reliability bins: ``metrics.calibration``) and ``reliability_png`` draws its reliability
diagram. The top label of these probabilities may differ from the parsed free-text answer
that task accuracy scores; ``calibration.accuracy`` is the top label's.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from ..llm.families import is_control
from ..metrics.calibration import Calibration, calibration

__all__ = ["task_accuracy", "chance_notes", "reliability_png", "calibration_section"]


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
        scored = [t for t in items if t.get("label_probs") and t["label"] in t["label_probs"]]
        if scored:
            labels = [list(t["label_probs"]) for t in scored]
            probs = [list(t["label_probs"].values()) for t in scored]
            if len({len(x) for x in labels}) == 1:  # one label set per data set
                gold = [lab.index(t["label"]) for lab, t in zip(labels, scored)]
                entry["calibration"] = calibration(probs, gold).to_dict()
    return out


def reliability_png(cal: Calibration | dict[str, Any], path: Any, title: str) -> None:
    """The reliability diagram of one cell: accuracy against mean confidence per bin, the
    diagonal of perfect calibration, bin counts above the bars; ECE, Brier and n in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = cal.to_dict() if isinstance(cal, Calibration) else dict(cal)
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=100)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for b in c["bins"]:
        ax.bar((b["low"] + b["high"]) / 2, b["accuracy"], width=b["high"] - b["low"], edgecolor="black",
               color="#4c72b0", alpha=0.8)
        ax.plot((b["low"] + b["high"]) / 2, b["confidence"], "o", color="#dd8452", ms=4)
        ax.text((b["low"] + b["high"]) / 2, min(b["accuracy"] + 0.03, 0.97), str(b["n"]), ha="center", fontsize=7)
    ax.plot([], [], "o", color="#dd8452", ms=4, label="mean confidence in bin")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence of the top label", ylabel="accuracy in bin")
    ax.set_title(f"{title}\nECE {c['ece']:.3f}, Brier {c['brier']:.3f}, n={c['n']}", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def chance_notes(task_acc: dict[str, Any]) -> list[str]:
    """One note per language-model cell that is not above chance."""
    return [f"{model} / {dataset}: task accuracy {v['task_accuracy']:.3f} (n={v['task_accuracy_n']}) is not above "
            f"chance {v['chance']:.3f} (one-sided binomial p={v['above_chance_p']:.3g}); agreement with the human "
            "rationales (att_*) in this cell is no verdict on the methods, and the gate does not judge it."
            for model, per in task_acc.items() for dataset, v in per.items() if v.get("above_chance") is False]


def calibration_section(task_acc: dict[str, Any], run_dir: Path) -> list[str]:
    """report.md lines of the calibration table, with each cell's reliability diagram written
    to ``calibration/<model>/<dataset>.png`` in the run folder; [] when no cell has one."""
    from .rundir import slug

    body = []
    for model, per in task_acc.items():
        for dataset, v in per.items():
            c = v.get("calibration")
            if not c:
                continue
            rel = Path("calibration") / slug(model, hashed=True) / f"{slug(dataset)}.png"
            (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            reliability_png(c, run_dir / rel, f"{model} on {dataset}")
            body.append(f"| `{model}` | {dataset} | {c['n']} | {c['accuracy']:.3f} | {c['mean_confidence']:.3f} | "
                        f"{c['ece']:.3f} | {c['brier']:.3f} | ![reliability]({rel.as_posix()}) |")
    if not body:
        return []
    return ["## Calibration of the model's label confidence", "",
            "| model | dataset | prompts | top-label accuracy | mean confidence | ECE | Brier | reliability |",
            "|---|---|---|---|---|---|---|---|", *body, "",
            "Confidence: the softmax over the labels of each label's log-probability as the whole answer "
            "(`llm.models.whitebox.label_logprobs`). ECE uses 10 equal-width bins (biased upward at small n); "
            "Brier is the multi-class score (a uniform guess over K labels scores 1 - 1/K).", ""]
