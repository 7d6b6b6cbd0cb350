"""The local BigCommerce: login service, store API and control panel, served over real HTTP.

It speaks HTTP only and imports nothing of bcapp outside this package: its rules (scope table,
store-hash form, signing) and templates are its own, written from BigCommerce's documentation,
so a mistake in the app's rules is not repeated here (docs/architecture.md). A production
install never uses it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from wsgiref.types import WSGIApplication

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from bcapp.simulator.state import SimulatorState

__all__ = ["ServedApp", "SimulatorState", "create_simulator", "seeded_state"]


def create_simulator(state: SimulatorState, state_file: Path | None = None) -> Flask:
    """A Flask app that plays BigCommerce for `state`: login service, store API, control panel.

    With `state_file`, the world is kept there after every request that changed it
    (bcapp/simulator/persistence.py).
    """
    from bcapp.simulator import (
        account_api,
        api,
        billing_panel,
        control_api,
        control_panel,
        customer_login,
        deliveries,
        graphql_api,
        hooks_api,
        login,
        persistence,
        scripts_api,
        storefront,
    )

    templates = Path(__file__).resolve().parent / "templates"
    app = Flask(__name__, template_folder=str(templates), static_folder=None)
    app.extensions["bcapp_simulator"] = state
    app.register_blueprint(login.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(hooks_api.bp)
    app.register_blueprint(graphql_api.bp)
    app.register_blueprint(control_panel.bp)
    app.register_blueprint(deliveries.bp)
    app.register_blueprint(control_api.bp)
    app.register_blueprint(account_api.bp)
    app.register_blueprint(billing_panel.bp)
    app.register_blueprint(scripts_api.bp)
    app.register_blueprint(storefront.bp)
    app.register_blueprint(customer_login.bp)

    @app.errorhandler(HTTPException)
    def friendly(error: HTTPException) -> tuple[str, int]:
        """A page in the panel's style that says what was wrong, with the way back."""
        page = render_template(
            "simulator/error.html",
            sim=app.extensions["bcapp_simulator"],
            title=error.name,
            detail=error.description or "",
        )
        return page, error.code or 500

    if state_file is not None:
        kept = {"text": persistence.snapshot(state)}

        @app.teardown_request
        def keep_the_world(error: BaseException | None) -> None:
            text = persistence.snapshot(state)
            if text != kept["text"]:
                persistence.save(state, state_file, text)
                kept["text"] = text

    return app


def seeded_state(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    app_url: str,
    app_scopes: str,
    control_panel_url: str | None = None,
    app_id: int | None = None,
    account_api_token: str | None = None,
    account_uuid: str | None = None,
) -> SimulatorState:
    """A simulator with the app registered as in the Developer Portal, and one seeded store.

    The store `demo1234` has its owner (1001) and a staff user (1002). For Unified Billing:
    `app_id` is the app's Developer Portal id, `account_api_token` the partner's account-level
    API token and `account_uuid` the partner's account (each random or a fixed default when
    not given; SimulatorState says which).
    """
    state = SimulatorState(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        app_url=app_url,
        app_scopes=app_scopes,
        control_panel_url=control_panel_url,
    )
    if app_id is not None:
        state.app_id = app_id
    if account_api_token is not None:
        state.account_api_token = account_api_token
        state.issued_secrets.append(account_api_token)
    if account_uuid is not None:
        state.account_uuid = account_uuid
    state.add_store("demo1234", owner_id=1001, owner_email="owner@demo1234.example")
    state.add_user("demo1234", 1002, "staff@demo1234.example")
    return state


class _PathOnlyLog(WSGIRequestHandler):
    """Logs method, path and status, never the query (it carries codes and signed payloads) nor
    a Customer Login token (`/login/token/<jwt>`)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        if "/login/token/" in path:
            path = path.split("/login/token/", 1)[0] + "/login/token/…"
        self.log("info", '"%s %s" %s', self.command, path, code)


class ServedApp:
    """A WSGI app served over real HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app: WSGIApplication, port: int = 0, host: str = "127.0.0.1") -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_PathOnlyLog
        )
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ServedApp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever(poll_interval=0.2)
