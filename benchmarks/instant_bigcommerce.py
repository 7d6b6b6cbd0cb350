"""A stand-in for BigCommerce that answers at once: the token endpoint and the store API calls
an install and the app page make. It measures bcapp's own cost, not BigCommerce's latency.

Served by werkzeug's threaded server (HTTP/1.1 keep-alive, as bcapp's pooled client expects)
from a thread of the benchmark process, which otherwise only waits for wrk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from benchmarks.serving import free_port

OWNER = {"id": 1, "email": "owner@example.com"}


def create() -> Flask:
    """The stand-in's routes."""
    app = Flask(__name__)

    @app.post("/oauth2/token")
    def token() -> Response:
        form = request.form
        return jsonify(
            access_token="token-" + form["code"],
            scope=form["scope"],
            context=form["context"],
            user=OWNER,
            owner=OWNER,
        )

    @app.get("/stores/<store_hash>/v2/store")
    def store(store_hash: str) -> Response:
        return jsonify(
            name="Bench store",
            domain="bench.example.com",
            control_panel_base_url=f"https://store-{store_hash}.mybigcommerce.com",
        )

    @app.get("/stores/<store_hash>/v3/hooks")
    def hooks(store_hash: str) -> Response:
        return jsonify(data=[])

    @app.post("/stores/<store_hash>/v3/hooks")
    def subscribe(store_hash: str) -> Response:
        return jsonify(data=dict(request.get_json(force=True), id=1))

    return app


class _Quiet(WSGIRequestHandler):
    """No line per request: the benchmark prints only its figures."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextmanager
def serving() -> Iterator[str]:
    """Serve the stand-in on a free loopback port; yield its base URL."""
    server = make_server(
        "127.0.0.1", free_port(), create(), threaded=True, request_handler=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
