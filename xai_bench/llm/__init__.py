"""The model behind one interface: querying, caching and the built-in models.

    query    ``query_model``: retries, sampling, usage accounting, failure shares
    cache    the SQLite response cache
    models/  litellm with the in-process providers (``local/`` llama.cpp, Qwen, ``oracle:``, ``control:``)

Imports run down to the top-level ``errors``/``paths``/``offline`` only.
"""
