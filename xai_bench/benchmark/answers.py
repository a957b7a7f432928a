"""Reading a model's answer as a label, to measure task accuracy on gold labels.

The benchmark measures each model's task accuracy in the same run (paper section 4.4.2:
faithfulness correlates it with attribution quality across models). The answer is the
model's response to the full, unperturbed prompt; it is parsed as follows and an answer
that cannot be parsed counts as wrong (``parsed`` is None, reported as the parse rate).

Multiple choice (label set of letters such as A-D; the options are listed in the
template as lines "A. text"):
1. an explicit statement, "answer is B", "Answer: B", "option (B)", "correct answer: B";
2. else the first standalone option letter followed by ``)``, ``.`` or ``:``, or wrapped
   as ``(B)``, or the whole response starting with the letter as a word ("B", "B is");
3. else, if the response contains the text of exactly one option (case-insensitive),
   that option's letter.
A bare capital "A" inside a sentence ("A car ...") is not read as an answer.

Classification (label set of words such as hatespeech / offensive / normal): the label
that occurs first in the response (case-insensitive, whole words; a compound label also
matches with a space or hyphen inside, so "hate speech" reads as "hatespeech").
"""

from __future__ import annotations

import re
from typing import Sequence

__all__ = ["parse_answer", "template_options"]

_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.)]\s+(.+?)\s*$", re.MULTILINE)


def template_options(template: str) -> dict[str, str]:
    """Option letter -> option text, from template lines such as "A. appear suddenly"."""
    return {m.group(1): m.group(2) for m in _OPTION_LINE.finditer(template)}


def _letters_pattern(letters: Sequence[str]) -> str:
    return "[" + "".join(re.escape(x) for x in letters) + "]"


def _parse_choice(response: str, label_set: Sequence[str], template: str) -> str | None:
    letters = [x for x in label_set if len(x) == 1]
    if not letters:
        return None
    L = _letters_pattern(letters)
    explicit = re.search(rf"(?i:answer(?:\s+is)?|option|choice)\s*[:\-]?\s*\(?({L})\b", response)
    if explicit:
        return explicit.group(1)
    marked = re.search(rf"(?:^|[\s(\[])\(?({L})(?:\)|\.(?!\w)|:)", response)
    if marked:
        return marked.group(1)
    lead = re.match(rf"\s*({L})(?:\s*$|\s+(?:is|-)\b|,)", response)
    if lead:
        return lead.group(1)
    options = template_options(template)
    low = response.lower()
    hits = [k for k, text in options.items() if k in letters and text.lower() in low]
    return hits[0] if len(hits) == 1 else None


def _parse_class(response: str, label_set: Sequence[str]) -> str | None:
    best: tuple[int, str] | None = None
    for label in label_set:
        chars = [re.escape(c) for c in label.lower()]
        pattern = r"\b" + r"[\s\-]?".join(chars) + r"\b"
        m = re.search(pattern, response.lower())
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), label)
    return None if best is None else best[1]


def parse_answer(response: str, *, task: str, label_set: Sequence[str], template: str = "{text}") -> str | None:
    """The label a response gives, or None when it gives none (see the module docstring)."""
    if not response or not label_set:
        return None
    if task == "multiple_choice":
        return _parse_choice(response, label_set, template)
    if task == "classification":
        return _parse_class(response, label_set)
    raise ValueError(f"The 'task' parameter must be 'classification' or 'multiple_choice'. Got {task!r} instead.")
