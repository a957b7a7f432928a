"""Facts both DAG files share: the project folder and the ``xai_data`` asset.

It sits in plugins/ because Airflow puts the plugins folder on ``sys.path`` in every process
that parses or runs a DAG (the dags folder it does not). It registers no plugin. Importing
it is cheap: no xai_bench import, no I/O, one Asset object.
"""

from __future__ import annotations

import os

from airflow.sdk import Asset

__all__ = ["PROJECT", "XAI_DATA"]

# $XAI_BENCH_HOME, else the checkout that holds plugins/ and dags/ (where data/, configs/, runs/ are).
PROJECT = os.environ.get("XAI_BENCH_HOME", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XAI_DATA = Asset(name="xai_data", uri=f"file://{PROJECT}/data/prepared")
