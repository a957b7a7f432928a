"""Batched embeddings (issue 11, item 4): one forward pass per text, grouped by length without
padding, equal to sentence-transformers' own encode() up to float32 round-off."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_bench.explain.embeddings import Embedder, _chunks_by_length

TEXTS = ["What is the meaning of life ?", "meaning life", "", "What is the of ?", "life", "What is the meaning",
         "The prompt talks about meaning. The prompt talks about life.", "I have nothing to say about this."]


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(min_value=2, max_value=9), max_size=60), batch=st.integers(1, 16))
def test_chunks_cover_every_index_once_with_one_length_each(lengths, batch):
    chunks = _chunks_by_length(lengths, batch)
    flat = [i for c in chunks for i in c]
    assert sorted(flat) == list(range(len(lengths)))
    for c in chunks:
        assert 1 <= len(c) <= batch
        assert len({lengths[i] for i in c}) == 1


def test_batched_equals_sentence_transformers_encode(embedder):
    fresh = Embedder(embedder.model_name, batch_size=3)  # several chunks, run in worker threads
    toks = fresh.token_embeddings(TEXTS)
    sents = fresh.sentence_embeddings(TEXTS)
    model = fresh.model
    ref_tok = model.encode(TEXTS, output_value="token_embeddings", convert_to_numpy=False, show_progress_bar=False)
    ref_sent = model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    for text, got, ref in zip(TEXTS, toks, ref_tok):
        ref = ref.numpy().astype(np.float64)
        ref = ref[1:-1] if ref.shape[0] > 2 else ref  # [CLS]/[SEP] removed, except for the empty text
        ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
        assert got.shape == ref.shape, text
        np.testing.assert_allclose(got, ref, atol=2e-5)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(sents, ref_sent, atol=2e-6)
    # cached: a second call returns the very same arrays without another pass
    assert fresh.token_embeddings(TEXTS[:1])[0] is toks[0]
