"""Records around a finished run: what the DAG's record tasks and ``xai-bench run --record`` call.

    tracking  logs a run folder to MLflow (parent run, one nested run per cell)
    gate      the prompt-by-prompt drift gate between two runs
    audit     the hash-chained audit log and its reports
    pipeline  the three record steps (MLflow, gate, audit) as the DAG calls them

Imports run down to ``benchmark``, ``metrics``, ``llm`` and the top-level modules.
"""
