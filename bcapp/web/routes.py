"""The callback routes and the one method BigCommerce uses for each (shared by the web layer)."""

from __future__ import annotations

from flask import request

# The one method BigCommerce uses for each callback.
METHODS = {
    "auth": "GET",
    "load": "GET",
    "uninstall": "GET",
    "remove-user": "GET",
    "webhooks": "POST",
    "handoff": "GET",
}
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_ROUTE_OF_ENDPOINT = {f"callbacks.{name.replace('-', '_')}": name for name in METHODS}


def callback_route() -> str | None:
    """The callback the current request routes to ("auth", "load", …), or None."""
    route = _ROUTE_OF_ENDPOINT.get(request.endpoint or "")
    if route is None and request.path.startswith("/bigcommerce/"):
        # A method that did not route: judged by the path.
        route = request.path.rstrip("/").removeprefix("/bigcommerce/")
    return route if route in METHODS else None
