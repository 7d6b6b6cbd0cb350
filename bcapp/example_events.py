"""The bundled example's declarations: webhook handlers keeping each store's ten latest order,
product and customer events (listed by the example's `/events` page), one App Extension, an
"Open in My app" action on the orders page that opens `/orders/<id>` (bcapp/web/example.py),
and the scope its products page reads.

`make run` declares them (development with example pages and no `BCAPP_RECEIVERS`); name this
module in `BCAPP_RECEIVERS` beside your own to keep them. They run in the worker and reach the
store's data the way any worker does, through `bcapp.connect()`; the event's `hash` keys the
list, so a redelivery changes nothing (handlers run at least once), and the list is updated in
one atomic step (`update_app_setting`), so two workers' events never drop each other.
"""

from __future__ import annotations

import json
import threading

import bcapp
from bcapp import extensions, scopes, webhooks
from bcapp.service.wiring import Bcapp

scopes.require("store_v2_products_read_only", reason="the bundled example's products page")
RECENT = "recent_events"
KEPT = 10
ORDER_ACTION = extensions.add(
    model="ORDERS", context="PANEL", url="/orders/${id}", label="Open in My app",
    locales={"fr-FR": "Ouvrir dans My app"},
)
_lock = threading.Lock()
_connected: list[Bcapp] = []


def _deployment() -> Bcapp:
    with _lock:
        if not _connected:
            _connected.append(bcapp.connect())
        return _connected[0]


@webhooks.on("store/order/*")
@webhooks.on("store/product/*")
@webhooks.on("store/customer/*")
def remember(event: webhooks.Event) -> None:
    """Keep the event at the head of the store's recent list (once per event)."""
    entry = {"scope": event.scope, "id": event.data.get("id"), "at": event.created_at,
             "hash": event.hash}
    _deployment().stores.update_app_setting(
        event.store_hash, RECENT, lambda kept: with_event(kept, entry)
    )


def with_event(kept: str | None, entry: dict[str, object]) -> str:
    """The recent list `kept` (JSON) with `entry` at its head, unless it holds its event."""
    recent = json.loads(kept or "[]")
    if any(known.get("hash") == entry["hash"] for known in recent):
        return kept or "[]"
    return json.dumps([entry, *recent][:KEPT])
