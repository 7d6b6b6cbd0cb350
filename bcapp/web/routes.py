"""Callback routes from their one declaration (bcapp/endpoints.py).

A view joins the table with `@callback("name")`; `register_callbacks` adds the route of every
declared callback that has a view, with its one method. The request guards (method refusal,
per-address limit) and the metrics label find the current request's callback through
`callback_route`, so a callback declared once gets all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, request
from flask.typing import RouteCallable

from bcapp import endpoints
from bcapp.endpoints import Callback

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
V = TypeVar("V", bound=RouteCallable)
_VIEWS: dict[str, RouteCallable] = {}


def endpoint_of(name: str) -> str:
    """The Flask endpoint of a callback ("callbacks.remove_user" for "remove-user")."""
    return "callbacks." + name.replace("-", "_")


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


def register_callbacks(app: Flask) -> None:
    """Route every declared callback that has a view, with its one method (HEAD and OPTIONS
    are refused by the guard, not answered by Flask)."""
    for declared in endpoints.declared():
        view = _VIEWS.get(declared.name)
        if view is not None:
            app.add_url_rule(
                declared.path,
                endpoint=endpoint_of(declared.name),
                view_func=view,
                methods=[declared.method],
            )


def callback_route() -> Callback | None:
    """The declared callback the current request is for, or None.

    Matched by endpoint (any spelling of the path that routes there), else by path (a method
    that did not route).
    """
    endpoint, path = request.endpoint or "", request.path.rstrip("/")
    for declared in endpoints.declared():
        if endpoint == endpoint_of(declared.name) or path == declared.path:
            return declared
    return None
