"""``MLflowRunLink``: an "MLflow run" button on every task instance of a benchmark DAG run.

The task that logs the benchmark to MLflow pushes the run's UI address as the XCom
``mlflow_run_url`` (``XCOM_KEY``), for example::

    from airflow.sdk import get_current_context
    get_current_context()["ti"].xcom_push(key="mlflow_run_url", value=xai_bench.ops.tracking.run_url(run_id))

Registered as a *global* link by ``xai_bench_plugin.XaiBenchPlugin``, so Airflow 3's API
server calls ``get_link`` for any task of any DAG run; it returns that task's own
``mlflow_run_url`` if it pushed one, else the one pushed by any task of the same DAG run,
else "" (the UI then shows the button disabled). Only http(s) addresses are returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseOperatorLink

__all__ = ["XCOM_KEY", "MLflowRunLink", "choose_run_url"]

XCOM_KEY = "mlflow_run_url"


def _as_url(value: Any) -> str | None:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:  # stored XCom values are JSON text, or already decoded by the column type
            decoded = json.loads(value)
        except ValueError:
            decoded = value
        value = decoded if isinstance(decoded, str) else value
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    return None


def choose_run_url(rows: Iterable[tuple[str, int, Any]], task_id: str, map_index: int = -1) -> str:
    """From ``(task_id, map_index, value)`` XCom rows of one DAG run, the URL to link to.

    Prefers the row of the task instance itself, then any row of the same task, then the
    first other row; values that are not http(s) URLs are ignored (no ``javascript:`` links).
    """
    urls = [(t, m, u) for t, m, v in rows if (u := _as_url(v))]
    for pick in (lambda t, m: t == task_id and m == map_index, lambda t, m: t == task_id, lambda t, m: True):
        for t, m, u in urls:
            if pick(t, m):
                return u
    return ""


class MLflowRunLink(BaseOperatorLink):
    """Link from a task instance to the MLflow run of its benchmark DAG run."""

    name = "MLflow run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        try:
            rows = self._rows(ti_key)
        except Exception as e:  # the UI must still render: no link instead of an error page
            import logging

            logging.getLogger(__name__).warning("MLflow run link for %s: XCom lookup failed: %s", ti_key, e)
            return ""
        return choose_run_url(rows, ti_key.task_id, getattr(ti_key, "map_index", -1))

    @staticmethod
    def _rows(ti_key: Any) -> list[tuple[str, int, Any]]:
        """``mlflow_run_url`` XComs of the DAG run, read from the metadata database (API server side)."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        query = XComModel.get_many(key=XCOM_KEY, run_id=ti_key.run_id, dag_ids=ti_key.dag_id).with_only_columns(
            XComModel.task_id, XComModel.map_index, XComModel.value
        )
        with create_session() as session:
            return [tuple(r) for r in session.execute(query).all()]
