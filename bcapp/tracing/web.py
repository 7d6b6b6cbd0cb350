"""Flask's instrumentation on a served app (gunicorn's `post_worker_init`, bcapp/gunicorn.py).

Applied to the app instance once it is loaded in the web worker: an app created in gunicorn's
master (a module of BCAPP_APP) is never the instrumented `flask.Flask` subclass, so patching
the class would miss it. The span starts before every other `before_request` hook, bcapp's
guard included, so refusals are traced too; it carries the route template (`http.route`),
the status, bcapp's outcome of a refused callback (`bcapp.outcome`) and the request's
`X-Request-ID` (`bcapp.request_id`), which every log line of the request also carries.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g, has_request_context
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span

from bcapp.tracing import otel
from bcapp.tracing.tasks import end_unsent

# Probes and scrapes, not requests an operator follows (OTEL_PYTHON_FLASK_EXCLUDED_URLS wins).
EXCLUDED = "healthz,readyz,metrics"


def response_hook(span: Span, status: str, headers: list[tuple[str, str]]) -> None:
    """The request's id and bcapp's outcome on its span, as the response starts."""
    end_unsent()
    if span is None or not span.is_recording():
        return
    for name, value in headers:
        if name.lower() == "x-request-id":
            span.set_attribute("bcapp.request_id", value)
    code = status.split(" ", 1)[0]
    ok = code.isdigit() and int(code) < 400
    outcome = g.get("bcapp_outcome") if has_request_context() and not ok else None
    span.set_attribute("bcapp.outcome", "ok" if ok else str(outcome or f"status_{code}"))


def instrument_app(app: Any, provider: TracerProvider | None = None) -> bool:
    """Trace `app`'s requests when traces are on (or with `provider`) and it is a Flask app;
    True if it was."""
    provider = provider or otel.provider()
    if provider is None or not isinstance(app, Flask):
        return False
    excluded = os.environ.get("OTEL_PYTHON_FLASK_EXCLUDED_URLS", EXCLUDED)
    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app, response_hook=response_hook, tracer_provider=provider, excluded_urls=excluded
    )
    hooks = app.before_request_funcs.setdefault(None, [])
    first = app._before_request  # type: ignore[attr-defined] # the hook that starts the span
    hooks.remove(first)
    hooks.insert(0, first)
    return True
