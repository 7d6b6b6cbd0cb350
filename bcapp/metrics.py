"""Prometheus metrics, correct across gunicorn workers.

With `BCAPP_METRICS_TOKEN` set, bcapp/gunicorn.py points `PROMETHEUS_MULTIPROC_DIR` at a fresh
directory before the workers start, so every worker writes its samples there and `/metrics`
adds them up (prometheus-client's multiprocess mode); elsewhere (tests, the CLI) the process's
own registry is used. Labels carry route templates and refusal reasons only, never a token, a
payload or an email.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

CALLBACKS = Counter(
    "bcapp_callbacks_total",
    "Callbacks answered, by callback and outcome (ok, or the refusal reason).",
    ["callback", "outcome"],
)
TOKEN_EXCHANGE = Histogram(
    "bcapp_token_exchange_seconds",
    "Time spent exchanging an auth code at BigCommerce's token endpoint.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20),
)
REDIS_ERRORS = Counter("bcapp_redis_errors_total", "Redis failures, by operation.", ["operation"])
INSTALLATIONS = Gauge(
    "bcapp_installations",
    "Stores with a record (installed or in their grace period), refreshed at most once a minute.",
    multiprocess_mode="mostrecent",
)
REQUEST_SECONDS = Histogram(
    "bcapp_request_seconds",
    "Time to answer a request, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25),
)

WEBHOOKS = Counter(
    "bcapp_webhooks_total",
    "Webhook events by scope and outcome: received (queued or acted on), duplicate, handled, "
    "retried, dead.",
    ["scope", "outcome"],
)
TASK_SECONDS = Histogram(
    "bcapp_task_seconds",
    "Background tasks: seconds from queueing to the start of a run (wait) and of the run itself.",
    ["task", "phase"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
STORE_API_RATE_LIMITED = Counter(
    "bcapp_store_api_rate_limited_total",
    "Answers of 429 from stores' APIs (REST and GraphQL), counted before bcapp waits or retries.",
)
GRAPHQL_COMPLEXITY = Histogram(
    "bcapp_graphql_complexity",
    "The complexity BigCommerce computed for each GraphQL call (X-Bc-Graphql-Complexity; "
    "over 10,000 is refused).",
    buckets=(10, 50, 100, 500, 1000, 2500, 5000, 7500, 10000),
)
ACCOUNT_API_CALLS = Counter(
    "bcapp_account_api_calls_total",
    "Account API (Unified Billing) calls, by outcome (ok, refused, over_budget, ...).",
    ["outcome"],
)
BILLING_CHANGES = Counter(
    "bcapp_billing_changes_total",
    "Changes of stores' subscriptions bcapp saw, by the new status (ended: access over).",
    ["status"],
)
BILLING_BUDGET_LEFT = Gauge(
    "bcapp_account_api_budget_left",
    "Account API calls bcapp may still make in the current sliding hour (every process).",
    multiprocess_mode="mostrecent",
)
SUBSCRIPTIONS = Gauge(
    "bcapp_subscriptions",
    "Stores' kept Unified Billing subscriptions by status, refreshed by each sweep.",
    ["status"],
    multiprocess_mode="mostrecent",
)
QUEUE_DEPTH = Gauge(
    "bcapp_queue_depth",
    "Tasks waiting in bcapp's queue, read at each scrape of /metrics.",
    multiprocess_mode="mostrecent",
)


def _registry() -> CollectorRegistry:
    """This process's registry, or the sum of every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def exposition() -> bytes:
    """Every metric in Prometheus text format, summed over workers in multiprocess mode."""
    return generate_latest(_registry())


def serve(host: str, port: int) -> None:
    """Serve the metrics over plain HTTP at host:port in a background thread: a task worker's
    own endpoint (`bcapp worker --metrics-address`), for a private network (no token)."""
    start_http_server(port, addr=host, registry=_registry())
