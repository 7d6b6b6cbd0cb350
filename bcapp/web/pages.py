"""Cross-cutting HTTP concerns: security headers, CSP nonces, request ids and the request's
metrics (the error pages are bcapp/web/error_pages.py)."""

from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Flask, Response, g, has_request_context, request

from bcapp import metrics
from bcapp.models import Installation
from bcapp.settings import Settings
from bcapp.web.context import service
from bcapp.web.routes import callback_route

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id() -> str:
    """This request's correlation id: a sane `X-Request-ID` from the proxy, else a fresh one."""
    if "request_id" not in g:
        inbound = request.headers.get("X-Request-ID", "")
        g.request_id = inbound if _REQUEST_ID.fullmatch(inbound) else _fresh_randomness()[:16]
    value: str = g.request_id
    return value


def _fresh_randomness() -> str:
    """This request's one random draw (48 hex characters): the first 16 are its id, the other
    32 (128 bits) its CSP nonce."""
    if "bcapp_random" not in g:
        g.bcapp_random = secrets.token_hex(24)
    drawn: str = g.bcapp_random
    return drawn


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to log records ("-" outside a request), for correlating log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate and keep every record."""
        record.request_id = request_id() if has_request_context() else "-"
        return True


def frame_ancestors() -> tuple[str, ...]:
    """Who may frame this response: the known store's control panel, else any control panel."""
    chosen: tuple[str, ...] | None = g.get("frame_ancestors")
    return chosen if chosen is not None else service().sessions.frame_ancestors(None)


def for_store(installation: Installation) -> None:
    """This response belongs to `installation`'s store: only its control panel may frame it."""
    framed_by(service().sessions.frame_ancestors(installation))


def framed_by(ancestors: tuple[str, ...]) -> None:
    """Only `ancestors` may frame this response (a store's, as the service named them)."""
    g.frame_ancestors = ancestors


def csp_nonce() -> str:
    """A per-request nonce for the page's inline <style>/<script> elements (128 random bits)."""
    return _fresh_randomness()[16:]


def start_clock() -> None:
    """Start this request's timer: the first thing every request does, refusals included."""
    g.bcapp_started = time.perf_counter()


def install(app: Flask, settings: Settings) -> None:
    """Register security headers, metrics and template helpers on `app`."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["request_id"] = request_id
    app.jinja_env.globals["support_url"] = settings.support_url
    app.jinja_env.globals["privacy_url"] = settings.privacy_url

    fixed_headers = {
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    if settings.uses_https:
        fixed_headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    @app.after_request
    def finish(response: Response) -> Response:
        """Security headers on every response, then the request's metrics."""
        nonce = csp_nonce()
        headers = response.headers
        headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}' https://cdn.bigcommerce.com; "
            f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors 'self' {' '.join(frame_ancestors())}"
        )
        headers["X-Request-ID"] = request_id()
        headers.update(fixed_headers)
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        started = g.get("bcapp_started")
        if started is not None:
            metrics.REQUEST_SECONDS.labels(rule).observe(time.perf_counter() - started)
        route = callback_route()
        if route is not None:
            ok = response.status_code < 400
            outcome = "ok" if ok else g.get("bcapp_outcome", f"status_{response.status_code}")
            metrics.CALLBACKS.labels(route.name, outcome).inc()
        return response

