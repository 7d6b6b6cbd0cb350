"""Cross-cutting HTTP concerns: security headers, CSP nonces, request ids and the request's
metrics (the error pages are bcapp/web/error_pages.py)."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import time
from typing import Any

from flask import Flask, Request, Response, g, has_request_context
from flask.ctx import _AppCtxGlobals

from bcapp import metrics
from bcapp.endpoints import Callback
from bcapp.models import Installation
from bcapp.service.sessions import frame_ancestors as ancestors_of
from bcapp.settings import Settings
from bcapp.web.context import service, this_globals, this_request
from bcapp.web.routes import ENDPOINT_PREFIX, callback_route

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id() -> str:
    """This request's correlation id: a sane `X-Request-ID` from the proxy, else a fresh one."""
    return _request_id(this_globals(), this_request())


def _request_id(data: _AppCtxGlobals, current: Request) -> str:
    found: str | None = data.get("request_id")
    if found is None:
        # From the environ: a header lookup raises and catches a KeyError when it is absent.
        inbound = current.environ.get("HTTP_X_REQUEST_ID", "")
        found = inbound if _REQUEST_ID.fullmatch(inbound) else _fresh_randomness(data)[:16]
        data.request_id = found
    return found


def _fresh_randomness(data: _AppCtxGlobals) -> str:
    """This request's one random draw (48 hex characters): the first 16 are its id, the other
    32 (128 bits) its CSP nonce."""
    drawn: str | None = data.get("bcapp_random")
    if drawn is None:
        drawn = data.bcapp_random = secrets.token_hex(24)
    return drawn


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to log records ("-" outside a request), for correlating log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate and keep every record."""
        record.request_id = request_id() if has_request_context() else "-"
        return True


def frame_ancestors() -> tuple[str, ...]:
    """Who may frame this response: the known store's control panel, else any control panel."""
    return _frame_ancestors(this_globals())


def _frame_ancestors(data: _AppCtxGlobals) -> tuple[str, ...]:
    chosen: tuple[str, ...] | None = data.get("frame_ancestors")
    return chosen if chosen is not None else service().sessions.frame_ancestors(None)


def for_store(installation: Installation) -> None:
    """This response belongs to `installation`'s store: only its control panel may frame it."""
    framed_by(service().sessions.frame_ancestors(installation))


def framed_by(ancestors: tuple[str, ...]) -> None:
    """Only `ancestors` may frame this response (a store's, as the service named them)."""
    g.frame_ancestors = ancestors


def csp_nonce() -> str:
    """A per-request nonce for the page's inline <style>/<script> elements (128 random bits)."""
    return _fresh_randomness(this_globals())[16:]


def start_clock(data: _AppCtxGlobals | None = None) -> None:
    """Start this request's timer: the first thing every request does, refusals included."""
    (data if data is not None else this_globals()).bcapp_started = time.perf_counter()


# The policy's fixed parts, around the request's nonce (twice) and the framing origins.
_CSP_SCRIPT = "default-src 'self'; script-src 'self' 'nonce-"
_CSP_STYLE = "' https://cdn.bigcommerce.com; style-src 'self' 'nonce-"
_CSP_REST = (
    "'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self' "
)


def content_security_policy(nonce: str, ancestors: tuple[str, ...]) -> str:
    """The Content-Security-Policy of a response with this nonce, framed by `ancestors`."""
    return f"{_CSP_SCRIPT}{nonce}{_CSP_STYLE}{nonce}{_CSP_REST}{' '.join(ancestors)}"


def callback_of(current: Request) -> Callback | None:
    """`callback_route()`, not looked up for a request routed to a page of the app."""
    endpoint = current.endpoint
    if endpoint is None or endpoint.startswith(ENDPOINT_PREFIX):
        return callback_route()
    return None


@functools.cache
def _request_timer(rule: str) -> Any:
    """The request-time histogram of one route template, looked up once per process (the
    labels are route templates: a fixed set)."""
    return metrics.REQUEST_SECONDS.labels(rule)


@functools.lru_cache(maxsize=256)  # outcomes are refusal reasons: a bounded set, bounded here
def _callback_counter(name: str, outcome: str) -> Any:
    """The callback counter of one callback and outcome, looked up once per process."""
    return metrics.CALLBACKS.labels(name, outcome)


def install(app: Flask, settings: Settings) -> None:
    """Register security headers, metrics and template helpers on `app`."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["request_id"] = request_id
    app.jinja_env.globals["support_url"] = settings.support_url
    app.jinja_env.globals["privacy_url"] = settings.privacy_url

    fixed_headers = [
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]
    if settings.uses_https:
        fixed_headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    # What frames a response of no known store, from the settings alone: worked out once.
    unknown_store = ancestors_of(settings, None)
    ours = frozenset(
        name.lower() for name in ("Content-Security-Policy", "X-Request-ID", *dict(fixed_headers))
    )

    @app.after_request
    def finish(response: Response) -> Response:
        """Security headers on every response, then the request's metrics."""
        data, current = this_globals(), this_request()
        nonce = _fresh_randomness(data)[16:]
        chosen: tuple[str, ...] | None = data.get("frame_ancestors")
        policy = content_security_policy(nonce, chosen if chosen is not None else unknown_store)
        added = [
            ("Content-Security-Policy", policy),
            ("X-Request-ID", _request_id(data, current)),
            *fixed_headers,
        ]
        headers = response.headers
        if any(name.lower() in ours for name, _ in headers):
            for name, value in added:  # replacing what the view set
                headers[name] = value
        else:
            for name, value in added:  # one pass, not one per header as `set` does
                headers.add(name, value)
        rule = current.url_rule
        started = data.get("bcapp_started")
        if started is not None:
            timer = _request_timer(rule.rule if rule is not None else "unmatched")
            timer.observe(time.perf_counter() - started)
        route = callback_of(current)
        if route is not None:
            ok = response.status_code < 400
            outcome = "ok" if ok else data.get("bcapp_outcome", f"status_{response.status_code}")
            _callback_counter(route.name, outcome).inc()
        return response
