"""Airflow plugin registration for xai-bench (registration only; the logic lives in xai_bench).

- ``MLflowRunLink`` (``xai_bench_links``): a global operator extra link from every task
  instance to its benchmark's MLflow run.
- ``LiteLLMConnectionHook`` (``xai_bench_hooks``): an ordinary importable module; Airflow 3
  plugins no longer register hooks, DAGs import it (the plugins folder is on ``sys.path``).

``plugins/.airflowignore`` keeps the plugin manager from importing the two helper modules a
second time under the same names.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from xai_bench_hooks import LiteLLMConnectionHook
from xai_bench_links import MLflowRunLink

__all__ = ["LiteLLMConnectionHook", "MLflowRunLink", "XaiBenchPlugin"]


class XaiBenchPlugin(AirflowPlugin):
    name = "xai_bench"
    global_operator_extra_links = [MLflowRunLink()]
