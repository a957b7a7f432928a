"""A Connection's credentials (from Airflow's store or a secrets backend, not only from an
``AIRFLOW_CONN_*`` variable) join xai-bench's redaction policy when the hook hands them out,
so no file xai-bench writes in that task holds them (issue 12, item 1)."""

from __future__ import annotations

import json

from xai_bench.secrets import REDACTED, known_secrets, redact_known

KEY = "sk-hookleak-0123456789abcdef"
HEADER = "Bearer hookleak-header-0123456789"


def test_the_hook_registers_what_it_hands_to_litellm():
    from airflow.sdk import Connection
    from xai_bench_hooks import LiteLLMConnectionHook

    conn = Connection(conn_id="from_the_store", conn_type="litellm", password=KEY, host="https://api.example.com/v1",
                      extra=json.dumps({"headers": {"Authorization": HEADER, "X-Team": "xai-team-name"}}))
    assert KEY not in known_secrets()
    kwargs = LiteLLMConnectionHook(conn.conn_id, connection=conn).get_conn()
    assert kwargs["api_key"] == KEY  # litellm still gets the key
    assert {KEY, HEADER} <= known_secrets() and "xai-team-name" not in known_secrets()
    assert redact_known(f"key={KEY}; auth={HEADER}; team=xai-team-name") == f"key={REDACTED}; auth={REDACTED}; team=xai-team-name"
