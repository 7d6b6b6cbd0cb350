"""The bundled example's declarations: webhook handlers keeping each store's ten latest order,
product and customer events (listed by the example's `/events` page), one App Extension, an
"Open in My app" action on the orders page that opens `/orders/<id>` (bcapp/web/example.py),
the scope its products page reads, two Unified Billing plans and a storefront badge.

`make run` declares them (development with example pages and no `BCAPP_RECEIVERS`); name this
module in `BCAPP_RECEIVERS` beside your own to keep them. They run in the worker and keep the
list in the store's app data (`event.app_data`); the event's `hash` keys the list, so a
redelivery changes nothing (handlers run at least once), and the list is updated in one atomic
step (`event.app_data.update`), so two workers' events never drop each other, and the settings
page, which writes only its own fields, never drops one either.
"""

from __future__ import annotations

import json

from bcapp import billing, extensions, scopes, storefront, webhooks

scopes.require("store_v2_products_read_only", reason="the bundled example's products page")
# Unified Billing (docs/billing.md): the example's plans page sells these; /reports needs Pro.
billing.plan("starter", level="Starter", price="0", interval="MONTH",
             description="The example app, free")
billing.plan("pro", level="Pro", price="9.99", interval="MONTH", trial_days=14,
             description="The example app with reports")
# The storefront (docs/storefront.md): a badge greeting the signed-in shopper, served by the
# example (bcapp/web/example.py) from APP_URL, on each store's default storefront.
storefront.script("greeting-badge", src="/storefront/badge.js", consent_category="functional",
                  load_method="defer", description="The example app greets signed-in shoppers")
RECENT = "recent_events"
KEPT = 10
ORDER_ACTION = extensions.add(
    model="ORDERS", context="PANEL", url="/orders/${id}", label="Open in My app",
    locales={"fr-FR": "Ouvrir dans My app"},
)


@webhooks.on("store/order/*")
@webhooks.on("store/product/*")
@webhooks.on("store/customer/*")
def remember(event: webhooks.Event) -> None:
    """Keep the event at the head of the store's recent list (once per event)."""
    entry = {"scope": event.scope, "id": event.data.get("id"), "at": event.created_at,
             "hash": event.hash}
    event.app_data.update(RECENT, lambda kept: with_event(kept, entry))


def with_event(kept: str | None, entry: dict[str, object]) -> str:
    """The recent list `kept` (JSON) with `entry` at its head, unless it holds its event."""
    recent = json.loads(kept or "[]")
    if any(known.get("hash") == entry["hash"] for known in recent):
        return kept or "[]"
    return json.dumps([entry, *recent][:KEPT])


@billing.on_change
def plan_changed(
    store_hash: str, change: str, old: billing.Subscription | None, new: billing.Subscription
) -> None:
    """Keep the store's plan changes among its recent events (once per change)."""
    from bcapp import connect  # a receiver runs in a worker, outside any request

    entry = {"scope": f"billing/{change}", "id": new.level, "at": new.updated_at,
             "hash": f"{new.id}/{change}/{new.updated_at}/{new.current_period_end}"}
    with connect() as deployment:
        data = deployment.stores.app_data(store_hash)
        data.update(RECENT, lambda kept: with_event(kept, entry))
