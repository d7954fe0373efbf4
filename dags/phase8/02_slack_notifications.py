"""Phase 8 · Slack notifications: Block Kit messages routed by channel through the Slack Web API.

Teaches: posting a Block Kit digest (header, fields, context) with `chat.postMessage` through SlackHook and the
`slack_api_default` connection (a bot token kept in the connection, never in code), naming the channel on every
message: one bot token reaches every channel the app was invited to, while the incoming webhook of a Slack app is
bound to the one channel it was created for and ignores a `channel` field, so it can't route. An `{"ok": false}`
answer (channel_not_found, invalid_auth) raises SlackApiError and the task fails and retries: no message is dropped
silently. SlackNotifier (the same Web API) is every task's `on_failure_callback` next to the platform's routed alert,
posting Block Kit to the team's channel when a task fails.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.slack.notifications.slack import SlackNotifier
from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.defaults import on_task_failure
from common.run_dates import batch_date

SLACK_CONN_ID = "slack_api_default"
DIGEST_CHANNEL = "#team-data-eng"
ORDERS_PER_DAY = 60

task_failed = SlackNotifier(
    slack_conn_id=SLACK_CONN_ID,
    channel=DIGEST_CHANNEL,
    text="{{ ti.dag_id }}.{{ ti.task_id }} failed in run {{ run_id }}",
    blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": ":x: {{ ti.dag_id }}.{{ ti.task_id }} failed"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Run*\n{{ run_id }}"},
                {"type": "mrkdwn", "text": "*Try*\n{{ ti.try_number }}"},
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "{{ exception }}"}]},
    ],
)


@task(retries=0)  # local computation: a failure here is not transient
def build_digest(params: dict[str, Any], ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    from common.order_report import daily_facts

    facts = daily_facts(batch_date(ds, dag_run), ORDERS_PER_DAY, params["bad_every"])
    if params["fail"]:
        raise RuntimeError("digest inputs unavailable (requested failure)")
    return facts


@task(retries=3, retry_delay=timedelta(seconds=30), execution_timeout=timedelta(minutes=2))
def post_digest(facts: dict[str, Any], ds: str | None = None, dag_run: Any = None, run_id: str | None = None) -> int:
    from common.notifications import report_blocks, send_slack

    day = batch_date(ds, dag_run)

    blocks = report_blocks(
        f"Daily orders {day}",
        {
            "Orders": facts["orders"],
            "Valid": facts["valid"],
            "Quarantined": facts["quarantined"],
            "Revenue": facts["revenue"],
        },
        note=f"run `{run_id}`",
    )
    send_slack(SLACK_CONN_ID, channel=DIGEST_CHANNEL, text=f"Daily orders {day}: {facts['valid']} valid", blocks=blocks)
    return len(blocks)


with platform_dag(
    __file__, __doc__, owner="data-eng", team="data-eng", severity="P3", tags=["notifications", "slack"],
    task_defaults={"on_failure_callback": [on_task_failure, task_failed]},
    description="Block Kit digests and failure notifications routed by channel through the Slack Web API",
    schedule="@daily",
    params={
        "bad_every": Param(10, type="integer", minimum=0),
        "fail": Param(False, type="boolean", description="fail the run to see the failure notification"),
    },
) as dag:
    post_digest(build_digest())
