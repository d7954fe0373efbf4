from __future__ import annotations

import pytest

from common.alerting import (
    INCIDENTS_CHANNEL,
    LEADERSHIP_EMAIL,
    TEAM_DIRECTORY,
    build_alert,
    dispatch,
    route,
    severity_from_tags,
    team_from_tags,
)


def _targets(severity: str, team: str = "ml") -> list[tuple[str, str, str]]:
    return [(d.channel, d.kind, d.target) for d in route({"severity": severity, "team": team})]


def test_p1_pages_oncall_posts_incidents_and_mails_leadership():
    assert _targets("P1") == [
        ("page_oncall", "email", TEAM_DIRECTORY["ml"].pager_email),
        ("slack_incidents", "slack", INCIDENTS_CHANNEL),
        ("email_leadership", "email", LEADERSHIP_EMAIL),
    ]


def test_p2_goes_to_team_slack_and_team_email():
    assert _targets("P2", "data-eng") == [
        ("slack_team", "slack", "#team-data-eng"),
        ("email_team", "email", "data-eng-team@example.com"),
    ]


def test_p3_is_team_slack_only_and_p4_log_only():
    assert _targets("P3") == [("slack_team", "slack", "#team-ml")]
    assert [(c, k) for c, k, _ in _targets("P4")] == [("log", "log")]


def test_unknown_team_is_routed_to_platform_not_lost():
    assert _targets("P3", "nobody") == [("slack_team", "slack", "#team-platform")]


def test_unknown_severity_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'P9'"):
        route({"severity": "P9", "team": "ml"})
    with pytest.raises(ValueError, match="severity:P0"):
        severity_from_tags(["severity:P0"])


def test_tags_give_severity_and_team_with_defaults():
    assert severity_from_tags(["team:ml", "severity:P1"]) == "P1"
    assert severity_from_tags([]) == "P3"
    assert team_from_tags(["x", "team:analytics"]) == "analytics"
    assert team_from_tags([]) == "platform"


def test_dispatch_delivers_every_channel_and_a_broken_one_does_not_stop_the_rest():
    sent: list[tuple[str, str]] = []

    def slack(delivery, alert):
        raise ConnectionError("webhook down")

    def email(delivery, alert):
        sent.append((delivery.channel, delivery.target))

    results = dispatch({"severity": "P1", "team": "ml"}, {"slack": slack, "email": email})
    assert sent == [("page_oncall", TEAM_DIRECTORY["ml"].pager_email), ("email_leadership", LEADERSHIP_EMAIL)]
    assert [(r["channel"], r["ok"]) for r in results] == [
        ("page_oncall", True),
        ("slack_incidents", False),
        ("email_leadership", True),
    ]
    assert results[1]["error"] == "ConnectionError: webhook down"


def test_dispatch_reports_a_missing_sender():
    results = dispatch({"severity": "P4", "team": "ml"}, {})
    assert results[0]["ok"] is False and "no sender for kind 'log'" in results[0]["error"]


def test_build_alert_reads_the_context():
    class Ti:
        dag_id, task_id, run_id, try_number = "d", "t", "r", 2

    class Dag:
        dag_id, tags = "d", {"severity:P2", "team:ml"}

    alert = build_alert({"ti": Ti(), "dag": Dag(), "exception": ValueError("boom")})
    assert alert == {
        "dag_id": "d",
        "task_id": "t",
        "run_id": "r",
        "try_number": 2,
        "logical_date": None,
        "severity": "P2",
        "team": "ml",
        "error": "ValueError('boom')",
    }


def test_every_team_tagged_in_the_dag_library_has_contacts():
    import re
    from pathlib import Path

    dags = Path(__file__).resolve().parents[2] / "dags"
    teams = {m for path in dags.glob("phase*/*.py") for m in re.findall(r'"team:([a-z0-9-]+)"', path.read_text())}
    assert teams, "no team tags found"
    assert teams <= set(TEAM_DIRECTORY), f"teams without contacts: {sorted(teams - set(TEAM_DIRECTORY))}"
