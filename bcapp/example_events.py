"""The bundled example's declarations: webhook handlers keeping each store's ten latest order,
product and customer events (listed by the example's `/events` page), and one App Extension, an
"Open in My app" action on the orders page that opens `/orders/<id>` (bcapp/web/example.py).

`make run` declares them (development with example pages and no `BCAPP_RECEIVERS`); name this
module in `BCAPP_RECEIVERS` beside your own to keep them. They run in the worker and reach the
store's data the way any worker does, through `bcapp.connect()`; the event's `hash` keys the
list, so a redelivery changes nothing (handlers run at least once).
"""

from __future__ import annotations

import json
import threading

import bcapp
from bcapp import extensions, webhooks
from bcapp.service.wiring import Bcapp

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
    stores = _deployment().stores
    values = stores.app_settings(event.store_hash)
    recent = json.loads(values.get(RECENT, "[]"))
    if any(entry.get("hash") == event.hash for entry in recent):
        return
    entry = {"scope": event.scope, "id": event.data.get("id"), "at": event.created_at,
             "hash": event.hash}
    values[RECENT] = json.dumps([entry, *recent][:KEPT])
    stores.save_app_settings(event.store_hash, values)
