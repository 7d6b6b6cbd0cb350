"""What leaves the process: every span redacted as it is exported, never as it starts.

The Flask (WSGI) and requests instrumentations set `http.target`, `http.url` or `url.full`
with the query string, some after the span started, and BigCommerce puts auth codes and signed
payloads in callback URLs (docs/security.md R7): so the exporter, which sees each span's final
attributes, gets a copy of each span with URL query strings and fragments cut off, captured
headers and `url.query` dropped, and every other string passed through the log lines' redaction
(bcapp/logs.py, `redact`). Redis spans carry only the command and a `?` per argument (the
redis-py instrumentation's own sanitizing); Celery spans carry no task arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from bcapp.logs import redact

# Attributes that hold a URL or a request target, in the old and the stable conventions.
URL_KEYS = frozenset({"http.url", "http.target", "url.full", "url.path", "http.route"})
DROPPED_PREFIXES = ("http.request.header.", "http.response.header.", "url.query")
# Message ids (uuids, bcapp's 32-hex run ids) are not secrets, though shaped like tokens.
_ID_KEYS = frozenset({"messaging.message_id", "messaging.conversation_id", "celery.correlation_id"})
_ID = re.compile(r"[0-9a-fA-F-]{32,36}")


def clean_value(key: str, value: Any) -> Any:
    """One attribute's value as it may leave the process."""
    if isinstance(value, str):
        if key in URL_KEYS or value.startswith(("http://", "https://")):
            value = value.split("#", 1)[0].split("?", 1)[0]
        if key in _ID_KEYS and _ID.fullmatch(value):
            return value
        return redact(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return tuple(clean_value(key, item) for item in value)
    return value


def clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes as they may leave the process (see the module's docstring)."""
    return {
        key: clean_value(key, value)
        for key, value in (attributes or {}).items()
        if not key.startswith(DROPPED_PREFIXES)
    }


def redacted(span: ReadableSpan) -> ReadableSpan:
    """A copy of `span` with its attributes, events' and links' attributes and status cleaned."""
    status = span.status
    if status.description:
        status = Status(status.status_code, redact(status.description))
    return ReadableSpan(
        name=redact(span.name.split("?", 1)[0]),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=clean(span.attributes),
        events=[Event(one.name, clean(one.attributes), one.timestamp) for one in span.events],
        links=[Link(link.context, clean(link.attributes)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    """Exports through `inner` a redacted copy of each span."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Hand the redacted copies to the inner exporter."""
        return self.inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return self.inner.force_flush(timeout_millis)
