"""The model behind one interface: querying, caching and the built-in models.

    query    ``query_model``: deduplication, cache, concurrency, usage accounting, failure shares
    settings ``QuerySettings``: what shapes a request (and its cache key)
    calls    one call through litellm with retries on transient errors
    replies  ``ModelReply``, ``Usage``, ``QueryResult``, ``QueryFailures``
    cache    the SQLite response cache
    models/  litellm with the in-process providers (``local/`` llama.cpp, Qwen, ``oracle:``, ``control:``)

Imports run down to the top-level ``errors``/``paths``/``offline`` only.
"""
