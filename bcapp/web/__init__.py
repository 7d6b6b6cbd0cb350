"""The web layer: the Flask app factory, blueprints, the callback guard, sessions and pages.

The only package that imports Flask or Werkzeug; views parse the request, call one method of
the application service and render or redirect (docs/architecture.md).
"""

from __future__ import annotations

import importlib
import logging
from importlib import resources
from pathlib import Path

from flask import Blueprint, Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestURITooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from bcapp.clock import Clock
from bcapp.errors import ConfigurationError
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.validation import printable
from bcapp.web import app_pages, callbacks, example, health, pages, sessions
from bcapp.web.context import EXTENSION, service
from bcapp.web.routes import callback_route, register_callbacks

__all__ = ["create_app"]

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 64 * 1024
# A signed payload is about 1 KiB and refused over 8 KiB; no genuine query comes near this.
MAX_QUERY_BYTES = 16 * 1024


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    service: Bcapp | None = None,
) -> Flask:
    """Wire settings, the service, blueprints and error handlers; no network at import time."""
    if service is None:
        service = build(settings or Settings.from_env(), clock)
    app = Flask("bcapp", template_folder=_template_folder(), static_folder=None)
    # bcapp never builds absolute URLs from the Host header: redirects are relative and the
    # token exchange's redirect_uri comes from settings. Werkzeug's slash merging and strict
    # slashes answer `//load?signed_payload_jwt=…` or `//` with an absolute redirect built from
    # the Host header (carrying the payload along), so both are off: routing never redirects,
    # a doubled slash inside a path is a 404, a trailing one is the same route (R4).
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    app.before_request(guard_request)
    if service.settings.trusted_proxies:
        # The client address is the one the trusted proxies saw; the Host is never trusted.
        hops = service.settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]
    sessions.configure(app, service.settings)
    app.extensions[EXTENSION] = service
    pages.install(app, service.settings)
    register_callbacks(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(app_pages.bp)
    app.register_blueprint(example.bp)
    for name in service.settings.blueprints:  # the app built on bcapp (BCAPP_BLUEPRINTS)
        app.register_blueprint(_blueprint(name))
    return app


def guard_request() -> None:
    """Before any view, in this order: start the request's timer (so refusals are measured),
    refuse foreign hosts, then, on a callback, other methods, oversized requests, and count the
    client address (429). One hook: each request looks up its callback once."""
    pages.start_clock()
    refuse_foreign_hosts()
    route = callback_route()
    if route is not None:
        callbacks.refuse_other_methods(route)
    refuse_oversized()
    if route is not None:
        callbacks.admit_client(route)


def refuse_foreign_hosts() -> None:
    """400 for a request addressed to a host other than APP_URL's (health checks excepted).

    bcapp builds no URL from the Host header, and this keeps it that way for code added later:
    a response is only ever produced for the host the app is registered under (R4).
    """
    if request.endpoint in ("health.healthz", "health.readyz"):
        return  # load balancers often probe by address
    host = request.headers.get("Host", "").rsplit(":", 1)[0].strip("[]").lower()
    if host not in service().settings.trusted_hosts:
        log.warning("request for host %s refused; add it to BCAPP_TRUSTED_HOSTS", printable(host))
        raise BadRequest("Unknown host")


def refuse_oversized() -> None:
    """413/414 for a request larger than any BigCommerce sends, before any work is done."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise RequestURITooLarge()
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        raise RequestEntityTooLarge()


def _blueprint(name: str) -> Blueprint:
    """The blueprint named `module:attribute`; ConfigurationError when there is none."""
    module, _, attribute = name.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute or "bp")
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"BCAPP_BLUEPRINTS: cannot import {name}") from exc
    if not isinstance(found, Blueprint):
        raise ConfigurationError(f"BCAPP_BLUEPRINTS: {name} is not a Flask Blueprint")
    return found


def _template_folder() -> str:
    """templates/ of a checkout, or the copy shipped inside an installed package."""
    checkout = Path(__file__).resolve().parent.parent.parent / "templates"
    if checkout.is_dir():
        return str(checkout)
    return str(resources.files("bcapp") / "templates")
