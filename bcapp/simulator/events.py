"""Store events delivered as BigCommerce delivers webhooks, with its retries in compressed time.

An event goes to every active hook whose scope receives it (`store/order/*` receives
`store/order/created`), signed as Standard Webhooks with the app's client secret. A delivery
answered with anything but 2xx is tried again after BigCommerce's intervals (60 s, 180 s, …,
86400 s: about 48 h in all; the docs' `webhooks/overview.mdx`), each multiplied by
`SimulatorState.webhook_time_scale`; when the last retry fails the hook is deactivated, as
BigCommerce does. Retries keep the delivery's `webhook-id` (Standard Webhooks); the
`duplicate_deliveries` knob sends each event a second time, with the same id or a new one (the
payload's `hash` is the same), as BigCommerce occasionally does.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from typing import Any

from bcapp.simulator.state import SimHook, SimulatorState

RETRY_SECONDS = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
# What the panel's event buttons send: scope and the light `data` BigCommerce puts in a payload.
PANEL_EVENTS = {
    "order": ("store/order/created", "order"),
    "product": ("store/product/updated", "product"),
    "customer": ("store/customer/updated", "customer"),
}
DUPLICATES = ("none", "same-id", "new-id")


def receives(subscribed: str, scope: str) -> bool:
    """True when a hook of `subscribed` (maybe ending in `/*`) is sent events of `scope`."""
    if subscribed.endswith("/*"):
        return scope.startswith(subscribed[:-1])
    return subscribed == scope


def emit(
    sim: SimulatorState, store_hash: str, scope: str, kind: str, record_id: int | None = None
) -> int:
    """Deliver an event of `scope` about record `record_id` (default: a fresh number) to the
    store's hooks, in the background; how many hooks."""
    store = sim.stores[store_hash]
    with sim.lock:
        sim.event_counter += 1
        counter = sim.event_counter
        number = counter if record_id is None else record_id
        hooks = [hook for hook in store.hooks if hook.is_active and receives(hook.scope, scope)]
    now = int(sim.clock())
    body = json.dumps(
        {
            "scope": scope,
            "store_id": str(1000 + len(store_hash)),
            "data": {"type": kind, "id": number},
            "hash": hashlib.sha1(f"{store_hash}/{scope}/{counter}".encode()).hexdigest(),  # noqa: S324 - as BigCommerce
            "created_at": now,
            "producer": f"stores/{store_hash}",
        }
    )
    for hook in hooks:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        _start(sim, hook, body, webhook_id)
        if sim.duplicate_deliveries != "none":
            same = sim.duplicate_deliveries == "same-id"
            _start(sim, hook, body, webhook_id if same else f"msg_{uuid.uuid4().hex}")
    sim.record(f"{scope} #{number} on {store_hash}: sent to {len(hooks)} hook(s)")
    return len(hooks)


def _start(sim: SimulatorState, hook: SimHook, body: str, webhook_id: str) -> None:
    thread = threading.Thread(target=_deliver, args=(sim, hook, body, webhook_id), daemon=True)
    thread.start()


def _deliver(sim: SimulatorState, hook: SimHook, body: str, webhook_id: str) -> None:
    """The first attempt and the retries, then the hook's deactivation if all failed."""
    from bcapp.simulator.driver import deliver

    for wait in (0, *RETRY_SECONDS):
        if wait:
            time.sleep(wait * sim.webhook_time_scale)
        if not hook.is_active:
            return  # deactivated (or deleted) meanwhile: BigCommerce stops sending
        result = deliver(sim, hook.destination, body, int(sim.clock()), webhook_id)
        if 200 <= result.status < 300:
            return
    with sim.lock:
        hook.is_active = False
    sim.record(f"hook {hook.id} ({hook.scope}) deactivated: every retry failed")


def admin_info(sim: SimulatorState, token: str) -> dict[str, Any]:
    """`GET /v3/hooks/admin`: the token's hooks and the domains blocked now."""
    hooks = [
        {
            "id": hook.id,
            "store_hash": store.hash,
            "scope": hook.scope,
            "destination": hook.destination,
            "is_active": hook.is_active,
            "status": "active" if hook.is_active else "deactivated",
        }
        for store in sim.stores.values()
        for hook in store.hooks
        if hook.token == token
    ]
    return {
        "emails": [],
        "hooks_list": hooks,
        "blocked_domains": [
            {"destination": destination, "time_left": 180, "reasons": []}
            for destination in sorted(sim.blocked_domains)
        ],
    }
