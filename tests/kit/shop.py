"""A small app built on bcapp as a developer builds theirs, for the test kit's own tests.

Its declarations run in `create_app` (not at import), so each test declares them anew and
the registries forget them after it (tests/conftest.py).
"""

from __future__ import annotations

from flask import Flask

import bcapp
from bcapp import AppContext, app_page, scopes, webhooks

seen_orders: list[dict[str, object]] = []


def order_created(event: webhooks.Event) -> None:
    """Read the new order through the store's API (needs the declared orders scope)."""
    seen_orders.append(event.api.get(f"v2/orders/{event.data['id']}"))


def product_updated(event: webhooks.Event) -> None:
    """A handler with a bug."""
    raise ValueError(f"cannot handle product {event.data['id']}")


def create_app() -> Flask:
    """The app, as the developer's factory makes it."""
    scopes.require("store_v2_orders_read_only", reason="reads each new order")
    webhooks.on("store/order/created")(order_created)
    webhooks.on("store/product/updated")(product_updated)
    app = Flask(__name__)
    bcapp.init_app(app)

    @app.get("/orders/summary")
    @app_page
    def orders_summary(ctx: AppContext) -> str:
        return f"Store {ctx.store_hash}: hello {ctx.user.email}"

    @app.get("/products")
    @app_page
    def products(ctx: AppContext) -> str:
        return str(ctx.api.get("v3/catalog/products"))  # a scope the app never declared

    @app.get("/plain")
    def plain() -> str:
        return "no session needed"

    return app
