"""Callback routes from their one declaration (bcapp/endpoints.py).

A view joins the table with `@callback("name")`; `callbacks_blueprint` routes every declared
callback that has a view, with its one method. The request guards (method refusal,
per-address limit) and the metrics label find the current request's callback through
`callback_route`, so a callback declared once gets all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, g, request
from flask.typing import RouteCallable

from bcapp import endpoints
from bcapp.endpoints import Callback

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
V = TypeVar("V", bound=RouteCallable)
ENDPOINT_PREFIX = "callbacks."
_VIEWS: dict[str, RouteCallable] = {}  # callback name -> its view
_ROUTE_NAMES: dict[str, str] = {}  # Flask endpoint of a routed callback -> callback name
_UNKNOWN: Any = object()


def endpoint_of(name: str) -> str:
    """The Flask endpoint of a callback ("callbacks.remove_user" for "remove-user")."""
    return ENDPOINT_PREFIX + name.replace("-", "_")


def callback(name: str) -> Callable[[V], V]:
    """Make the decorated function the view of the declared callback `name`."""
    if endpoints.named(name) is None:
        raise LookupError(f"callback {name!r} is not declared in bcapp/endpoints.py")

    def register(view: V) -> V:
        _VIEWS[name] = view
        return view

    return register


def forget_view(name: str) -> None:
    """Drop the view of `name` (tests that declare a callback of their own)."""
    _VIEWS.pop(name, None)


def callbacks_blueprint() -> Blueprint:
    """The "callbacks" blueprint: a route for every declared callback that has a view, with its
    one method (HEAD and OPTIONS are refused by the guard, not answered by Flask). A new one
    for each app, so each app's registration (error pages included) is its own."""
    bp = Blueprint(ENDPOINT_PREFIX.rstrip("."), __name__)
    for declared in endpoints.declared():
        view = _VIEWS.get(declared.name)
        if view is not None:
            endpoint = endpoint_of(declared.name)
            bp.add_url_rule(
                declared.path,
                endpoint=endpoint.removeprefix(ENDPOINT_PREFIX),
                view_func=view,
                methods=[declared.method],
            )
            _ROUTE_NAMES[endpoint] = declared.name
    return bp


def callback_route() -> Callback | None:
    """The declared callback the current request is for, or None (looked up once a request).

    Matched by endpoint (any spelling of the path that routes there), else by path (a method
    that did not route).
    """
    found: Callback | None = g.get("bcapp_callback", _UNKNOWN)
    if found is _UNKNOWN:
        endpoint = request.endpoint
        if endpoint is None:  # a method or path that did not route
            found = endpoints.at_path(request.path.rstrip("/"))
        elif endpoint.startswith(ENDPOINT_PREFIX):
            found = endpoints.named(_ROUTE_NAMES.get(endpoint, ""))
        else:
            found = None
        g.bcapp_callback = found
    return found
