"""What a PromQL expression reads: its selectors, and the labels it groups by."""

from __future__ import annotations

import dataclasses

import promql_parser
from promql_parser import AggModifierType, AggregateExpr, Expr, VectorSelector

# Grafana's variables, replaced by values that make the query plain PromQL again
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$job": "conveyor-worker",
    "$queue": ".*",
    "$task": ".*",
}


@dataclasses.dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]  # the label names it matches on


@dataclasses.dataclass(frozen=True)
class Grouping:
    labels: frozenset[str]  # `by (...)`
    selectors: tuple[Selector, ...]  # what the aggregation reads


def parse(expr: str) -> Expr:
    """Parse, raising ValueError on a syntax error."""
    return promql_parser.parse(expr)


def from_grafana(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def selectors(expr: Expr) -> list[Selector]:
    found: list[Selector] = []

    def visit(node: Expr) -> None:
        if isinstance(node, VectorSelector):
            assert node.name, f"a selector without a metric name: {node}"
            names = frozenset(m.name for m in node.matchers.matchers)
            found.append(Selector(node.name, names))

    promql_parser.walk(expr, visit)
    return found


def groupings(expr: Expr) -> list[Grouping]:
    found: list[Grouping] = []

    def visit(node: Expr) -> None:
        if not isinstance(node, AggregateExpr) or node.modifier is None:
            return
        if node.modifier.type == AggModifierType.By:
            labels = frozenset(node.modifier.labels)
            found.append(Grouping(labels, tuple(selectors(node.expr))))

    promql_parser.walk(expr, visit)
    return found
