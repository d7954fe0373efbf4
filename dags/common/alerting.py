"""Failure alerts: severity and team come from DAG tags (`severity:P1`..`severity:P4`, `team:<name>`).

`on_task_failure` (every DAG's default failure callback) logs one structured line and delivers the alert on the
channels its severity routes to: P1 pages on-call, posts to #incidents and mails leadership; P2 posts to the
team's Slack channel and mails the team; P3 posts to the team's Slack channel; P4 is logged only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("airflow.platform.alerts")

SEVERITIES = ("P1", "P2", "P3", "P4")
DEFAULT_SEVERITY = "P3"
DEFAULT_TEAM = "platform"


def _tag_value(tags: Iterable[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


def severity_from_tags(tags: Iterable[str]) -> str:
    """`severity:P1` → P1; no tag → the default; an unknown level is an error, not a silent default."""
    value = _tag_value(tags, "severity:")
    if value is None:
        return DEFAULT_SEVERITY
    if value not in SEVERITIES:
        raise ValueError(f"tag severity:{value} is not one of {', '.join(SEVERITIES)}")
    return value


def team_from_tags(tags: Iterable[str]) -> str:
    return _tag_value(tags, "team:") or DEFAULT_TEAM


def build_alert(context: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict describing the failed task instance, independent of any channel."""
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    tags = sorted(getattr(dag, "tags", None) or [])
    exception = context.get("exception")
    return {
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or context.get("run_id"),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": str(context.get("logical_date")) if context.get("logical_date") else None,
        "severity": severity_from_tags(tags),
        "team": team_from_tags(tags),
        "error": repr(exception) if exception is not None else None,
    }


# --- Routing: which channels a severity reaches, and to whom (teams come from the `team:` tag) ---

LEADERSHIP_EMAIL = "leadership@example.com"
INCIDENTS_CHANNEL = "#incidents"


@dataclass(frozen=True)
class TeamContacts:
    slack_channel: str
    email: str
    pager_email: str  # PagerDuty-style email integration address: a mail here pages whoever is on call


TEAM_DIRECTORY: dict[str, TeamContacts] = {
    name: TeamContacts(f"#team-{name}", f"{name}-team@example.com", f"{name}-oncall@pager.example.com")
    for name in ("platform", "data-eng", "ml", "analytics", "data-quality", "orchestration", "security", "crm", "sales")
}

# Severity → channels, most urgent first. Every alert is also logged (see on_task_failure).
ROUTES: dict[str, tuple[str, ...]] = {
    "P1": ("page_oncall", "slack_incidents", "email_leadership"),
    "P2": ("slack_team", "email_team"),
    "P3": ("slack_team",),
    "P4": ("log",),
}


@dataclass(frozen=True)
class Delivery:
    channel: str  # a key of ROUTES' values
    kind: str  # "email", "slack" or "log": which sender delivers it
    target: str  # address, Slack channel, or logger name


def contacts_for(team: str) -> TeamContacts:
    """The team's contacts; a team missing from the directory is routed to the platform team rather than lost."""
    return TEAM_DIRECTORY.get(team) or TEAM_DIRECTORY[DEFAULT_TEAM]


def route(alert: Mapping[str, Any]) -> list[Delivery]:
    """Where an alert goes, from its severity and team. Pure: no sending."""
    severity = alert["severity"]
    if severity not in ROUTES:
        raise ValueError(f"alert severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    team = contacts_for(alert["team"])
    targets = {
        "page_oncall": Delivery("page_oncall", "email", team.pager_email),
        "slack_incidents": Delivery("slack_incidents", "slack", INCIDENTS_CHANNEL),
        "email_leadership": Delivery("email_leadership", "email", LEADERSHIP_EMAIL),
        "slack_team": Delivery("slack_team", "slack", team.slack_channel),
        "email_team": Delivery("email_team", "email", team.email),
        "log": Delivery("log", "log", log.name),
    }
    return [targets[channel] for channel in ROUTES[severity]]


Sender = Callable[[Delivery, Mapping[str, Any]], None]


def dispatch(alert: Mapping[str, Any], senders: Mapping[str, Sender]) -> list[dict[str, Any]]:
    """Deliver to every routed channel; one channel failing never stops the others. Returns one result per channel."""
    results: list[dict[str, Any]] = []
    for delivery in route(alert):
        sender = senders.get(delivery.kind)
        if sender is None:
            results.append({**asdict(delivery), "ok": False, "error": f"no sender for kind {delivery.kind!r}"})
            continue
        try:
            sender(delivery, alert)
            results.append({**asdict(delivery), "ok": True, "error": None})
        except Exception as error:  # a broken channel must not hide the alert on the others
            results.append({**asdict(delivery), "ok": False, "error": f"{type(error).__name__}: {error}"})
    return results


def log_sender(delivery: Delivery, alert: Mapping[str, Any]) -> None:
    log.warning("alert %s", json.dumps(dict(alert), sort_keys=True, default=str))


def platform_senders(slack_conn_id: str = "slack_api_default", smtp_conn_id: str = "smtp_default") -> dict[str, Sender]:
    """Senders backed by the platform's Slack Web API and SMTP connections.

    Slack deliveries go through chat.postMessage with the delivery's channel: one bot token routes to every channel,
    where a Slack app's incoming webhook would post each alert to its own fixed channel whatever the routing said.
    """
    from common.notifications import alert_blocks, render_alert_email, send_email, send_slack

    def slack(delivery: Delivery, alert: Mapping[str, Any]) -> None:
        text = f"[{alert['severity']}] {alert['dag_id']}.{alert['task_id']} failed"
        send_slack(slack_conn_id, channel=delivery.target, text=text, blocks=alert_blocks(alert))

    def email(delivery: Delivery, alert: Mapping[str, Any]) -> None:
        subject, html = render_alert_email(alert, page=delivery.channel == "page_oncall")
        send_email(smtp_conn_id, to=delivery.target, subject=subject, html=html)

    return {"slack": slack, "email": email, "log": log_sender}


def on_task_failure(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Default on_failure_callback: one structured log line, then delivery on every channel the severity routes to.

    Never raises: a callback error would hide the original failure. Delivery problems are logged per channel.
    """
    alert = build_alert(context)
    log.error("task_failed %s", json.dumps(alert, sort_keys=True))
    try:
        results = dispatch(alert, platform_senders())
    except Exception as error:
        log.error("alert routing failed: %s: %s", type(error).__name__, error)
        return []
    for result in results:
        if not result["ok"]:
            log.error("alert delivery failed on %s (%s): %s", result["channel"], result["target"], result["error"])
    return results
