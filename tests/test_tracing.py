"""Traces (issue 32, Build 1-3, Acceptance 1-2; docs/tracing.md): off and never imported by
bcapp without OTEL_*; on, one trace from a webhook delivery in gunicorn to its handler's
store-API and Redis calls in a `bcapp worker` process, with nothing secret in any span, and log
lines that name the trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry import trace
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from bcapp import tracing
from bcapp.broker import HANDLE_EVENT, BrokerUnavailable
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.tracing import tasks as traced_tasks
from bcapp.tracing.redaction import RedactingExporter
from bcapp.tracing.tasks import BcappCeleryInstrumentor
from bcapp.tracing.web import instrument_app
from tests.conftest import CLIENT_SECRET
from tests.helpers import auth_query, signed
from tests.servers import REPO, environment_for, gunicorn, redis_server
from tests.test_worker_process import delivery, post, worker_process
from tests.workers import wait_until

# Records which module asked for each OpenTelemetry module: the first frame outside the import
# machinery. redis-py imports OpenTelemetry's metrics API by itself once it is installed; what
# bcapp controls is that no module of bcapp asks for any.
IMPORTERS = r"""
import json, os, sys
asked = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            frame = sys._getframe(1)
            while frame and frame.f_code.co_filename.startswith("<frozen"):
                frame = frame.f_back
            asked.append([name, frame.f_globals.get("__name__", "?") if frame else "?"])
        return None
sys.meta_path.insert(0, Watch())
import bcapp.web, bcapp.worker, bcapp.cli, bcapp.logs, bcapp.gunicorn
from bcapp import tracing
tracing.start("web")
print(json.dumps({"asked": asked, "started": tracing.started(),
                  "loaded": sorted(m for m in sys.modules if m.startswith("opentelemetry"))}))
"""


def imports_with(*envs: dict[str, str]) -> list[dict[str, Any]]:
    """What fresh interpreters importing bcapp's entry modules, one under each of `envs`
    (side by side), imported."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "BC"))}
    running = [
        subprocess.Popen(
            [sys.executable, "-c", IMPORTERS], env=clean | env, cwd=REPO, text=True,
            stdout=subprocess.PIPE,
        )
        for env in envs
    ]
    outputs = [process.communicate(timeout=60)[0] for process in running]
    assert [process.returncode for process in running] == [0] * len(envs)
    return [json.loads(output.splitlines()[-1]) for output in outputs]


def test_without_otel_variables_bcapp_imports_nothing_of_opentelemetry() -> None:
    off, on = imports_with({}, {"OTEL_TRACES_EXPORTER": "console"})
    assert off["started"] is False
    by_bcapp = [(name, importer) for name, importer in off["asked"] if importer.startswith("bcapp")]
    assert by_bcapp == []
    assert not [m for m in off["loaded"] if m.startswith(("opentelemetry.sdk.trace",
                                                         "opentelemetry.instrumentation"))]
    # The control: the same interpreter with the variable set does load them, asked by bcapp.
    assert on["started"] is True
    assert ["opentelemetry.instrumentation.celery", "bcapp.tracing.tasks"] in on["asked"]
    assert "opentelemetry.sdk.trace" in on["loaded"]


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "shop"}, False),  # names the service; turns nothing on
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_the_standard_variables_turn_traces_on(env: dict[str, str], on: bool) -> None:
    assert tracing.wanted(env) is on


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A tracer provider of this test's own (never the global one), exporting through bcapp's
    redaction into memory."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(exported)))
    yield provider, exported
    provider.shutdown()


def test_a_task_published_by_name_has_its_span_around_the_send(
    spans: tuple[TracerProvider, InMemorySpanExporter], make_service: Any, tmp_path: Path
) -> None:
    """Celery's own instrumentation keeps no publish span for a task sent by name: dropped when
    its signal handler returns, it ends whenever it is collected (measured outside pytest: before
    the LPUSH, which was not under it), and a refused send is never an error (docs/tracing.md)."""
    provider, exported = spans
    service = make_service()
    outer = provider.get_tracer("test")
    kwargs = {"run_id": "r" * 32, "handler": "h.f", "event": {"store_hash": "abc123",
              "scope": "store/order/created", "data": {"secret": "x" * 40}}}
    with redis_server(tmp_path) as broker:  # a broker that goes away once the worker is connected
        down = make_service(broker_url=broker)
        down.queue.publish(HANDLE_EVENT, kwargs, "c" * 32)
    RedisInstrumentor().instrument(tracer_provider=provider)
    try:
        BcappCeleryInstrumentor().instrument(tracer_provider=provider)
        with outer.start_as_current_span("request") as request_span:
            service.queue.publish(HANDLE_EVENT, kwargs, "b" * 32)
            assert trace.get_current_span() is request_span
            with pytest.raises(BrokerUnavailable):
                down.queue.publish(HANDLE_EVENT, kwargs, "c" * 32)
            traced_tasks.end_unsent()  # as the request's end does (bcapp/tracing/web.py)
            assert trace.get_current_span() is request_span
    finally:
        BcappCeleryInstrumentor().uninstrument()
        RedisInstrumentor().uninstrument()
    finished = exported.get_finished_spans()
    sent, unsent = [span for span in finished if span.name == "apply_async/bcapp.handle_event"]
    lpush = next(span for span in finished if span.name == "LPUSH")
    assert lpush.parent is not None and lpush.parent.span_id == sent.context.span_id
    assert sent.start_time <= lpush.start_time and lpush.end_time <= sent.end_time
    assert sent.attributes["bcapp.store_hash"] == "abc123"
    assert sent.attributes["bcapp.scope"] == "store/order/created"
    assert unsent.status.status_code is StatusCode.ERROR
    request = next(span for span in finished if span.name == "request")
    assert request.attributes["bcapp.store_hash"] == "abc123"
    assert "x" * 40 not in json.dumps([json.loads(span.to_json()) for span in finished])


def test_requests_are_traced_with_their_id_and_without_query_strings(
    spans: tuple[TracerProvider, InMemorySpanExporter], make_app: Any
) -> None:
    provider, exported = spans
    app = make_app()
    assert instrument_app(app, provider)
    payload = signed()
    client = app.test_client()
    loaded = client.get("/bigcommerce/load?signed_payload_jwt=" + payload)
    refused = client.get("/bigcommerce/load?signed_payload_jwt=not.a.jwt-" + "q" * 40)
    client.get("/healthz")
    found = {span.attributes["bcapp.request_id"]: span for span in exported.get_finished_spans()}
    assert set(found) == {loaded.headers["X-Request-ID"], refused.headers["X-Request-ID"]}
    ok, bad = found[loaded.headers["X-Request-ID"]], found[refused.headers["X-Request-ID"]]
    assert ok.name == "GET /bigcommerce/load" and ok.attributes["http.route"] == "/bigcommerce/load"
    assert bad.attributes["http.status_code"] == refused.status_code == 401
    assert bad.attributes["bcapp.outcome"] == "jwt_DecodeError"  # bcapp's reason for it
    everything = json.dumps([json.loads(span.to_json()) for span in found.values()])
    assert payload not in everything and "q" * 40 not in everything
    values = [str(value) for span in found.values() for value in span.attributes.values()]
    assert values and all("?" not in value for value in values)


RECEIVERS = """
import logging, os
from pathlib import Path
from bcapp import webhooks

@webhooks.on("store/order/created")
def order_created(event):
    store = event.api.get("v2/store")
    logging.getLogger("bcapp.handlers").warning("handled order for store=%s", store["id"])
    (Path(os.environ["EVENTS_OUT"]) / "done").write_text(str(event.data["id"]))
"""


def span_lines(log: Path) -> list[dict[str, Any]]:
    """The console exporter's spans in a process's output (one JSON object a line)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"name"')]


def json_lines(log: Path) -> list[dict[str, Any]]:
    """bcapp's JSON log lines in a process's output."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"time"')]


@pytest.mark.slow
def test_one_trace_from_a_webhook_delivery_to_its_handler_across_processes(
    settings: Settings, sim: SimulatorState, tmp_path: Path
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "handlers_under_test.py").write_text(RECEIVERS)
    out = tmp_path / "out"
    out.mkdir()
    env = environment_for(settings) | {
        "BCAPP_RECEIVERS": "handlers_under_test",
        "PYTHONPATH": f"{tmp_path / 'pkg'}{os.pathsep}{REPO}",
        "EVENTS_OUT": str(out),
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "LOG_FORMAT": "json",
    }
    web_log, worker_log = tmp_path / "g.log", tmp_path / "w.log"
    query = auth_query(sim)
    with gunicorn(env, web_log, workers=1) as url, worker_process(env, worker_log):
        installed = requests.get(url + "/bigcommerce/auth?" + query, allow_redirects=False,
                                 timeout=10)
        assert installed.status_code == 302
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 2, timeout=30, what="the sync")
        message = delivery("store/order/created", 7, "msg_trace", "t" * 40)
        answered = post(url, message)
        assert answered.json() == {"status": "queued"}
        wait_until(lambda: (out / "done").exists(), timeout=30, what="the handler")
        wait_until(lambda: any(span["name"] == "run/bcapp.handle_event"
                               for span in span_lines(worker_log)), timeout=10, what="its span")
    web, worker = span_lines(web_log), span_lines(worker_log)
    by_id = {span["context"]["span_id"]: span for span in web + worker}

    def one(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
        [found] = [span for span in spans if span["name"] == name]
        return found

    def trace_of(span: dict[str, Any]) -> list[dict[str, Any]]:
        return [s for s in web + worker if s["context"]["trace_id"] == span["context"]["trace_id"]]

    # The delivery: web request -> publish -> run -> the handler's store API and Redis calls.
    delivered = one(web, "POST /bigcommerce/webhooks")
    assert delivered["resource"]["attributes"]["service.name"] == "bcapp-web"
    assert delivered["attributes"]["http.route"] == "/bigcommerce/webhooks"
    assert delivered["attributes"]["bcapp.request_id"] == answered.headers["X-Request-ID"]
    assert delivered["attributes"]["bcapp.store_hash"] == "abc123"
    published = one(web, "apply_async/bcapp.handle_event")
    assert published["parent_id"] == delivered["context"]["span_id"]
    run = one(worker, "run/bcapp.handle_event")
    assert run["resource"]["attributes"]["service.name"] == "bcapp-worker"
    assert run["parent_id"] == published["context"]["span_id"]
    assert run["attributes"]["bcapp.scope"] == "store/order/created"
    assert run["attributes"]["bcapp.outcome"] == "handled"
    in_trace = trace_of(delivered)
    store_api = [s for s in in_trace if s["kind"] == "SpanKind.CLIENT"
                 and "/v2/store" in str(s["attributes"].get("http.url"))]
    assert store_api and store_api[0]["resource"]["attributes"]["service.name"] == "bcapp-worker"
    assert any(s["attributes"].get("db.system") == "redis" and s in worker for s in in_trace)
    ancestor = store_api[0]
    while ancestor["parent_id"] in by_id and ancestor is not run:
        ancestor = by_id[ancestor["parent_id"]]
    assert ancestor is run, "the store-API call is under the run's span"
    # The install and its follow-up task: one trace too.
    install = one(web, "GET /bigcommerce/auth")
    synced = one(worker, "run/bcapp.sync_store")
    assert synced["context"]["trace_id"] == install["context"]["trace_id"]
    assert any("/v3/hooks" in str(s["attributes"].get("http.url")) for s in trace_of(install))
    # Logs join traces: the handler's line names the run's trace and one of its spans.
    [handled] = [line for line in json_lines(worker_log) if "handled order" in line["message"]]
    assert handled["trace_id"] == run["context"]["trace_id"].removeprefix("0x")
    assert "0x" + handled["span_id"] in by_id
    # Nothing secret in any span: no client secret, code, token, signed body or query string.
    secrets = [CLIENT_SECRET, *sim.issued_secrets, message[0].decode(),
               message[1]["webhook-signature"], "t" * 40, query]
    assert sim.issued_secrets, "the codes and tokens handed out are known"
    for span in web + worker:
        values = [str(value) for value in span["attributes"].values()]
        values += [str(v) for event in span["events"] for v in event["attributes"].values()]
        for value in values:
            assert not any(secret in value for secret in secrets), (span["name"], value)
            if span["attributes"].get("db.system") != "redis":  # its "?" stand for arguments
                assert "?" not in value, (span["name"], value)
