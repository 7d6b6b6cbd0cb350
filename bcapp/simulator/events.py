"""Store events delivered as BigCommerce delivers webhooks, with its retries in compressed time.

An event goes to every active hook whose scope receives it (`store/order/*` receives
`store/order/created`), signed as Standard Webhooks with the app's client secret. A delivery
answered with anything but 2xx is tried again after BigCommerce's intervals (60 s, 180 s, …,
86400 s: about 48 h in all; the docs' `webhooks/overview.mdx`), each multiplied by
`SimulatorState.webhook_time_scale`; when the last retry fails the hook is deactivated, as
BigCommerce does. Retries keep the delivery's `webhook-id` (Standard Webhooks); the
`duplicate_deliveries` knob sends each event a second time, with the same id or a new one (the
payload's `hash` is the same), as BigCommerce occasionally does.

Every event's `hash` mixes in the simulator's `boot_id` and its event number, which is kept
across restarts with the world (persistence.py): the app's intake drops a delivery whose `hash`
it has seen (bcapp/service/webhooks.py), so a restarted simulator must never repeat one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from typing import Any

from bcapp.simulator.api import create_order, record_ids
from bcapp.simulator.state import SimHook, SimulatorState

RETRY_SECONDS = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
# What the panel's event buttons send.
PANEL_EVENTS = {
    "order": "store/order/created",
    "product": "store/product/updated",
    "customer": "store/customer/updated",
}
# The events `bcapp simulator event` can fire (BigCommerce's names, `webhooks/events` docs),
# each with the `data.type` of its payload.
FIRED = {
    f"store/{kind}/{verb}": kind
    for kind, verbs in {
        "order": ("created", "updated", "archived", "statusUpdated"),
        "product": ("created", "updated", "deleted"),
        "customer": ("created", "updated", "deleted"),
        "category": ("created", "updated", "deleted"),
    }.items()
    for verb in verbs
}
DUPLICATES = ("none", "same-id", "new-id")


def receives(subscribed: str, scope: str) -> bool:
    """True when a hook of `subscribed` (maybe ending in `/*`) is sent events of `scope`."""
    if subscribed.endswith("/*"):
        return scope.startswith(subscribed[:-1])
    return subscribed == scope


def fire(sim: SimulatorState, store_hash: str, scope: str) -> tuple[int, int]:
    """Something happens in the store: an event of `scope` (one of `FIRED`) is sent to its
    hooks; (the record's id, how many hooks). A new order is created first, for the app to
    read; the other order events name the newest order."""
    kind = FIRED[scope]
    record: int | None = None
    if scope == "store/order/created":
        record = create_order(sim, store_hash)
    elif kind == "order":
        record = record_ids(sim.stores[store_hash], "ORDERS")[0]
    return emit(sim, store_hash, scope, kind, record)


def payload(
    sim: SimulatorState, store_hash: str, scope: str, kind: str, record_id: int | None = None
) -> dict[str, Any]:
    """A new event's payload about record `record_id` (default: the event's number), as
    BigCommerce sends it; its `hash` is never repeated, across restarts included."""
    with sim.lock:
        sim.event_counter += 1
        counter = sim.event_counter
    event = f"{sim.boot_id}/{store_hash}/{scope}/{counter}"
    return {
        "scope": scope,
        "store_id": str(1000 + len(store_hash)),
        "data": {"type": kind, "id": counter if record_id is None else record_id},
        "hash": hashlib.sha1(event.encode()).hexdigest(),  # noqa: S324 - as BigCommerce
        "created_at": int(sim.clock()),
        "producer": f"stores/{store_hash}",
    }


def emit(
    sim: SimulatorState, store_hash: str, scope: str, kind: str, record_id: int | None = None
) -> tuple[int, int]:
    """Deliver an event of `scope` about record `record_id` (default: a fresh number) to the
    store's hooks, in the background; (the record's id, how many hooks)."""
    event = payload(sim, store_hash, scope, kind, record_id)
    body, number = json.dumps(event), int(event["data"]["id"])
    with sim.lock:
        hooks = [
            hook
            for hook in sim.stores[store_hash].hooks
            if hook.is_active and receives(hook.scope, scope)
        ]
    from bcapp.simulator.driver import owner_secret

    for hook in hooks:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        secret = owner_secret(sim, store_hash, hook.token)  # each hook's own owner signs
        _start(sim, hook, body, webhook_id, secret)
        if sim.duplicate_deliveries != "none":
            same = sim.duplicate_deliveries == "same-id"
            _start(sim, hook, body, webhook_id if same else f"msg_{uuid.uuid4().hex}", secret)
    sim.record(f"{scope} #{number} on {store_hash}: sent to {len(hooks)} hook(s)")
    return number, len(hooks)


def _start(sim: SimulatorState, hook: SimHook, body: str, webhook_id: str, secret: str) -> None:
    thread = threading.Thread(
        target=_deliver, args=(sim, hook, body, webhook_id, secret), daemon=True
    )
    thread.start()


def _deliver(sim: SimulatorState, hook: SimHook, body: str, webhook_id: str, secret: str) -> None:
    """The first attempt and the retries, then the hook's deactivation if all failed."""
    from bcapp.simulator.driver import deliver

    for wait in (0, *RETRY_SECONDS):
        if wait:
            time.sleep(wait * sim.webhook_time_scale)
        if not hook.is_active:
            return  # deactivated (or deleted) meanwhile: BigCommerce stops sending
        result = deliver(sim, hook.destination, body, int(sim.clock()), webhook_id, secret)
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
