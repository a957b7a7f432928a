"""Airflow in the plugin tests: a throw-away AIRFLOW_HOME (unless one is set already, or Airflow
was imported before), examples off, and ``plugins/`` importable as Airflow makes it."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"

if "airflow" not in sys.modules and "AIRFLOW_HOME" not in os.environ:
    _home = tempfile.mkdtemp(prefix="xai-bench-airflow-")
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = _home
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))
