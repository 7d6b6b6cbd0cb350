"""What BigCommerce does around an app: send browsers to its callbacks, call it server-to-server.

The control panel's buttons and `bcapp demo` both drive the app through these functions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from bcapp.simulator.scopes import grant_covers, split
from bcapp.simulator.signing import (
    jwt_claims,
    legacy_payload_data,
    legacy_signed_payload,
    sign_jwt,
    standard_webhook_headers,
)
from bcapp.simulator.state import SimDelivery, SimulatorState, SimUser

CALLBACK_TIMEOUT_SECONDS = 10
UNINSTALLED_SCOPE = "store/app/uninstalled"


@dataclass(frozen=True)
class CallbackResult:
    """What the app answered to a server-to-server callback."""

    status: int
    body: str

    @property
    def ok(self) -> bool:
        """2xx, as BigCommerce expects."""
        return 200 <= self.status < 300


def install_url(sim: SimulatorState, store_hash: str, user_id: int, external: bool = False) -> str:
    """The auth-callback URL the merchant's browser is sent to, with a fresh code.

    `external` marks an install started from the app's external install link
    (``/app/<client_id>/install``), which adds `external_install` (docs/protocol.md, "Install").
    """
    params = {
        "code": sim.issue_code(store_hash, user_id, sim.app_scopes),
        "scope": sim.app_scopes,
        "context": f"stores/{store_hash}",
        "account_uuid": sim.account_uuid,
    }
    if external:
        params["external_install"] = "1"
    return f"{sim.redirect_uri}?{urlencode(params)}"


def needs_authorisation(sim: SimulatorState, store_hash: str) -> bool:
    """True when the store never approved the app's current scopes: not installed, or the
    scopes the app asks for changed in any way since (added or removed, as the README says)."""
    granted = sim.stores[store_hash].scopes
    if not granted or not grant_covers(granted, sim.app_scopes):
        return True
    return set(split(granted)) != set(split(sim.app_scopes))


def open_url(sim: SimulatorState, store_hash: str, user_id: int, url: str = "/") -> str:
    """Where the iframe goes when a user opens the app: load, or auth when scopes changed."""
    if needs_authorisation(sim, store_hash):
        return install_url(sim, store_hash, user_id)
    return f"{sim.app_url}/bigcommerce/load?{_payload_query(sim, store_hash, user_id, url)}"


def uninstall(sim: SimulatorState, store_hash: str, user_id: int) -> CallbackResult:
    """Uninstall: revoke the token, then tell the app (it cannot stop it)."""
    query = _payload_query(sim, store_hash, user_id, "/")
    sim.revoke(store_hash)
    result = _call(f"{sim.app_url}/bigcommerce/uninstall?{query}")
    sim.record(f"uninstall {store_hash}: app answered {result.status}")
    return result


def forge_uninstall(
    sim: SimulatorState, store_hash: str, user_id: int, issued_ago: int = 0
) -> CallbackResult:
    """What a user with access can do: send a genuine, unused load payload to /uninstall.

    BigCommerce signs load, uninstall and remove-user alike, so it verifies there; the app
    stays installed on BigCommerce (the token keeps working).
    """
    skew, sim.clock_skew_seconds = sim.clock_skew_seconds, sim.clock_skew_seconds - issued_ago
    try:
        query = _payload_query(sim, store_hash, user_id, "/")
    finally:
        sim.clock_skew_seconds = skew
    result = _call(f"{sim.app_url}/bigcommerce/uninstall?{query}")
    sim.record(f"user {user_id} sent a load payload to uninstall: app answered {result.status}")
    return result


def remove_user(sim: SimulatorState, store_hash: str, user_id: int) -> CallbackResult:
    """The owner revokes a user's access; the app is told server-to-server."""
    query = _payload_query(sim, store_hash, user_id, "/")
    sim.remove_store_user(store_hash, user_id)
    result = _call(f"{sim.app_url}/bigcommerce/remove-user?{query}")
    sim.record(f"remove user {user_id} from {store_hash}: app answered {result.status}")
    return result


def cancel_store(sim: SimulatorState, store_hash: str) -> list[CallbackResult]:
    """The store is cancelled: `store/app/uninstalled` goes to the app's hooks, signed as
    Standard Webhooks; no uninstall callback comes; the token is revoked."""
    store = sim.stores[store_hash]
    now = int(sim.clock())
    body = json.dumps(
        {
            "scope": UNINSTALLED_SCOPE,
            "store_id": str(1000 + len(store_hash)),
            "data": {"type": "store", "id": 0},
            # One event per store and boot (events.py says why the boot id is in it).
            "hash": hashlib.sha1(f"{sim.boot_id}/{store_hash}".encode()).hexdigest(),  # noqa: S324
            "created_at": now,
            "producer": f"stores/{store_hash}",
        }
    )
    results = []
    for hook in [
        hook for hook in store.hooks if hook.scope == UNINSTALLED_SCOPE and hook.is_active
    ]:
        secret = owner_secret(sim, store_hash, hook.token)
        results.append(deliver(sim, hook.destination, body, now, secret=secret))
    sim.revoke(store_hash)
    store.cancelled = True
    sim.record(f"store {store_hash} cancelled: {len(results)} webhook(s) delivered")
    return results


def owner_secret(sim: SimulatorState, store_hash: str, token: str) -> str:
    """The client secret a hook's deliveries are signed with: its owner's. A hook made with a
    store-level API account's token belongs to that account (BigCommerce's webhooks docs: a
    delivery is signed with the secret of the client that created the hook); any other, to
    the app."""
    with sim.lock:
        store = sim.stores.get(store_hash)
        accounts = store.api_accounts if store is not None else []
        owner = next((account for account in accounts if account.access_token == token), None)
    return owner.client_secret if owner is not None else sim.client_secret


def deliver(
    sim: SimulatorState,
    destination: str,
    body: str,
    now: int,
    webhook_id: str | None = None,
    secret: str | None = None,
) -> CallbackResult:
    """POST one webhook delivery (attempt), signed with `secret` (the hook owner's,
    `owner_secret`); without it, the owner of the store's hook to `destination` is found again
    (a delivery sent again from the panel), else the app."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    secret = secret or _secret_of_destination(sim, destination, body)
    headers = standard_webhook_headers(secret, webhook_id, now, body)
    try:
        response = requests.post(
            destination, data=body.encode(), headers=headers, timeout=CALLBACK_TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        result = CallbackResult(0, type(exc).__name__)
    else:
        result = CallbackResult(response.status_code, response.text[:500])
    with sim.lock:
        attempt = SimDelivery(
            len(sim.deliveries) + 1, destination, result.status, now, webhook_id, body
        )
        sim.deliveries.append(attempt)
    return result


def _secret_of_destination(sim: SimulatorState, destination: str, body: str) -> str:
    from bcapp.simulator.events import receives  # events sends through this module

    try:
        event = json.loads(body)
        store_hash = str(event["producer"]).removeprefix("stores/")
        scope = str(event["scope"])
    except (ValueError, KeyError, TypeError):
        return sim.client_secret
    with sim.lock:
        store = sim.stores.get(store_hash)
        hooks = store.hooks if store is not None else []
        token = next(
            (
                hook.token
                for hook in hooks
                if hook.destination == destination and receives(hook.scope, scope)
            ),
            None,
        )
    return sim.client_secret if token is None else owner_secret(sim, store_hash, token)


def _payload_query(sim: SimulatorState, store_hash: str, user_id: int, url: str) -> str:
    store = sim.stores[store_hash]
    user = store.users.get(user_id) or SimUser(user_id, f"user{user_id}@{store_hash}.example")
    person = {"id": user.id, "email": user.email, "locale": user.locale}
    owner = {"id": store.owner.id, "email": store.owner.email}
    now = int(sim.clock()) + sim.clock_skew_seconds
    if sim.legacy_payloads:
        data = legacy_payload_data(store_hash, person, owner, now=now)
        return urlencode({"signed_payload": legacy_signed_payload(data, sim.client_secret)})
    claims = jwt_claims(sim.client_id, store_hash, person, owner, now=now, url=url)
    return urlencode({"signed_payload_jwt": sign_jwt(claims, sim.client_secret)})


def _call(url: str) -> CallbackResult:
    try:
        response = requests.get(url, timeout=CALLBACK_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        return CallbackResult(0, type(exc).__name__)
    return CallbackResult(response.status_code, response.text[:500])
