"""One explanation, stage by stage (gSMILE, LIME, Bay-LIME).

    features         prompt -> feature words and how to render any subset of them
    perturbation     seeded keep-masks and their prompts
    distances        IWMD / cosine between prompts, OWMD between outputs
    output_distance  OWMD between output distributions (samples, log-probabilities)
    embeddings       the sentence-embedding model, loaded offline
    significance     permutation p-values of the output shifts
    surrogates       kernels and the weighted linear surrogates
    explanation      the result type (``Explanation``)
    heatmap          HTML and PNG renderings of an explanation
    explainer        the stages chained: ``explain``, ``query_stage``, ``distance_stage``, ``fit_stage``

Imports run down to ``xai_bench.llm`` (queries), ``xai_bench.metrics`` and the top-level
``config``/``errors``/``paths``/``offline``; nothing here imports ``benchmark``, ``ops`` or ``cli``.
"""
