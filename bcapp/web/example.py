"""The bundled example feature, built only with what apps built on bcapp get (bcapp/web/kit.py).

- `/settings`: per-store settings; the owner may edit them (a CSRF-protected form), staff may
  view them. They live in the store's app data (`ctx.app_data`) and go with the installation;
  a save writes only the form's fields, so a worker's event recorded meanwhile is kept.
- `/products`: the store's v3 catalog, ten to a page, through the shared store client.
- `/orders/<id>`: what the example's App Extension opens from an order's Action menu: the
  order, the deep link and the user's locale the load brought.
- `/events`: the store's latest order, product and customer events, as the example's webhook
  handlers (bcapp/example_events.py) recorded them in a worker.
- `/storefront/badge.js` and `POST /storefront/badge`: the example's storefront script, which
  asks the storefront for the shopper's Current Customer JWT and greets them through
  `@storefront.customer` (docs/storefront.md).
- `GET /api/summary`: JSON for the home page's "Latest from the store" card, which fetches it
  with `bcapp.js`'s bearer token: it works in a browser that blocks the app's cookie inside the
  control panel (`@app_api`, docs/sessions.md).
- `/plans`: the example's Unified Billing plans (bcapp/example_events.py), the store's current
  one and, for the owner, a button per plan (to BigCommerce's checkout in the control panel)
  and one to cancel; `/reports`, a page only the Pro plan opens (docs/billing.md).
"""

from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from bcapp import billing, storefront
from bcapp.billing.web import PaidContext, requires_plan
from bcapp.errors import BadRequest
from bcapp.service.store_client import items_of, total_pages
from bcapp.web.bearer import app_api
from bcapp.web.context import service
from bcapp.web.error_pages import friendly
from bcapp.web.kit import AppContext, app_page

bp = friendly(Blueprint("example", __name__))
GREETING_CHARS = 100
PAGE_SIZE = 10
SUMMARY_PRODUCTS = 3
MAX_PAGE = 10_000  # BigCommerce pages further than this are not browsed one by one


@bp.get("/settings")
@app_page
def settings_page(ctx: AppContext) -> str:
    """The store's settings: a form for the owner, a read-only view for staff."""
    return render_template(
        "bcapp/app/settings.html",
        ctx=ctx,
        values=ctx.app_data.get_all(),
        saved=request.args.get("saved") == "1",
    )


@bp.post("/settings")
@app_page(owner_only=True)
def save_settings(ctx: AppContext) -> Response:
    """Save the owner's settings (CSRF-checked by app_page), then show them again."""
    greeting = request.form.get("greeting", "").strip()
    if len(greeting) > GREETING_CHARS or not greeting.isprintable():
        raise BadRequest(
            "invalid_greeting", "The greeting must be 100 printable characters at most."
        )
    show_prices = "1" if request.form.get("show_prices") else "0"
    # Only the form's fields: writing back the whole hash read earlier would undo an event a
    # worker recorded since (`recent_events`, bcapp/example_events.py).
    ctx.app_data.set_many({"greeting": greeting, "show_prices": show_prices})
    return redirect(url_for("example.settings_page", saved=1))


@bp.get("/orders/<int:order_id>")
@app_page
def order_page(ctx: AppContext, order_id: int) -> str:
    """One order, opened from the control panel's order page (the example's App Extension)."""
    return render_template("bcapp/app/order.html", ctx=ctx, order_id=order_id)


@bp.get("/events")
@app_page
def events_page(ctx: AppContext) -> str:
    """The store's recent events, newest first (recorded by the example's handlers)."""
    raw = ctx.app_data.get("recent_events", "[]")
    try:
        recent = [entry for entry in json.loads(raw) if isinstance(entry, dict)]
    except ValueError:
        recent = []
    return render_template("bcapp/app/events.html", ctx=ctx, events=recent)


@bp.get("/products")
@app_page
def products_page(ctx: AppContext) -> str:
    """One page of the store's products, with links to the previous and next pages; a page
    past the last is a 404, as is one that is no page number at all."""
    raw = request.args.get("page", "1")
    page = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 0
    if not 1 <= page <= MAX_PAGE:
        raise NotFound()
    answer = ctx.api.get("v3/catalog/products", page=page, limit=PAGE_SIZE)
    pages = max(total_pages(answer) or 1, 1)
    if page > pages:
        raise NotFound()
    money = service().stores.information(ctx.installation) or {}
    return render_template(
        "bcapp/app/products.html",
        ctx=ctx,
        products=[priced(product, money) for product in items_of(answer)],
        page=page,
        pages=pages,
        show_prices=ctx.app_data.get("show_prices", "1") == "1",
    )


@bp.get("/api/summary")
@app_api
def summary(ctx: AppContext) -> dict[str, object]:
    """Who is signed in and the store's first products, for a script of the page."""
    answer = ctx.api.get("v3/catalog/products", limit=SUMMARY_PRODUCTS)
    names = [item.get("name") for item in items_of(answer) if isinstance(item, dict)]
    return {
        "store_hash": ctx.store_hash,
        "user": ctx.user.email,
        "products": [name for name in names if isinstance(name, str)],
    }


def priced(product: object, money: dict[str, str]) -> object:
    """A product with its price written as the store writes money (`$10.50`, `10,50 €` is the
    store's symbol and side; two decimals unless the store says otherwise)."""
    if not isinstance(product, dict):
        return product
    price = product.get("price")
    if not isinstance(price, int | float) or isinstance(price, bool):
        return product | {"price_shown": ""}
    places = money.get("decimal_places", "2")
    decimals = int(places) if places.isascii() and places.isdigit() and int(places) <= 4 else 2
    amount = f"{price:,.{decimals}f}"
    symbol = money.get("currency_symbol", "")
    on_the_right = money.get("currency_symbol_location") == "right"
    shown = f"{amount} {symbol}" if on_the_right else symbol + amount
    return product | {"price_shown": shown.strip()}


@bp.get("/plans")
@app_page
def plans_page(ctx: AppContext) -> str:
    """The plans, the store's subscription (confirmed here once after a checkout) and, for
    the owner, the buttons to buy, change or cancel."""
    on = service().billing is not None
    status = billing.status(ctx.store_hash) if on else None
    return render_template(
        "bcapp/app/plans.html",
        ctx=ctx,
        billing_on=on,
        plans=billing.declared_plans(),
        status=status,
        now=service().clock.now(),
    )


@bp.post("/plans/<name>")
@app_page(owner_only=True)
def buy_plan(ctx: AppContext, name: str) -> Response:
    """To BigCommerce's checkout for this plan (the form targets the whole control panel)."""
    if service().billing is None or name not in {p.name for p in billing.declared_plans()}:
        raise NotFound()
    return redirect(billing.checkout_url(ctx.store_hash, name))


@bp.post("/plans/cancel")
@app_page(owner_only=True)
def cancel_plan(ctx: AppContext) -> Response:
    """Cancel the store's plan (it stays usable to the end of the paid period)."""
    if service().billing is None:
        raise NotFound()
    billing.cancel(ctx.store_hash)
    return redirect(url_for("example.plans_page"))


@bp.get("/reports")
@app_page
@requires_plan("pro", otherwise="/plans")
def reports_page(ctx: PaidContext) -> str:
    """What only the Pro plan opens."""
    return render_template("bcapp/app/reports.html", ctx=ctx)


@bp.get("/storefront/badge.js")
def badge_script() -> Response:
    """The storefront badge: asks the store who the shopper is, then asks this app to greet
    them (a guest sees nothing)."""
    settings = service().settings
    script = render_template(
        "bcapp/storefront/badge.js", app_url=settings.app_url, client_id=settings.client_id
    )
    answer = Response(script, mimetype="text/javascript")
    answer.headers["Cache-Control"] = "public, max-age=300"
    return answer


@bp.post("/storefront/badge")
@storefront.customer
def badge_greeting(ctx: storefront.ShopperContext) -> dict[str, str]:
    """The greeting for a signed-in shopper of an installed store."""
    return {"greeting": f"Hello, {ctx.customer.email}!"}
