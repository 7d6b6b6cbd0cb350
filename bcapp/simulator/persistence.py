"""The simulator's world kept across restarts: stores, users, tokens, hooks, API accounts, the
storefront's channels, customers and scripts, the number of events sent so far, and Unified
Billing's checkouts and subscriptions (shopper sessions and Customer Login visits are not kept).

`make run` restarts the simulator with the app, and the app's Redis remembers its installs; a
simulator that forgot its stores showed "not installed" for stores the app lists as installed.
So the durable part of the world is written to `instance/simulator.json` (mode 600: it holds the
simulated stores' tokens) after every request that changed it, atomically, and read back at
start. Rate-limit windows and pending codes are not kept: they are minutes long anyway.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bcapp.simulator.billing_model import SimCheckout, SimSubscription
from bcapp.simulator.state import SimApiAccount, SimHook, SimStore, SimulatorState, SimUser
from bcapp.simulator.storefront_model import SimCustomer, SimScript, seeded_customers

_TRANSIENT = ("requests_left", "window_started_ms", "rejected")


def snapshot(state: SimulatorState) -> str:
    """The durable world as JSON text (stable: equal worlds give equal text)."""
    with state.lock:
        stores = [
            {key: value for key, value in asdict(store).items() if key not in _TRANSIENT}
            for store in state.stores.values()
        ]
        counter = state.event_counter
        checkouts = [asdict(checkout) for checkout in state.checkouts.values()]
        subscriptions = [asdict(subscription) for subscription in state.subscriptions.values()]
    return json.dumps(
        {
            "version": 1,
            "stores": stores,
            "event_counter": counter,
            "checkouts": checkouts,
            "subscriptions": subscriptions,
        },
        sort_keys=True,
    )


def save(state: SimulatorState, path: Path, text: str | None = None) -> None:
    """Write the world to `path` atomically, readable by this user only."""
    text = snapshot(state) if text is None else text
    # A temporary file of this save's own (mkstemp: mode 600, a unique name) beside `path`, so
    # the rename stays on one file system: saves of concurrent requests once shared one
    # `.partial` name, and one renamed another's half-written file or found it gone.
    descriptor, partial = tempfile.mkstemp(
        prefix=path.name + ".", suffix=".partial", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def load(state: SimulatorState, path: Path) -> bool:
    """Replace the world's stores with those kept at `path`; False when there is none to read
    (a missing or unreadable file leaves the world as it is)."""
    try:
        kept = json.loads(path.read_text())
        stores = {store["hash"]: _store(store) for store in kept["stores"]}
        counter = int(kept.get("event_counter", 0))
        checkouts = [SimCheckout(**checkout) for checkout in kept.get("checkouts", [])]
        subscriptions = [SimSubscription(**kept_one) for kept_one in kept.get("subscriptions", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    with state.lock:
        state.stores = stores
        state.checkouts = {checkout.id: checkout for checkout in checkouts}
        state.subscriptions = {subscription.id: subscription for subscription in subscriptions}
        state.subscription_counter = max((s.seq for s in subscriptions), default=0)
        # Event numbers go on from the last run's: they are record ids and part of each
        # payload's `hash`, which the app de-duplicates on (events.py).
        state.event_counter = max(state.event_counter, counter)
        state.hook_counter = max(
            (hook.id for store in stores.values() for hook in store.hooks), default=0
        )
        state.extension_counter = max(
            (
                int(str(ext["id"]).rsplit("/", 1)[-1])
                for store in stores.values()
                for ext in store.app_extensions
            ),
            default=0,
        )
    return True


def _store(data: dict[str, Any]) -> SimStore:
    return SimStore(
        hash=data["hash"],
        owner=SimUser(**data["owner"]),
        users={int(uid): SimUser(**user) for uid, user in data["users"].items()},
        access_token=data["access_token"],
        scopes=data["scopes"],
        hooks=[SimHook(**hook) for hook in data["hooks"]],
        api_accounts=[SimApiAccount(**account) for account in data["api_accounts"]],
        cancelled=bool(data.get("cancelled", False)),
        orders=list(data.get("orders", [])),
        app_extensions=list(data.get("app_extensions", [])),
        # A file from before Unified Billing: the store gets its merchant account now.
        account_uuid=str(data.get("account_uuid") or uuid.uuid4()),
        next_payment_fails=bool(data.get("next_payment_fails", False)),
        # A file from before the storefront: the store gets its channel and customers now.
        channels=[int(channel) for channel in data.get("channels", [1])],
        customers=(
            {int(cid): SimCustomer(**one) for cid, one in data["customers"].items()}
            if "customers" in data
            else seeded_customers(data["hash"])
        ),
        scripts=[SimScript(**script) for script in data.get("scripts", [])],
        cookie_consent_banner=bool(data.get("cookie_consent_banner", True)),
    )
