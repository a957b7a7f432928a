"""Drift alerts through Airflow's own SMTP notifier, configured by an Airflow Connection.

The DAG's ``notify_drift`` task builds the alert with ``xai_bench.ops.drift_alert`` and hands it
to :func:`send_drift_alert`, which delivers it with the SMTP provider's ``SmtpNotifier``
(``apache-airflow-providers-smtp``, installed with Airflow). Connection (conn_type ``smtp``)::

    AIRFLOW_CONN_XAI_BENCH_ALERTS='{"conn_type": "smtp", "host": "mail.example.org", "port": 587,
        "login": "bot", "password": "...",
        "extra": {"from_email": "xai-bench@example.org", "to": "team@example.org"}}'

``host``/``port``/``login``/``password`` and the extras ``from_email``, ``disable_tls``,
``disable_ssl``, ``timeout``, ``retry_limit`` are the provider's own; ``to`` (one address or
several separated by ``,`` or ``;``) is this project's, used when the DAG param ``alert_to``
is empty.

The notifier's ``notify`` is called directly, not the notifier itself: calling it would
render ``subject`` and ``html_content`` as Jinja templates, and they carry text from the run
(model, data set and metric names, gate reasons) that must be sent as written.
"""

from __future__ import annotations

from typing import Any

__all__ = ["alert_recipients", "send_drift_alert"]


def alert_recipients(conn: Any, to: str | None = None) -> str:
    """``to`` when given, else the Connection's ``extra.to``; raises ValueError naming both when neither is set."""
    if to:
        return to
    found = (conn.extra_dejson or {}).get("to")
    if not found:
        raise ValueError(f"Airflow Connection {conn.conn_id!r} has no extra 'to' and the DAG param 'alert_to' is empty: "
                         "set one of them to the address(es) drift alerts go to.")
    return str(found)


def send_drift_alert(alert: Any, *, conn_id: str, context: Any, to: str | None = None) -> str | None:
    """Mail ``alert`` (an ``xai_bench.ops.drift_alert.DriftAlert``) through ``SmtpNotifier``; returns the
    recipients, or None when the Connection ``conn_id`` does not exist (alerting not configured)."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    recipients = alert_recipients(conn, to)
    notifier = SmtpNotifier(to=recipients, subject=alert.subject, html_content=alert.html, smtp_conn_id=conn_id,
                            custom_headers={"X-Xai-Bench-Alert": alert.level})
    notifier.notify(context)
    return recipients
