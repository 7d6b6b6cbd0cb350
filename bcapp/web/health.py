"""`/healthz` (the process answers), `/readyz` (Redis answers) and `/metrics` (Prometheus,
only with the bearer token BCAPP_METRICS_TOKEN; 404 otherwise)."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from bcapp import metrics
from bcapp.web.context import service
from bcapp.web.error_pages import friendly

# The installations gauge is refreshed by a scrape at most this often (it SCANs the keys).
GAUGE_REFRESH_SECONDS = 60.0
_gauge_refreshed_at = 0.0

bp = friendly(Blueprint("health", __name__))


@bp.get("/healthz")
def healthz() -> Response:
    """200 while the process serves."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when Redis answers, 503 otherwise."""
    if not service().operations.ready():
        return jsonify(status="unavailable", redis="down"), 503
    return jsonify(status="ok", redis="up"), 200


@bp.get("/metrics")
def metrics_page() -> Response:
    """Prometheus metrics, only with BCAPP_METRICS_TOKEN as a bearer token (404 otherwise)."""
    global _gauge_refreshed_at
    expected = service().settings.metrics_token
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    # The scheme is part of the credential (any case, RFC 7235): a bare token is refused.
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(
        expected.encode(), sent.encode("utf-8", "replace")
    ):
        raise NotFound()
    if time.monotonic() - _gauge_refreshed_at > GAUGE_REFRESH_SECONDS:
        metrics.INSTALLATIONS.set(len(service().operations.list_stores()))
        _gauge_refreshed_at = time.monotonic()
    depth = service().queue.depth()  # one broker round trip per scrape
    if depth is not None:
        metrics.QUEUE_DEPTH.set(depth)
    return Response(metrics.exposition(), mimetype="text/plain; version=0.0.4")
