"""What a drift alert says (xai_bench.ops.drift_alert), from gate.json documents."""

from __future__ import annotations

import pytest

from xai_bench.ops.drift_alert import drift_alert, failing_rows, warning_rows


def _row(metric, verdict, worse=None, tol=0.05, **kw):
    return {"model": "oracle:@rationale", "dataset": "paper", "method": "gsmile", "metric": metric,
            "verdict": verdict, "mean_worse": worse, "tolerance": tol, **kw}


def _gate(verdict, *rows):
    return {"verdict": verdict, "baseline": "configs/baseline/metrics.json", "report": {"rows": list(rows)}}


def test_a_failing_gate_names_its_failing_and_missing_rows_only():
    gate = _gate("fail", _row("att_auroc", "fail", 0.2, reason="worse by 0.2"), _row("att_f1", "pass", 0.0),
                 *[_row(m, "missing", method="lime", reason="oracle:@rationale/paper/lime not in the current run")
                   for m in ("att_acc", "att_f1")])
    alert = drift_alert(gate, run_id="manual__1", report_link=["runs/x/report.html", "http://127.0.0.1:5000/#/r"])
    assert alert.level == "fail" and len(alert.rows) == len(failing_rows(gate)) == 3
    assert alert.subject == "[xai-bench] drift gate FAILED for run manual__1: 3 row(s)"
    assert "fail: oracle:@rationale / paper / gsmile / att_auroc (mean_worse 0.2, tolerance 0.05): worse by 0.2" \
        in alert.text
    # a whole missing cell is one line naming its metrics
    assert "missing: oracle:@rationale / paper / lime: 2 metrics (att_acc, att_f1)" in alert.text
    assert "att_f1 (mean_worse 0" not in alert.text  # the passing row
    assert "runs/x/report.html" in alert.text and 'href="http://127.0.0.1:5000/#/r"' in alert.html


def test_a_passing_gate_warns_past_the_share_of_tolerance():
    gate = _gate("pass", _row("att_auroc", "pass", 0.03), _row("att_f1", "pass", 0.02),
                 _row("sufficiency", "insufficient", 0.04))
    assert [r["metric"] for r in warning_rows(gate)] == ["att_auroc", "sufficiency"]
    alert = drift_alert(gate, run_id="r", report_link="report.html")
    assert alert.level == "warning" and "2 metric(s) past 0.5 of tolerance" in alert.subject
    assert drift_alert(gate, run_id="r", warn_share=0.9) is None
    assert drift_alert(_gate("pass", _row("att_auroc", "pass", 0.0)), run_id="r") is None
    assert drift_alert({"verdict": "no-baseline", "baseline": None, "passed": True}, run_id="r") is None
    with pytest.raises(ValueError, match="'warn_share' parameter"):
        warning_rows(gate, 0)


def test_run_text_is_escaped_in_html_and_stripped_of_control_characters():
    gate = _gate("fail", _row("att_auroc", "fail", 0.2, model="<script>x</script>\x1b[31m", reason="a\x07b"))
    alert = drift_alert(gate, run_id="run\nInjected-Header: x", report_link="r")
    assert "\n" not in alert.subject and "Injected-Header: x" in alert.subject
    assert "<script>" not in alert.html and "&lt;script&gt;" in alert.html
    assert "\x1b" not in alert.text and "\x07" not in alert.html
