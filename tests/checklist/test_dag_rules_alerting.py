"""checklist.dag_rules "Alert routing based on severity": judged by routing a real alert of each severity."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from checklist import dag_rules
from common import alerting

COVERED = ["Alert routing based on severity"]


def _rule() -> dag_rules.Rule:
    return next(run for _, item, run in dag_rules.RULES if item == "Alert routing based on severity")


def _ctx(dags: dict[str, object]) -> dag_rules.Context:
    return dag_rules.Context(SimpleNamespace(dags=dags), {})


def test_each_severity_reaches_its_own_channels() -> None:
    result = _rule()(_ctx({"phase8_03_alert_routing": object()}))
    assert result.ok, result.evidence
    assert "common.alerting.route: P1 → page_oncall, slack_incidents, email_leadership" in result.evidence
    assert "common.alerting.route: P4 → log" in result.evidence


def test_missing_routing_dag_fails() -> None:
    result = _rule()(_ctx({}))
    assert not result.ok
    assert "phase8_03_alert_routing missing" in result.evidence


def test_severities_routed_alike_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    # Routing where P2 and P3 reach the same channels is not severity-based.
    monkeypatch.setitem(alerting.ROUTES, "P3", alerting.ROUTES["P2"])
    result = _rule()(_ctx({"phase8_03_alert_routing": object()}))
    assert not result.ok
