"""examples/observability/alerts.yml: Prometheus rules that load, say what to do, and read
only what conveyor exposes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .exported import Exposed, problems
from .promql import groupings, parse, selectors

RULES = Path(__file__).resolve().parents[2] / "examples" / "observability" / "alerts.yml"
SEVERITIES = {"warning", "critical"}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_is_an_alert_with_a_delay_a_severity_and_advice() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), names
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert all(text.strip() for text in rule["annotations"].values()), rule["alert"]


def test_the_rules_cover_what_the_issue_asks_to_alert_on() -> None:
    reads = {rule["alert"]: str(rule["expr"]) for rule in rules()}
    wanted = {
        "backlog age": "conveyor_queue_oldest_age_seconds",
        "failure ratio": 'conveyor_jobs_finished_total{outcome="failed"}',
        "no worker up": 'absent(up{job="conveyor-worker"} == 1)',
        "lease lost": 'outcome="lease_lost"',
        "failed jobs piling up": 'conveyor_queue_jobs{state="failed"}',
    }
    for what, text in wanted.items():
        assert any(text in expr for expr in reads.values()), f"no rule alerts on {what}"


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_each_expression_parses_and_reads_what_conveyor_exposes(
    rule: dict[str, Any], exposed: Exposed
) -> None:
    expr = parse(rule["expr"])
    assert selectors(expr), "reads no series"
    assert problems(selectors(expr), groupings(expr), exposed) == []
