"""What an operator imports (issue 32, Build 6): docs/grafana-dashboard.json and
docs/prometheus-alerts.yml query only metrics bcapp really exposes (read from the registry
bcapp's modules register in, not from a list kept by hand), and cover what they promise."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY

from bcapp.service.wiring import Bcapp
from bcapp.simulator import SimulatorState
from tests.servers import REPO
from tests.test_store_client import service  # noqa: F401 - abc123 installed

# Prometheus's own series, written by the server for each scrape target (not bcapp's).
PROMETHEUS_OWN = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum",
            "_created"), "gauge": ("",), "summary": ("_count", "_sum", "_created")}


def exposed() -> set[str]:
    """Every series name bcapp's metrics expose, as a scrape shows them (a counter family
    `x` is `x_total`; a histogram is `x_bucket`, `x_count`, `x_sum`)."""
    import bcapp.metrics
    import bcapp.task_metrics  # noqa: F401 - the worker's measurements, registered on import

    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("bcapp_"):
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end():].lstrip()
        if following.startswith("(") or match.group().lower() in KEYWORDS:
            continue  # a function, or an operator
        names.add(match.group())
    return names


def dashboard_queries() -> list[str]:
    """Every query of docs/grafana-dashboard.json."""
    dashboard = json.loads((REPO / "docs/grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict[str, str]]:
    """The rules of docs/prometheus-alerts.yml, each as its keys (nested ones dotted):
    the file keeps to one shape, a quoted scalar per line, so no YAML library is needed."""
    rules: list[dict[str, str]] = []
    parent = ""
    for line in (REPO / "docs/prometheus-alerts.yml").read_text().splitlines():
        found = re.fullmatch(r"(\s*)(- )?([a-z_]+):\s*(.*)", line)
        if line.lstrip().startswith("#") or not found:
            continue
        indent, dash, key, value = found.groups()
        if dash and key == "alert":
            rules.append({})
        if not rules or len(indent) < 6:
            continue
        if not value:
            parent = key + "."
            continue
        name = key if len(indent) <= 8 or dash else parent + key
        quoted = re.fullmatch(r"'(.*)'", value)
        rules[-1][name] = quoted.group(1).replace("''", "'") if quoted else value
    return rules


def test_the_name_reader_finds_each_metric_and_nothing_else() -> None:
    """What makes the checks below able to fail: a misspelt metric is read as a name."""
    expr = ('histogram_quantile(0.95, sum by (le, task) (rate(bcapp_task_secs_bucket'
            '{phase="wait", task=~"bcapp.handle_event"}[5m]))) > 60 and up == 0')
    assert metric_names(expr) == {"bcapp_task_secs_bucket", "up"}
    assert "bcapp_task_secs_bucket" not in exposed()
    assert metric_names("deriv(max(bcapp_queue_depth)[15m:1m]) > 0") == {"bcapp_queue_depth"}


def test_the_dashboard_queries_only_metrics_bcapp_exposes_and_covers_each_topic() -> None:
    queries = dashboard_queries()
    known = exposed()
    used = set()
    for expr in queries:
        names = metric_names(expr)
        assert names, f"a query that names no metric: {expr}"
        assert names <= known, f"{expr} names {names - known}, which bcapp does not expose"
        used |= names
    assert {
        "bcapp_callbacks_total",  # callbacks by outcome
        "bcapp_request_seconds_bucket",  # request latency
        "bcapp_webhooks_total",  # webhooks by outcome
        "bcapp_queue_depth",  # queue depth
        "bcapp_task_seconds_bucket",  # task latency
        "bcapp_account_api_budget_left",  # budget use
        "bcapp_store_api_rate_limited_total",
    } <= used


def test_every_alert_rule_is_complete_and_names_real_metrics() -> None:
    rules = alert_rules()
    known = exposed() | PROMETHEUS_OWN
    assert len(rules) >= 6
    for rule in rules:
        required = {"alert", "expr", "for", "labels.severity", "annotations.summary"}
        assert required <= rule.keys(), rule
        names = metric_names(rule["expr"])
        assert names and names <= known, f"{rule['alert']}: {names - known} is not exposed"
    by_name = {rule["alert"]: metric_names(rule["expr"]) for rule in rules}
    expressions = {rule["alert"]: rule["expr"] for rule in rules}
    assert by_name["BcappDeadLettersRising"] == {"bcapp_webhooks_total"}
    assert 'outcome="dead"' in expressions["BcappDeadLettersRising"]
    assert by_name["BcappQueueBacklog"] == {"bcapp_queue_depth"}
    assert by_name["BcappStoreApiRateLimited"] == {"bcapp_store_api_rate_limited_total"}
    assert by_name["BcappRedisErrors"] == {"bcapp_redis_errors_total"}  # what /readyz reads
    assert by_name["BcappDown"] == {"up"}


def test_each_429_of_a_store_api_is_counted_for_the_alert(
    service: Bcapp, sim: SimulatorState  # noqa: F811 - the imported fixture
) -> None:
    """BcappStoreApiRateLimited's metric: two 429s (waited out and retried) count two."""
    before = REGISTRY.get_sample_value("bcapp_store_api_rate_limited_total") or 0.0
    sim.platform_429s = 2
    assert service.stores.client("abc123").get("v2/time")["time"] > 0
    after = REGISTRY.get_sample_value("bcapp_store_api_rate_limited_total")
    assert after == before + 2
