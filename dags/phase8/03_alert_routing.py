"""Phase 8 · Alert routing: severity decides the channels, the `team:` tag decides who receives them.

Teaches: P1 pages on-call (PagerDuty-style email integration), posts to Slack #incidents and emails leadership; P2
posts to the team's Slack channel and emails the team; P3 posts to the team's channel only; P4 is logged only.
Severity and team come from DAG tags (`severity:P1`, `team:ml`) through common.alerting, the same code every DAG's
default `on_task_failure` callback uses. The Slack deliveries go through the Web API (`chat.postMessage` on the
`slack_api_default` bot token) with the routed channel on each message: a Slack app's incoming webhook posts to its
one channel whatever the routing says, so it can't tell #incidents from #team-ml. A channel the workspace lacks
(or the bot was not invited to) is an `{"ok": false}` answer that fails the delivery, never a silent drop.
`fire_drill` sends one test alert per requested severity; `guarded_step` fails on request so the real failure
callback routes by this DAG's tags.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from common.alerting import SEVERITIES
from common.dag_header import platform_dag

SLACK_CONN_ID = "slack_api_default"
SMTP_CONN_ID = "smtp_default"


@task
def routing_table(dag: Any = None) -> dict[str, list[dict[str, str]]]:
    """Where each severity would go for this DAG's team: visible in XCom for anyone checking the routing."""
    from dataclasses import asdict

    from common.alerting import route, team_from_tags

    team = team_from_tags(dag.tags)
    return {severity: [asdict(d) for d in route({"severity": severity, "team": team})] for severity in SEVERITIES}


@task(retries=2, execution_timeout=timedelta(minutes=2))
def fire_drill(params: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
    """One drill alert per requested severity, delivered on every routed channel; any failed delivery fails the task."""
    from common.alerting import build_alert, dispatch, platform_senders

    senders = platform_senders(slack_conn_id=SLACK_CONN_ID, smtp_conn_id=SMTP_CONN_ID)
    results: list[dict[str, Any]] = []
    for severity in params["severities"]:
        alert = {**build_alert(context), "severity": severity, "error": f"drill: {severity} test alert"}
        results.extend({**r, "severity": severity} for r in dispatch(alert, senders))
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise RuntimeError(f"{len(failed)} alert deliveries failed: {failed}")
    return results


@task(retries=0)
def guarded_step(params: dict[str, Any]) -> str:
    if params["fail"]:
        raise RuntimeError("guarded_step failed on request: the default callback routes this by the DAG's tags")
    return "ok"


with platform_dag(
    __file__, __doc__, owner="ml", team="ml", severity="P2", tags=["notifications", "alerting"],
    description="P1..P4 alert routing to on-call, Slack and email, by DAG tags", schedule=None,
    params={
        "severities": Param(
            list(SEVERITIES), type="array", items={"enum": list(SEVERITIES)}, description="drills to fire"
        ),
        "fail": Param(False, type="boolean", description="fail guarded_step to exercise on_task_failure"),
    },
) as dag:
    routing_table() >> fire_drill() >> guarded_step()
