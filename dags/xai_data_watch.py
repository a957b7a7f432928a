"""
### xai_data_watch

Emits the ``xai_data`` asset when the DVC-tracked prepared data changes (a new
``dvc.lock`` hash for ``data/prepared``), which starts ``xai_benchmark``. The last seen
hash is kept in a file next to the run folders; an unchanged hash skips the task, and a
skipped task emits no asset event.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import dag, task
from xai_bench_project import PROJECT, XAI_DATA



@dag(dag_id="xai_data_watch", schedule="@hourly", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
     catchup=False, tags=["xai-bench", "data"], doc_md=__doc__)
def xai_data_watch():
    @task(outlets=[XAI_DATA])
    def data_version_changed() -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from xai_bench.ops.pipeline import data_version

        current = data_version(PROJECT)
        state = os.path.join(PROJECT, "runs", ".data_version")
        previous = open(state).read().strip() if os.path.exists(state) else None
        if current == previous:
            raise AirflowSkipException(f"data version {current[:12]} unchanged")
        os.makedirs(os.path.dirname(state), exist_ok=True)
        with open(state, "w") as fh:
            fh.write(current)
        return current

    data_version_changed()


xai_data_watch()
