"""A white-box reference attribution: leave-one-word-out change in the answer's log-probability.

Black-box methods (gSMILE, LIME, Bay-LIME) see only the model's text. The reference a
reader asks for ("does gSMILE recover what direct ablation sees?") needs the model's
internals: for a prompt of d words and the model's own greedy answer y to the full prompt,

    a_i = log p(y | prompt) - log p(y | prompt without word i),    i = 1..d

the drop in the log-probability of the same answer when word i is removed (positive: the
word supports the answer). It costs d + 1 forward passes over prompt + answer and no
generation. The prompt is rendered through the model's own chat template, exactly as a
chat completion would see it (system prompt, data set template, ``{text}`` slot), and
the answer is the text the model produced, tokenised as plain text (it may tokenise
differently from the generated token ids when the model produced a non-canonical
split; the log-probability is then that of the canonical tokenisation).

``label_logprobs`` scores each label of a classification or multiple-choice prompt as the
whole answer; the softmax over the labels is the model's confidence in each, which the
calibration metrics (``metrics.calibration``) score against the gold labels.

Only the in-process llama.cpp models (``local/<name>``) expose their logits here; for any
other model ``leave_one_out`` raises ``ModelError`` and the benchmark leaves the row out.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import ModelError

__all__ = ["WHITEBOX_METHOD", "answer_logprob", "label_logprobs", "leave_one_out", "supports_whitebox"]

WHITEBOX_METHOD = "ablation"  # the reference row's name in per_prompt.csv and metrics.json


def supports_whitebox(model: str) -> bool:
    """True for the in-process llama.cpp models, the only ones whose logits are visible."""
    return model.startswith("local/")


def _render(llama: Any, messages: list[dict[str, Any]]) -> list[int]:
    """The prompt tokens a chat completion on ``llama`` sees for ``messages``."""
    from llama_cpp import llama_chat_format

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelError("The local model has no chat template in its GGUF metadata; white-box ablation needs one.")
    eos = llama._model.token_get_text(llama.token_eos()) if llama.token_eos() >= 0 else ""
    bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
    formatted = llama_chat_format.Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(
        messages=messages)
    return llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _answer_logprob(llama: Any, prompt_tokens: list[int], answer_tokens: list[int]) -> float:
    n_ctx = llama.n_ctx()
    if len(prompt_tokens) + len(answer_tokens) > n_ctx:
        raise ModelError(f"Prompt and answer take {len(prompt_tokens) + len(answer_tokens)} tokens, more than the "
                         f"model's context of {n_ctx}; white-box ablation cannot score this prompt.")
    llama.reset()
    llama.eval(prompt_tokens + answer_tokens)
    p = len(prompt_tokens)
    logits = np.asarray(llama.scores[p - 1 : p - 1 + len(answer_tokens)], dtype=np.float64)
    lp = _log_softmax(logits)
    return float(lp[np.arange(len(answer_tokens)), answer_tokens].sum())


def _messages(system_prompt: str | None, text: str) -> list[dict[str, Any]]:
    msgs = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return msgs + [{"role": "user", "content": text}]


def answer_logprob(model: str, system_prompt: str | None, prompt: str, answer: str) -> float:
    """log p(answer | prompt) under the local model ``model`` (``local/<name>``)."""
    return float(leave_one_out(model, system_prompt, [prompt], answer)[0])


def leave_one_out(model: str, system_prompt: str | None, prompts: Sequence[str], answer: str) -> np.ndarray:
    """log p(answer | p) for every rendered prompt p of ``prompts`` (the full prompt first,
    then each leave-one-word-out variant, as the caller renders them).

    The caller turns these into attributions: ``lp[0] - lp[1:]``.
    """
    return _score(model, system_prompt, [(p, answer) for p in prompts])


def label_logprobs(model: str, system_prompt: str | None, prompt: str, labels: Sequence[str]) -> np.ndarray:
    """log p(label | prompt) of each label as the model's whole answer (for calibration: the
    softmax over the labels is the model's confidence in each)."""
    return _score(model, system_prompt, [(prompt, label) for label in labels])


def _score(model: str, system_prompt: str | None, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    if not supports_whitebox(model):
        raise ModelError(f"White-box scoring needs a model's logits; {model!r} is not an in-process local "
                         "model (local/<name>).")
    from .local import _load

    name = model.split("/", 1)[1]
    loaded = _load(name, logits_all=True)
    out: list[float] = []
    with loaded.lock:
        llama = loaded.llama
        for prompt, answer in pairs:
            answer_tokens = llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False)
            if not answer_tokens:
                raise ModelError("The model's answer is empty; there is no answer whose log-probability could change.")
            out.append(_answer_logprob(llama, _render(llama, _messages(system_prompt, prompt)), answer_tokens))
        llama.reset()
    return np.asarray(out, dtype=np.float64)
