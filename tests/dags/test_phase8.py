"""Phase 8 (notifications): real dag.test() runs that deliver through the local platform.

SMTP is a real SMTP server (aiosmtpd) that saves every message as .eml; Slack is the HTTP stand-ins process, a
stand-in for the Slack Web API (chat.postMessage with a bot token, a workspace with a fixed list of channels) that
records each accepted message with its channel (read back from /_recorded, kind slack_api) and each refused call
(kind slack_api_rejected, with Slack's error code).
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
import requests
from dag_run_helpers import get_dag, task_states, xcom_value
from test_runs_without_logical_date import RUN_AFTER


def _mails(smtp_service, since: float) -> list[email.message.EmailMessage]:
    directory = Path(smtp_service.extra["mail_dir"])
    files = sorted(p for p in directory.glob("*.eml") if p.stat().st_mtime >= since)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]


def _html(message) -> str:
    part = message.get_body(preferencelist=("html", "plain"))
    return part.get_content() if part is not None else ""


def _recorded(base_url: str, kind: str) -> list[dict]:
    return requests.get(f"{base_url}/_recorded", params={"kind": kind}, timeout=10).json()


def _slack_posts(base_url: str, run_id: str) -> list[dict]:
    """Messages of this run the Slack stand-in accepted, each through chat.postMessage; none through a webhook."""
    posts = [r for r in _recorded(base_url, "slack_api") if run_id in str(r["body"])]
    assert {(p["api"], p["path"]) for p in posts} <= {("chat.postMessage", "/slack/api/chat.postMessage")}
    assert [r for r in _recorded(base_url, "slack") if run_id in str(r["body"])] == [], "posted through a webhook"
    return posts


@pytest.fixture
def smtp(smtp_service, platform_connections):
    return smtp_service


@pytest.fixture
def slack(http_standins_service, platform_connections):
    return http_standins_service.url


@pytest.fixture
def slack_failure_notifier(dagbag, monkeypatch):
    """SlackNotifier renders its text and blocks in place, like SmtpNotifier (see failure_email_templates), and caches
    its SlackHook (so the connection it read first): restore the templates and drop the hook around each test that
    fails a phase8_02 task, as a worker parsing the DAG afresh would."""
    from airflow.providers.slack.notifications.slack import SlackNotifier

    task = get_dag(dagbag, "phase8_02_slack_notifications").get_task("build_digest")
    notifier = next(callback for callback in task.on_failure_callback if isinstance(callback, SlackNotifier))
    for field in notifier.template_fields:
        monkeypatch.setattr(notifier, field, getattr(notifier, field))
    assert "{{ run_id }}" in notifier.text, "the notifier was already rendered by an earlier run"
    notifier.__dict__.pop("hook", None)
    yield notifier
    notifier.__dict__.pop("hook", None)


@pytest.fixture
def failure_email_templates(dagbag, monkeypatch):
    """SmtpNotifier renders its subject and body in place. A worker parses the DAG afresh for each task, but the
    dag.test() runs here share one parsed DAG, so a second failure would resend the first one's rendered text:
    restore the templates after each test that fires the notifier."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    task = get_dag(dagbag, "phase8_01_email_notifications").get_task("check_thresholds")
    notifier = next(callback for callback in task.on_failure_callback if isinstance(callback, SmtpNotifier))
    for field in notifier.template_fields:
        monkeypatch.setattr(notifier, field, getattr(notifier, field))
    assert "{{ batch_date() }}" in notifier.subject, "the notifier was already rendered by an earlier run"
    return notifier


def test_email_report_is_rendered_from_the_template_and_received(dagbag, smtp):
    import time

    dag = get_dag(dagbag, "phase8_01_email_notifications")
    since = time.time() - 1
    run = dag.test(run_conf={"bad_every": 10, "max_bad_ratio": 0.2})
    assert run.state == "success", task_states(run)
    reports = [m for m in _mails(smtp, since) if m["Subject"].startswith("[Airflow] Daily orders report")]
    assert len(reports) == 1
    message = reports[0]
    assert message["To"] == "data-eng-team@example.com"
    body = _html(message)
    facts = xcom_value(run, "summarize_orders")
    assert run.run_id in body
    assert f'<tr><th align="left">Quarantined</th><td>{facts["quarantined"]}</td></tr>' in body
    assert f"{facts['revenue']:.2f}" in body


def test_failed_threshold_sends_the_failure_email_instead_of_the_report(dagbag, smtp, failure_email_templates):
    import time

    dag = get_dag(dagbag, "phase8_01_email_notifications")
    since = time.time() - 1
    run = dag.test(run_conf={"bad_every": 2, "max_bad_ratio": 0.2})
    assert task_states(run)["check_thresholds"] == "failed"
    assert task_states(run)["send_report"] == "upstream_failed"
    mails = [m for m in _mails(smtp, since) if run.run_id in _html(m)]
    subjects = [m["Subject"] for m in mails]
    assert len(mails) == 1 and subjects[0].startswith(
        "[Airflow] phase8_01_email_notifications.check_thresholds failed for"
    ), subjects
    failure = mails[0]
    assert "50.0% of orders quarantined" in _html(failure)


def test_slack_digest_is_block_kit(dagbag, slack):
    dag = get_dag(dagbag, "phase8_02_slack_notifications")
    run = dag.test(run_conf={"bad_every": 10, "fail": False})
    assert run.state == "success", task_states(run)
    posts = _slack_posts(slack, run.run_id)
    assert len(posts) == 1
    body = posts[0]["body"]
    assert body["channel"] == "#team-data-eng"
    assert body["channel_id"].startswith("C") and body["text"].startswith("Daily orders ")
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][1]["fields"]}
    facts = xcom_value(run, "build_digest")
    assert fields == {
        "*Orders*": "60",
        "*Valid*": str(facts["valid"]),
        "*Quarantined*": str(facts["quarantined"]),
        "*Revenue*": str(facts["revenue"]),
    }


def test_slack_failure_notifier_posts_block_kit(dagbag, slack, slack_failure_notifier):
    dag = get_dag(dagbag, "phase8_02_slack_notifications")
    run = dag.test(run_conf={"bad_every": 10, "fail": True})
    assert run.state == "failed"
    posts = [p for p in _slack_posts(slack, run.run_id) if p["body"].get("blocks", [{}])[0].get("type") == "header"]
    notifier = [p["body"] for p in posts if p["body"]["blocks"][0]["text"]["text"].startswith(":x:")]
    assert len(notifier) == 1
    assert notifier[0]["channel"] == "#team-data-eng"
    assert notifier[0]["blocks"][0]["text"]["text"] == ":x: phase8_02_slack_notifications.build_digest failed"
    assert notifier[0]["blocks"][2]["elements"][0]["text"] == "digest inputs unavailable (requested failure)"
    # The platform's routed alert (P3 → the team channel) fired as well.
    routed = [p["body"] for p in posts if p["body"]["text"].startswith("[P3]")]
    assert [r["channel"] for r in routed] == ["#team-data-eng"]


def test_alert_routing_delivers_each_severity_to_its_channels(dagbag, slack, smtp):
    import time

    dag = get_dag(dagbag, "phase8_03_alert_routing")
    since = time.time() - 1
    run = dag.test(run_conf={"severities": ["P1", "P2", "P3", "P4"], "fail": False})
    assert run.state == "success", task_states(run)
    results = xcom_value(run, "fire_drill")
    assert all(r["ok"] for r in results)
    assert [(r["severity"], r["channel"]) for r in results] == [
        ("P1", "page_oncall"),
        ("P1", "slack_incidents"),
        ("P1", "email_leadership"),
        ("P2", "slack_team"),
        ("P2", "email_team"),
        ("P3", "slack_team"),
        ("P4", "log"),
    ]
    posts = _slack_posts(slack, run.run_id)
    slack_by_severity = sorted((p["body"]["text"][1:3], p["body"]["channel"]) for p in posts)
    assert slack_by_severity == [("P1", "#incidents"), ("P2", "#team-ml"), ("P3", "#team-ml")]
    mails = [m for m in _mails(smtp, since) if run.run_id in _html(m)]
    assert sorted((m["Subject"].split("]")[0] + "]", m["To"]) for m in mails) == sorted(
        [
            ("[PAGE]", "ml-oncall@pager.example.com"),
            ("[P1]", "leadership@example.com"),
            ("[P2]", "ml-team@example.com"),
        ]
    )
    assert xcom_value(run, "routing_table")["P4"] == [
        {"channel": "log", "kind": "log", "target": "airflow.platform.alerts"}
    ]


def test_a_real_failure_is_routed_by_the_dag_tags(dagbag, slack, smtp):
    import time

    dag = get_dag(dagbag, "phase8_03_alert_routing")
    since = time.time() - 1
    run = dag.test(run_conf={"severities": [], "fail": True})
    assert task_states(run)["guarded_step"] == "failed"
    # The DAG is tagged severity:P2 and team:ml: the default on_task_failure posts to #team-ml and mails the team.
    posts = [p for p in _slack_posts(slack, run.run_id) if "guarded_step failed" in p["body"]["text"]]
    assert [(p["body"]["text"][:4], p["body"]["channel"]) for p in posts] == [("[P2]", "#team-ml")]
    mails = [m for m in _mails(smtp, since) if "guarded_step failed" in m["Subject"]]
    assert [m["To"] for m in mails] == ["ml-team@example.com"]


def test_a_channel_the_workspace_lacks_fails_the_delivery_with_channel_not_found(dagbag, slack, smtp, monkeypatch, caplog):
    """Routing to a channel Slack doesn't have is an `{"ok": false, "error": "channel_not_found"}` answer: the drill
    task fails (and would retry) instead of dropping the alert; nothing lands in any channel."""
    from common import alerting

    ml = alerting.TEAM_DIRECTORY["ml"]
    monkeypatch.setitem(alerting.TEAM_DIRECTORY, "ml", alerting.TeamContacts("#team-ml-archived", ml.email, ml.pager_email))
    dag = get_dag(dagbag, "phase8_03_alert_routing")
    monkeypatch.setattr(dag.get_task("fire_drill"), "retries", 0)  # the same answer on every try; keep the test quick
    run = dag.test(run_conf={"severities": ["P3"], "fail": False})
    assert task_states(run)["fire_drill"] == "failed"
    assert task_states(run)["guarded_step"] == "upstream_failed"
    assert "channel_not_found" in caplog.text and "#team-ml-archived" in caplog.text
    assert _slack_posts(slack, run.run_id) == []
    refused = [r for r in _recorded(slack, "slack_api_rejected") if r.get("channel") == "#team-ml-archived"]
    assert refused and {r["error"] for r in refused} == {"channel_not_found"}


def test_a_wrong_bot_token_fails_the_post_with_invalid_auth(dagbag, slack, monkeypatch, caplog, slack_failure_notifier):
    """A bot token Slack doesn't know is `{"ok": false, "error": "invalid_auth"}`: post_digest fails, nothing posted."""
    import json
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_SLACK_API_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps({**conn, "password": "xoxb-not-this-workspace"}))
    dag = get_dag(dagbag, "phase8_02_slack_notifications")
    monkeypatch.setattr(dag.get_task("post_digest"), "retries", 0)
    run = dag.test(run_conf={"bad_every": 10, "fail": False})
    assert task_states(run)["post_digest"] == "failed"
    assert "invalid_auth" in caplog.text
    assert _slack_posts(slack, run.run_id) == []


def test_a_run_without_a_logical_date_dates_the_report_and_the_failure_email(dagbag, smtp, failure_email_templates):
    """`{{ ds }}` is undefined in an undated run; `{{ batch_date() }}` gives run_after's UTC day to the report's
    subject and body and to the SmtpNotifier's failure subject, so neither e-mail breaks."""
    import time
    from datetime import timedelta

    dag = get_dag(dagbag, "phase8_01_email_notifications")
    since = time.time() - 1
    ok = dag.test(logical_date=None, run_after=RUN_AFTER, run_conf={"bad_every": 10, "max_bad_ratio": 0.2})
    assert ok.logical_date is None
    assert ok.state == "success", task_states(ok)
    (report,) = [m for m in _mails(smtp, since) if ok.run_id in _html(m)]
    assert report["Subject"] == "[Airflow] Daily orders report 2026-03-09"  # Monday in UTC, Sunday in New York
    assert "<h2>Daily orders report for 2026-03-09</h2>" in _html(report)

    failing = dag.test(logical_date=None, run_after=RUN_AFTER + timedelta(minutes=1), run_conf={"bad_every": 2})
    assert failing.logical_date is None and failing.run_id != ok.run_id
    assert task_states(failing)["check_thresholds"] == "failed"
    (failure,) = [m for m in _mails(smtp, since) if failing.run_id in _html(m)]
    assert failure["Subject"] == "[Airflow] phase8_01_email_notifications.check_thresholds failed for 2026-03-09"
    assert "50.0% of orders quarantined" in _html(failure)
