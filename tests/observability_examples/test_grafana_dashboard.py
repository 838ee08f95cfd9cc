"""examples/observability/grafana-dashboard.json: importable, every panel queries, and the
queries read only what conveyor exposes, every public metric among them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .exported import PUBLIC, Exposed, family_of, labels_of, problems
from .promql import from_grafana, groupings, parse, selectors

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "examples" / "observability" / "grafana-dashboard.json"
)
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
GRID_WIDTH = 24


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = dashboard()["panels"]
    return found


def exprs() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_it_is_importable_with_a_prometheus_datasource_input() -> None:
    board = dashboard()
    assert isinstance(board["schemaVersion"], int)
    assert board["uid"]
    assert board["title"]
    (source,) = board["__inputs"]
    assert (source["name"], source["type"], source["pluginId"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )


def test_every_panel_queries_prometheus_and_fits_the_grid() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= GRID_WIDTH, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


@pytest.mark.parametrize("expr", exprs())
def test_each_query_parses_and_reads_what_conveyor_exposes(expr: str, exposed: Exposed) -> None:
    parsed = parse(from_grafana(expr))
    assert problems(selectors(parsed), groupings(parsed), exposed) == []


def test_the_variables_list_labels_conveyor_exposes(exposed: Exposed) -> None:
    queries = [
        v["query"]["query"] for v in dashboard()["templating"]["list"] if v["type"] == "query"
    ]
    assert queries
    for query in queries:
        match = re.fullmatch(r"label_values\((\w+)(\{.*\})?, (\w+)\)", query)
        assert match, query
        labels = labels_of(match[1], exposed)
        assert labels is not None, query
        assert match[3] in labels, query


def test_every_public_metric_is_on_the_dashboard() -> None:
    shown = {
        family_of(selector.metric)
        for expr in exprs()
        for selector in selectors(parse(from_grafana(expr)))
    }
    assert PUBLIC - shown == set()


def test_run_time_and_queue_wait_show_p50_and_p95_from_the_histograms() -> None:
    quantiles = {
        (q, metric)
        for expr in exprs()
        for q, metric in re.findall(r"histogram_quantile\((0\.\d+), .*?(\w+)_bucket", expr)
    }
    for metric in ("conveyor_job_duration_seconds", "conveyor_job_queue_wait_seconds"):
        assert {("0.5", metric), ("0.95", metric)} <= quantiles
