"""The OpenTelemetry SDK as bcapp sets it up, loaded only when traces are on (bcapp/tracing).

One tracer provider per process: its resource from `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES` (service.name `bcapp-<role>` when neither names one), its sampler
`OTEL_TRACES_SAMPLER`'s except that a Redis or HTTP call outside any request, run or command
(the broker's own polling) starts no trace, and one batch processor (`OTEL_BSP_*`) per exporter
of `OTEL_TRACES_EXPORTER` (`otlp` when only an endpoint is set), each behind the redaction of
bcapp/tracing/redaction.py. Then the maintained instrumentations of requests (the store API,
the Account API, GraphQL), redis-py and Celery (bcapp/tracing/tasks.py); Flask's is applied to
the served app by bcapp/tracing/web.py.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from bcapp.tracing.redaction import RedactingExporter
from bcapp.tracing.tasks import BcappCeleryInstrumentor

log = logging.getLogger(__name__)
TRACER = "bcapp"
_provider: TracerProvider | None = None


class NoRootClientSpans(Sampler):
    """The configured sampler, except that a client span with no parent is dropped: a Redis
    command or HTTP call outside any request, task run or command is the broker's polling or
    the exporter's own plumbing, not something an operator follows."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        """Drop a root client span; anything else as the configured sampler decides."""
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind == SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """The sampler's name, as the SDK reports it."""
        return f"NoRootClientSpans{{{self.inner.get_description()}}}"


def one_line(span: ReadableSpan) -> str:
    """A span as one line of JSON (the console exporter's default spans many lines)."""
    return str(span.to_json(indent=None)) + os.linesep


def exporters(environ: Mapping[str, str], role: str = "") -> list[SpanExporter]:
    """The exporters `OTEL_TRACES_EXPORTER` names (`otlp` when only an endpoint is set); the
    console's on stdout, or stderr for the CLI (its stdout is the command's answer)."""
    names = [
        name.strip().lower()
        for name in (environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")
        if name.strip() and name.strip().lower() != "none"
    ]
    made: list[SpanExporter] = []
    for name in names:
        if name == "console":
            out = sys.stderr if role == "cli" else sys.stdout
            made.append(ConsoleSpanExporter(out=out, formatter=one_line))
        elif name in ("otlp", "otlp_proto_http"):
            made.append(_otlp(environ))
        else:  # another installed exporter, as the SDK's own configuration finds it
            found = entry_points(group="opentelemetry_traces_exporter", name=name)
            if not found:
                log.error("OTEL_TRACES_EXPORTER names %s, which is not installed", name)
                continue
            made.append(next(iter(found)).load()())
    return made


def _otlp(environ: Mapping[str, str]) -> SpanExporter:
    """OTLP over HTTP (bcapp[otel] installs it); gRPC when the protocol variable asks and
    opentelemetry-exporter-otlp-proto-grpc is installed."""
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol.strip().lower() == "grpc":
        try:  # not in bcapp[otel]: grpcio is a large native wheel, and HTTP does the same job
            grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        except ImportError:
            log.error("OTLP over gRPC needs opentelemetry-exporter-otlp-proto-grpc: using HTTP")
        else:
            exporter: SpanExporter = grpc.OTLPSpanExporter()
            return exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def resource(role: str) -> Resource:
    """The process's resource: the environment's attributes, `bcapp.process`, and a service
    name of bcapp's when the environment gives none."""
    found = Resource.create({"bcapp.process": role})
    named = str(found.attributes.get(SERVICE_NAME, ""))
    if not named or named.startswith("unknown_service"):
        found = found.merge(Resource({SERVICE_NAME: f"bcapp-{role}"}))
    return found


def start(role: str, environ: Mapping[str, str]) -> None:
    """Set this process's tracer provider up and instrument requests, redis-py and Celery."""
    global _provider
    provider = TracerProvider(
        resource=resource(role), sampler=NoRootClientSpans(_get_from_env_or_default())
    )
    for exporter in exporters(environ, role):
        provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
    trace.set_tracer_provider(provider)
    _provider = provider
    RequestsInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    BcappCeleryInstrumentor().instrument(tracer_provider=provider)
    log.info("traces on: %s as %s", role, resource(role).attributes.get(SERVICE_NAME))


def provider() -> TracerProvider | None:
    """This process's tracer provider (None before `start`)."""
    return _provider


def current_ids() -> tuple[str, str] | None:
    """The active span's trace id and span id in hex, or None."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@contextlib.contextmanager
def command_span(name: str) -> Iterator[None]:
    """A root span around one CLI command."""
    tracer = trace.get_tracer(TRACER, tracer_provider=_provider)
    attributes: dict[str, Any] = {"bcapp.command": name}
    with tracer.start_as_current_span(f"bcapp {name}", attributes=attributes):
        yield
