"""The oracle control model: keywords counted only inside the input text, never in a task template."""

from __future__ import annotations

import numpy as np
import pytest

from xai_bench.explain.features import prompt_features
from xai_bench.llm.models.oracle import NONE_ANSWER, Slot, oracle_answer, oracle_model, parse_keywords, parse_spec

TEMPLATE = "Answer the question by choosing A or B.\nQuestion: {text}\nA. river\nB. mountain\nAnswer:"


def _spec(model: str) -> str:
    assert model.startswith("oracle:")
    return model[len("oracle:"):]


def test_a_keyword_in_the_template_does_not_count_only_the_input_words_do():
    keywords, slot = parse_spec(_spec(oracle_model(["river"], TEMPLATE)))
    assert keywords == ("river",) and slot is not None
    feats = prompt_features("where does the river flow ?", template=TEMPLATE)
    with_river = feats.render([1, 1, 1, 1, 1, 1])
    without = feats.render([1, 1, 1, 0, 1, 1])
    assert "river" in without  # the answer option still holds the word ...
    assert oracle_answer(without, keywords, slot) == NONE_ANSWER  # ... but the oracle does not read it
    assert oracle_answer(with_river, keywords, slot) == "The prompt talks about river."
    # the same prompt read whole (no slot) is fooled by the option: what the slot prevents
    assert oracle_answer(without, keywords) == "The prompt talks about river."


@pytest.mark.parametrize("template", [TEMPLATE, "{text}", "Classify: {text}", "{text} -- yes or no?", "{text}{text}x"])
def test_the_slot_is_exactly_the_rendered_input_text_for_every_mask(template):
    if template.count("{text}") != 1:
        with pytest.raises(ValueError, match="exactly once"):
            oracle_model(["a"], template)
        return
    model = oracle_model(["kw"], template)
    _, slot = parse_spec(_spec(model))
    assert (slot is None) == (template == "{text}")  # a bare "{text}" template is the whole prompt
    if slot is None:
        return
    words = ["x", "kw", "y:", "{text}", "A."]  # input words that look like template parts
    feats = prompt_features("", template=template, words=words)
    for mask in ([1, 1, 1, 1, 1], [0, 1, 0, 0, 0], [1, 0, 1, 1, 1], [0, 0, 0, 0, 1]):
        kept = " ".join(w for w, k in zip(words, mask) if k)
        assert slot.text(feats.render(mask)) == kept


def test_a_prompt_of_another_template_is_refused_not_answered():
    _, slot = parse_spec(_spec(oracle_model(["river"], TEMPLATE)))
    other = TEMPLATE.replace("mountain", "hill").replace("{text}", "where is the river")
    with pytest.raises(ValueError, match="does not follow the template"):
        oracle_answer(other, ("river",), slot)
    with pytest.raises(ValueError, match="does not follow the template"):
        slot.text("short")


def test_spec_round_trip_and_validation():
    model = oracle_model(["meaning", "life"], "Q: {text}\nA:")
    assert parse_keywords(_spec(model)) == ("meaning", "life")
    assert parse_spec(_spec(model))[1] == Slot.of_template("Q: {text}\nA:")
    assert oracle_model(["meaning", "life"]) == "oracle:meaning,life"  # no template: the old spelling
    with pytest.raises(ValueError, match="no ','"):
        oracle_model(["a,b"], "Q: {text}")
    with pytest.raises(ValueError, match="oracle slot is"):
        parse_spec("a,b|slot=3:x:1234")


def test_the_served_model_reads_the_slot():
    # through litellm and the query layer, as the benchmark calls it
    from xai_bench.config import ExplainConfig
    from xai_bench.explain.explainer import query_stage
    from xai_bench.explain.perturbation import Perturbations

    feats = prompt_features("where does the river flow ?", template=TEMPLATE)
    masks = np.array([[1, 1, 1, 0, 1, 1], [0, 0, 0, 1, 0, 0]], dtype=np.int8)
    perts = Perturbations(masks=masks, texts=tuple(feats.render(m) for m in masks), seed=0, keep_prob=0.5)
    q = query_stage(feats, perts, oracle_model(["river"], TEMPLATE), ExplainConfig(), progress=False)
    assert q.original_response == "The prompt talks about river."
    assert q.responses == [NONE_ANSWER, "The prompt talks about river."]
    assert q.errors == [None, None]
