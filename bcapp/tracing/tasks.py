"""Celery's instrumentation as bcapp publishes and runs its tasks.

The maintained instrumentation (opentelemetry-instrumentation-celery) starts a run's span from
the trace context in the task's headers, records retries and failures; bcapp adds what a run is
about (store hash, scope, handler, attempt, outcome: never the event's data).

Its publish span is replaced, for one reason: it keeps the span on the task object found in
Celery's registry by the sender's name, and bcapp publishes by name from processes that never
import the task bodies (bcapp/broker.py, `TaskQueue`), so there is none: the span was dropped at
once (CPython collected it when the signal handler returned, ending it before the message was
sent, without the broker's calls under it) and never ended at all on an interpreter without
reference counting. Here every publish's span is kept per thread until `after_task_publish`;
one whose message never went out (the broker refused: no after signal) is ended as an error at
the thread's next publish or at the end of its request or run (`end_unsent`).
"""

from __future__ import annotations

import threading
from contextvars import Token
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.celery import utils as celery_utils
from opentelemetry.propagate import inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

OUTCOME_CHARS = 120  # a run's result, as the span names it (bcapp's are short words)

_unsent = threading.local()  # this thread's publishes whose message has not gone out yet


def _pending() -> dict[str, tuple[Span, Token[Context]]]:
    found: dict[str, tuple[Span, Token[Context]]] | None = getattr(_unsent, "spans", None)
    if found is None:
        found = _unsent.spans = {}
    return found


def about(kwargs: dict[str, Any]) -> dict[str, str]:
    """What a bcapp task's arguments say about it, as span attributes (no event data)."""
    event = kwargs.get("event")
    event = event if isinstance(event, dict) else {}
    found = {
        "bcapp.store_hash": event.get("store_hash", kwargs.get("store_hash")),
        "bcapp.scope": event.get("scope"),
        "bcapp.handler": kwargs.get("handler"),
    }
    return {key: value for key, value in found.items() if isinstance(value, str) and value}


def _task_kwargs(body: Any) -> dict[str, Any]:
    """A message body's keyword arguments (Celery's protocol 2: args, kwargs, embed)."""
    if isinstance(body, tuple | list) and len(body) >= 2 and isinstance(body[1], dict):
        return body[1]
    return {}


def end_unsent() -> None:
    """End this thread's publish spans whose message never went out, as errors."""
    pending = _pending()
    while pending:
        _, (span, token) = pending.popitem()
        span.set_status(Status(StatusCode.ERROR, "not published"))
        if trace.get_current_span() is span:
            context_api.detach(token)
        span.end()


class BcappCeleryInstrumentor(CeleryInstrumentor):
    """Celery's instrumentation with publish spans kept until the message is out, and runs
    named by bcapp's arguments."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _trace_before_publish(self, *args: Any, **kwargs: Any) -> None:
        task_id = celery_utils.retrieve_task_id_from_message(kwargs)
        if task_id is None:
            return
        end_unsent()
        sender = kwargs.get("sender")
        name = sender if isinstance(sender, str) else getattr(sender, "name", "unknown")
        subject = about(_task_kwargs(kwargs.get("body")))
        outer = trace.get_current_span()
        if subject and outer.is_recording():
            outer.set_attributes(subject)  # the request (or run) that queued it says for whom
        span = self._tracer.start_span(f"apply_async/{name}", kind=SpanKind.PRODUCER)
        if span.is_recording():
            span.set_attributes(
                {"celery.action": "apply_async", "messaging.message_id": task_id,
                 "celery.task_name": name, **subject}
            )
            celery_utils.set_attributes_from_context(span, kwargs)
        token = context_api.attach(trace.set_span_in_context(span))
        _pending()[task_id] = (span, token)
        headers = kwargs.get("headers")
        if headers is not None:
            inject(headers)

    @staticmethod
    def _trace_after_publish(*args: Any, **kwargs: Any) -> None:
        task_id = celery_utils.retrieve_task_id_from_message(kwargs)
        kept = _pending().pop(task_id, None) if task_id is not None else None
        if kept is None:
            return
        span, token = kept
        if trace.get_current_span() is span:
            context_api.detach(token)
        span.end()

    def _trace_prerun(self, *args: Any, **kwargs: Any) -> None:
        super()._trace_prerun(*args, **kwargs)  # type: ignore[no-untyped-call]
        task, task_id = kwargs.get("task"), kwargs.get("task_id")
        found = celery_utils.retrieve_context(task, task_id) if task_id else None
        if task is None or found is None or not found[0].is_recording():
            return
        request = task.request
        found[0].set_attributes(
            {"celery.task_name": task.name, "bcapp.attempt": int(request.retries or 0) + 1,
             **about(dict(request.kwargs or {}))}
        )

    def _trace_postrun(self, *args: Any, **kwargs: Any) -> None:
        task, task_id = kwargs.get("task"), kwargs.get("task_id")
        found = celery_utils.retrieve_context(task, task_id) if task_id else None
        end_unsent()  # before the run's span ends and its context is let go
        if found is not None and found[0].is_recording():
            state, result = kwargs.get("state"), kwargs.get("retval")
            outcome = result if state == "SUCCESS" and isinstance(result, str) else state
            found[0].set_attribute("bcapp.outcome", str(outcome or "-").lower()[:OUTCOME_CHARS])
        super()._trace_postrun(*args, **kwargs)  # type: ignore[no-untyped-call]
