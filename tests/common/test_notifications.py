from __future__ import annotations

import jinja2
import pytest

from common.notifications import alert_blocks, render, render_alert_email, report_blocks


def test_report_blocks_are_valid_block_kit_shapes():
    blocks = report_blocks("Daily", {"Orders": 3, "Revenue": 12.5}, link="http://x/run", note="run r1")
    assert [b["type"] for b in blocks] == ["header", "section", "actions", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Daily"}
    assert blocks[1]["fields"] == [
        {"type": "mrkdwn", "text": "*Orders*\n3"},
        {"type": "mrkdwn", "text": "*Revenue*\n12.5"},
    ]
    assert blocks[2]["elements"][0]["url"] == "http://x/run"


def test_report_blocks_split_fields_at_ten_and_clip_the_header():
    blocks = report_blocks("x" * 200, {f"k{i}": i for i in range(12)})
    assert len(blocks[0]["text"]["text"]) == 150
    assert [len(b["fields"]) for b in blocks if b["type"] == "section"] == [10, 2]


def test_report_blocks_need_facts():
    with pytest.raises(ValueError, match="at least one fact"):
        report_blocks("t", {})


def test_alert_blocks_and_email_carry_the_alert():
    alert = {
        "severity": "P1",
        "dag_id": "d",
        "task_id": "t",
        "run_id": "r",
        "try_number": 1,
        "team": "ml",
        "error": "E<1>",
    }
    blocks = alert_blocks(alert)
    assert blocks[0]["text"]["text"] == ":rotating_light: P1 d.t failed"
    subject, html = render_alert_email(alert, page=True)
    assert subject == "[PAGE] [P1] d.t failed"
    assert "PAGE: P1 failure in d" in html and "E&lt;1&gt;" in html  # autoescaped


def test_render_names_a_missing_value():
    with pytest.raises(jinja2.UndefinedError, match="missing"):
        render("{{ missing }}")
