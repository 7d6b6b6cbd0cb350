"""The web layer: `init_app` (bcapp as a Flask extension), `create_app`, the callback guard,
sessions and pages.

The only package that imports Flask or Werkzeug; views parse the request, call one method of
the application service and render or redirect (docs/architecture.md).
"""

from __future__ import annotations

import importlib
import io
import logging
from importlib import resources
from pathlib import Path

from flask import Blueprint, Flask, Request, current_app
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestURITooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from bcapp import signals
from bcapp.clock import Clock
from bcapp.endpoints import Callback
from bcapp.errors import ConfigurationError
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.validation import printable
from bcapp.web import (
    app_pages,
    bearer,
    callbacks,
    error_pages,
    example,
    health,
    pages,
    sessions,
)
from bcapp.web.context import EXTENSION, service, this_globals, this_request
from bcapp.web.routes import callbacks_blueprint

__all__ = ["create_app", "init_app"]

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 64 * 1024
# A signed payload is about 1 KiB and refused over 8 KiB; no genuine query comes near this.
MAX_QUERY_BYTES = 16 * 1024


def init_app(
    app: Flask,
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    service: Bcapp | None = None,
    example_pages: bool = False,
    home_page: bool = True,
) -> Bcapp:
    """Make `app` (a Flask app of the developer's own) a BigCommerce app; return bcapp's services.

    Registers the callbacks (bcapp/endpoints.py) with their guards, bcapp's session cookie for
    the control-panel iframe, the error pages, security headers and metrics, `/healthz`,
    `/readyz` and `/metrics`, and (unless `home_page=False`) the landing page `/` that installs
    and loads open. The bundled example pages come only with `example_pages=True`. The services
    are `app.extensions["bcapp"]`, and `bcapp.current()` inside a request.

    A guest in `app` (docs/flask-extension.md): its SECRET_KEY, session interface and
    `flask.session` stay its own (bcapp's session is a cookie of its own, signed with bcapp's
    SECRET_KEY); bcapp's error pages answer only for bcapp's routes and `app_page` views, the
    app's routes keep its handlers (register yours before `init_app`, or on your blueprints);
    bcapp's templates are under `bcapp/`, so the app's `base.html` stays the app's.

    Deliberately for the whole app (docs/security.md R4, R8, R11), since a hole in any route
    is a hole in the app: requests for a host other than APP_URL's are refused, queries over
    16 KiB are refused, bodies are capped at 64 KiB unless the app set its own
    MAX_CONTENT_LENGTH, routing never redirects, and every response gets the security headers
    (CSP, no-store, nosniff, HSTS over https) and is measured. No network at import time;
    Redis is reached on first use.
    """
    if service is None:
        service = build(settings or Settings.from_env(), clock)
    settings = service.settings
    # bcapp never builds absolute URLs from the Host header: redirects are relative and the
    # token exchange's redirect_uri comes from settings. Werkzeug's slash merging and strict
    # slashes answer `//load?signed_payload_jwt=…` or `//` with an absolute redirect built from
    # the Host header (carrying the payload along), so both are off: routing never redirects,
    # a doubled slash inside a path is a 404, a trailing one is the same route (R4).
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default: no limit
        app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.before_request(guard_request)
    app.teardown_request(stop_publishing)
    if settings.trusted_proxies:
        # The client address is the one the trusted proxies saw; the Host is never trusted.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]
    sessions.configure(app, settings)
    app.extensions[EXTENSION] = service
    pages.install(app, settings)
    error_pages.for_bcapp_requests(app)
    # bcapp's templates, all under bcapp/ (the app's own folder is searched first).
    app.register_blueprint(Blueprint("bcapp", __name__, template_folder=_template_folder()))
    app.register_blueprint(error_pages.friendly(callbacks_blueprint()))
    app.register_blueprint(health.bp)
    app.register_blueprint(bearer.bp)  # sessions without cookies (bcapp/web/bearer.py)
    if home_page:
        app.register_blueprint(app_pages.bp)
    if example_pages:
        app.register_blueprint(example.bp)
    return service


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    service: Bcapp | None = None,
) -> Flask:
    """bcapp's own Flask app (what `wsgi.py` serves): `init_app` on a fresh app, with the
    example pages when BCAPP_EXAMPLE_PAGES says so and the blueprints of BCAPP_BLUEPRINTS."""
    if service is None:
        service = build(settings or Settings.from_env(), clock)
    app = Flask("bcapp", template_folder=_template_folder(), static_folder=None)
    # bcapp owns this app: its error pages answer for every route (an unknown URL included),
    # and the BCAPP_BLUEPRINTS pages have a `flask.session` that works in the iframe too.
    error_pages.friendly(app)
    sessions.own_app_session(app, service.settings)
    init_app(app, service=service, example_pages=service.settings.example_pages)
    for name in service.settings.blueprints:  # the app built on bcapp (BCAPP_BLUEPRINTS)
        app.register_blueprint(_blueprint(name))
    return app


def guard_request() -> None:
    """Before any view, in this order: start the request's timer (so refusals are measured),
    refuse foreign hosts, then, on a callback, other methods, oversized requests, and count the
    client address (429). One hook: each request looks up its callback once."""
    pages.start_clock(this_globals())
    current, app_service = this_request(), service()
    signals.set_publisher(app_service.tasks.publish_signal)  # queued, not run in the request
    refuse_foreign_hosts(current, app_service.settings.trusted_hosts)
    route = pages.callback_of(current)
    if route is not None:
        callbacks.refuse_other_methods(route)
    refuse_oversized(current, route)
    if route is not None:
        callbacks.admit_client(route)


def stop_publishing(error: BaseException | None) -> None:
    """After the request, signals sent in this thread run their task receivers at once again
    (the thread may run code outside a request: a test, an embedding app)."""
    signals.set_publisher(None)


def refuse_foreign_hosts(current: Request, trusted_hosts: frozenset[str]) -> None:
    """400 for a request addressed to a host other than APP_URL's (health checks excepted).

    bcapp builds no URL from the Host header, and this keeps it that way for code added later:
    a response is only ever produced for the host the app is registered under (R4).
    """
    host = current.headers.get("Host", "").rsplit(":", 1)[0].strip("[]").lower()
    if host in trusted_hosts:
        return
    if current.endpoint in ("health.healthz", "health.readyz"):
        return  # load balancers often probe by address
    log.warning("request for host %s refused; add it to BCAPP_TRUSTED_HOSTS", printable(host))
    raise BadRequest("Unknown host")


def refuse_oversized(current: Request, route: Callback | None) -> None:
    """413/414 for a request larger than any BigCommerce sends, before any work is done: a
    query over 16 KiB anywhere, a callback body over 64 KiB (other bodies: MAX_CONTENT_LENGTH)."""
    if len(current.environ.get("QUERY_STRING", "")) > MAX_QUERY_BYTES:
        raise RequestURITooLarge()
    environ = current.environ
    # `content_length` looks both headers up, each absent one a KeyError raised and caught.
    chunked_or_sized = "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ
    length = current.content_length if chunked_or_sized else None
    if route is None:
        if length:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            if limit is not None and length > limit:
                raise RequestEntityTooLarge()
        return
    if (length or 0) > MAX_REQUEST_BYTES:
        raise RequestEntityTooLarge()
    if length is None:
        _read_chunked_body(current, MAX_REQUEST_BYTES)


def _read_chunked_body(current: Request, limit: int) -> None:
    """A callback's body sent without a length (chunked): read it whole, up to `limit`, so an
    oversized one is a 413 and never a body cut short at the limit without a word."""
    environ = current.environ
    if not environ.get("wsgi.input_terminated"):
        return  # no length and no terminated stream: WSGI reads no body at all
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is now one of known length


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
    """templates/ of a checkout, or the copy shipped inside an installed package (pyproject.toml
    maps it to `bcapp.templates`); either holds bcapp's templates under bcapp/."""
    checkout = Path(__file__).resolve().parent.parent.parent / "templates"
    # Installed, that path is site-packages/templates: only bcapp's own frame makes it ours.
    if (checkout / "bcapp" / "base.html").is_file():
        return str(checkout)
    return str(resources.files("bcapp") / "templates")
