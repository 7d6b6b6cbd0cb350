"""bcapp's friendly error pages, and the requests that get them.

Every expected failure becomes its status with a friendly page for the control-panel iframe;
anything unexpected becomes a generic 500 page and a log line with its traceback but no request
values (docs/security.md R7).

bcapp is a guest in the app it joins, so its pages answer only for bcapp's requests: its
blueprints' routes (blueprint handlers by status code and by class, which Flask consults before
the app's), the `app_page` views and the declared callbacks' paths (app-level handlers by class
that look at the request). Everything else goes where Flask would have sent it without bcapp:
the app's own handler, else Flask's default, so the host's routes and a 404 for a URL no route
matches keep the host's pages. bcapp's own app (`create_app`) owns every route, so there the
pages answer for all (docs/flask-extension.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
)
from flask.sansio.scaffold import Scaffold
from flask.typing import ErrorHandlerCallable, ResponseReturnValue
from werkzeug.exceptions import HTTPException, default_exceptions

from bcapp.errors import BcappError
from bcapp.validation import printable
from bcapp.web.context import service
from bcapp.web.kit import is_app_page
from bcapp.web.routes import callback_route
from bcapp.web.sessions import bcapp_session

log = logging.getLogger(__name__)
S = TypeVar("S", bound=Scaffold)
Handler = Callable[[Any], ResponseReturnValue]
# Retry-After of a 503 that names no wait of its own (Redis or the broker stalled or down):
# a few seconds, so clients and BigCommerce's retries come back soon but not at once.
UNAVAILABLE_RETRY_SECONDS = 5


def expected_failure(error: BcappError) -> Response:
    """A BcappError's status and its page, logged by reason (never by request values)."""
    g.bcapp_outcome = error.reason
    log.warning(
        "%s %s -> %s %s",
        request.method,
        printable(request.path),
        error.status,
        error.reason,
        extra={"route": printable(request.path), "status": error.status},
    )
    response = make_response(
        render_error(
            error.status,
            error.title,
            error.detail,
            missing=getattr(error, "missing", None),
            return_url=error.return_url,
            new_tab_url=getattr(error, "new_tab_url", None),
        )
    )
    retry_after = error.retry_after
    if retry_after is None and error.status == 503:
        retry_after = UNAVAILABLE_RETRY_SECONDS
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def http_failure(error: HTTPException) -> Response:
    """Werkzeug's HTTP errors (404, 405, 413, …) as the friendly page with their status."""
    page, status = render_error(
        error.code or 500, error.name, "Please open the app again from your control panel."
    )
    response = make_response(page, status)
    allow = dict(error.get_headers()).get("Allow")
    if allow:  # a 405 keeps telling which methods are allowed
        response.headers["Allow"] = allow
    return response


def unexpected_failure(error: Exception) -> tuple[str, int]:
    """Anything else: a generic 500 page; the traceback goes to the log only."""
    log.error(
        "unhandled %s on %s %s",
        type(error).__name__,
        request.method,
        printable(request.path),
        exc_info=error,
    )
    return render_error(500, "Something went wrong", "Please try again in a moment.")


PAGES: tuple[tuple[type[Exception], Handler], ...] = (
    (BcappError, expected_failure),
    (HTTPException, http_failure),
    (Exception, unexpected_failure),
)


def friendly(scaffold: S) -> S:
    """`scaffold` (a blueprint of bcapp's, before it is registered, or bcapp's own app) answers
    its errors with bcapp's pages.

    Flask looks for a handler of the status code (blueprint's, then app's) before one of the
    class, so a blueprint also takes every HTTP status by code: the host's `errorhandler(404)`
    cannot take a 404 of bcapp's routes.
    """
    for error_class, page in PAGES:
        scaffold.register_error_handler(error_class, page)
    for code in default_exceptions:
        scaffold.register_error_handler(code, http_failure)
    return scaffold


def for_bcapp_requests(app: Flask) -> None:
    """bcapp's pages for its requests outside its blueprints (an `app_page` view of the app's,
    a callback path that did not route); every other error goes where it went before."""
    handlers = app.error_handler_spec[None][None]  # the app's, by class (live: Flask adds here)
    for error_class, page in PAGES:
        replaced = handlers.get(error_class)
        app.register_error_handler(error_class, _Deferring(error_class, page, replaced, handlers))


class _Deferring:
    """An app-level handler: bcapp's page for bcapp's requests; for any other, the handler
    Flask would have chosen without bcapp's (the app's, by the error's class), else Flask's
    default."""

    def __init__(
        self,
        error_class: type[Exception],
        page: Handler,
        replaced: ErrorHandlerCallable | None,
        handlers: dict[type[Exception], ErrorHandlerCallable],
    ) -> None:
        self.error_class = error_class
        self.page = page
        self.replaced = replaced  # the app's own handler of error_class, registered before
        self.handlers = handlers

    def __call__(self, error: Exception) -> ResponseReturnValue:
        """Answer `error` as described in the class docstring."""
        if is_bcapp_request():
            return self.page(error)
        handler = self.apps_handler(error)
        if handler is not None:  # called as Flask calls handlers (one may be async)
            return current_app.ensure_sync(handler)(error)  # type: ignore[no-any-return]
        if isinstance(error, HTTPException):
            return error  # what Flask answers for an HTTP error without a handler
        # What Flask does without a handler: a 500 (its default page, or the app's handler of
        # 500s), or the exception itself where the app propagates exceptions (testing, debug).
        raise error

    def apps_handler(self, error: Exception) -> ErrorHandlerCallable | None:
        """The app's own handler for `error`: Flask's search by class, from this handler's
        class on (Flask found none before it), seeing the app's handlers where bcapp's are."""
        classes = type(error).__mro__
        for error_class in classes[classes.index(self.error_class) :]:
            found = self.handlers.get(error_class)
            if isinstance(found, _Deferring):
                found = found.replaced
            if found is not None:
                return found
        return None


def is_bcapp_request() -> bool:
    """Whether the current request is bcapp's: an `app_page` view, or a declared callback's
    path (bcapp's blueprints have handlers of their own)."""
    view = current_app.view_functions.get(request.endpoint or "")
    return is_app_page(view) or callback_route() is not None


def render_error(
    status: int,
    title: str,
    detail: str,
    missing: list[str] | None = None,
    return_url: str | None = None,
    new_tab_url: str | None = None,
) -> tuple[str, int]:
    """The friendly error page; it shows only the fixed texts it is given, a way home for a
    signed-in user, and in development the simulator's control panel for anyone signed out."""
    signed_in = isinstance(bcapp_session().get("store"), str) and status not in (401, 500)
    home_url = "/" if signed_in and "app" in current_app.blueprints else None
    simulator = service().settings.simulator_url if status == 401 else None
    page = render_template(
        "bcapp/errors/error.html",
        status=status,
        title=title,
        detail=detail,
        missing=missing or [],
        return_url=return_url,
        new_tab_url=new_tab_url,
        home_url=home_url,
        simulator_url=simulator,
    )
    return page, status
