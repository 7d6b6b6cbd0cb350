"""The local BigCommerce: login service (token endpoint), and helpers to serve it over HTTP."""

from __future__ import annotations

import threading
from wsgiref.types import WSGIApplication

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from bcapp.simulator.state import SimulatorState

__all__ = ["ServedApp", "SimulatorState", "create_simulator"]


def create_simulator(state: SimulatorState) -> Flask:
    """A Flask app that plays BigCommerce for `state`."""
    from bcapp.simulator import login

    app = Flask(__name__)
    app.extensions["bcapp_simulator"] = state
    app.register_blueprint(login.bp)
    return app


class ServedApp:
    """A WSGI app served over real HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app: WSGIApplication, port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ServedApp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
