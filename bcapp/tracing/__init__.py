"""Traces (OpenTelemetry), off unless the standard variables ask for them (docs/tracing.md).

This module imports nothing of OpenTelemetry: `start` loads bcapp/tracing/otel.py (the SDK, the
exporters, the Celery, redis-py and requests instrumentations) only when `OTEL_TRACES_EXPORTER`
names an exporter or `OTEL_EXPORTER_OTLP_ENDPOINT` (or its `_TRACES_` form) names a collector,
and `OTEL_SDK_DISABLED` is not `true`. Each entry point starts it once, after any fork:
gunicorn's web workers (bcapp/gunicorn.py, `post_fork`; their Flask app in `post_worker_init`
through bcapp/tracing/web.py), the Celery worker (bcapp/worker.py, `worker_init` and
`worker_process_init`) and the CLI (bcapp/cli/__init__.py, one span per command).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _no_span() -> tuple[str, str] | None:
    return None


# Replaced by bcapp/tracing/otel.py once traces are on: log lines ask it on every record.
_current_ids: Callable[[], tuple[str, str] | None] = _no_span
_role: str | None = None  # what this process was started as ("web", "worker", "cli")


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment turns traces on (the OpenTelemetry specification's variables)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(environ.get(name, "").strip() for name in ENDPOINTS)


def start(role: str, environ: Mapping[str, str] | None = None) -> bool:
    """Turn traces on in this process when the environment asks; True when they are on.

    Once per process tree: a child forked after it (a Celery prefork child) keeps the parent's
    provider, whose batch processor restarts its thread after the fork (the SDK's own
    `register_at_fork`).
    """
    global _current_ids, _role
    if _role is not None:
        return True
    found = os.environ if environ is None else environ
    if not wanted(found):
        return False
    from bcapp.tracing import otel  # the SDK and the instrumentations: only now

    otel.start(role, found)
    _current_ids, _role = otel.current_ids, role
    return True


def started() -> bool:
    """Whether traces are on in this process."""
    return _role is not None


def ids() -> tuple[str, str] | None:
    """The active span's trace id and span id (hex), or None (no span, or traces off)."""
    return _current_ids()


@contextlib.contextmanager
def command_span(name: str) -> Iterator[None]:
    """A span around one CLI command (nothing when traces are off): its store-API, Redis and
    broker calls, and the tasks it queues, form one trace."""
    if _role is None:
        yield
        return
    from bcapp.tracing import otel

    with otel.command_span(name):
        yield
