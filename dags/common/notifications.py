"""Message building (Slack Block Kit, HTML email from Jinja templates) and delivery through Airflow connections.

Builders are pure and unit-tested; `send_slack` / `send_email` are the only functions that talk to the outside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SEVERITY_EMOJI = {
    "P1": ":rotating_light:",
    "P2": ":warning:",
    "P3": ":large_yellow_circle:",
    "P4": ":information_source:",
}
SLACK_TEXT_LIMIT = 3000  # Block Kit section text limit
SLACK_HEADER_LIMIT = 150  # Block Kit header (plain_text) limit


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_blocks(
    title: str, facts: Mapping[str, Any], *, link: str | None = None, note: str | None = None
) -> list[dict[str, Any]]:
    """Block Kit: a header, a two-column fields section of facts, an optional link button and a context note."""
    if not facts:
        raise ValueError("report_blocks needs at least one fact")
    fields = [{"type": "mrkdwn", "text": _clip(f"*{key}*\n{value}", 2000)} for key, value in facts.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, SLACK_HEADER_LIMIT)}}
    ]
    # Slack allows at most 10 fields per section block.
    for start in range(0, len(fields), 10):
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open in Airflow"}, "url": link}
                ],
            }
        )
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(note, SLACK_TEXT_LIMIT)}]})
    return blocks


def alert_blocks(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Block Kit for a failure alert built by common.alerting.build_alert."""
    severity = alert.get("severity", "P3")
    title = f"{SEVERITY_EMOJI.get(severity, '')} {severity} {alert.get('dag_id')}.{alert.get('task_id')} failed".strip()
    facts = {
        "DAG": alert.get("dag_id"),
        "Task": alert.get("task_id"),
        "Run": alert.get("run_id"),
        "Try": alert.get("try_number"),
        "Team": alert.get("team"),
        "Severity": severity,
    }
    return report_blocks(title, facts, note=f"Error: `{alert.get('error')}`" if alert.get("error") else None)


ALERT_EMAIL_TEMPLATE = """\
<h2>{% if page %}PAGE: {% endif %}{{ alert.severity }} failure in {{ alert.dag_id }}</h2>
<ul>
  <li>Task: {{ alert.task_id }}</li>
  <li>Run: {{ alert.run_id }} (try {{ alert.try_number }})</li>
  <li>Team: {{ alert.team }}</li>
  <li>Error: <code>{{ alert.error }}</code></li>
</ul>
"""


def render(template: str, **values: Any) -> str:
    """Render with autoescaping and StrictUndefined, so a missing value is an error that names it."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(**values)


def render_alert_email(alert: Mapping[str, Any], *, page: bool = False) -> tuple[str, str]:
    prefix = "[PAGE] " if page else ""
    subject = f"{prefix}[{alert.get('severity')}] {alert.get('dag_id')}.{alert.get('task_id')} failed"
    return subject, render(ALERT_EMAIL_TEMPLATE, alert=alert, page=page)


def send_slack(conn_id: str, *, channel: str, text: str, blocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Post to `channel` through the Slack Web API (chat.postMessage) with a `slack` connection (SlackHook: the bot
    token as password, extra `base_url` only off slack.com). Returns Slack's answer (channel id, ts).

    One bot token reaches every channel the app is in, so routing is the `channel` argument: an incoming webhook of
    a Slack app always posts to the one channel it was created for and ignores a `channel` field. An `{"ok": false}`
    answer (channel_not_found, not_in_channel, invalid_auth, ...) raises SlackApiError, so the task fails and
    retries rather than dropping the message.
    """
    if not channel:
        raise ValueError("send_slack needs a channel (#name or channel id)")
    from airflow.providers.slack.hooks.slack import SlackHook

    response = SlackHook(slack_conn_id=conn_id).client.chat_postMessage(
        channel=channel, text=text, blocks=[dict(b) for b in blocks]
    )
    return {"channel": response["channel"], "ts": response["ts"]}


def send_email(conn_id: str, *, to: str | Sequence[str], subject: str, html: str) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=to if isinstance(to, str) else list(to), subject=subject, html_content=html)
