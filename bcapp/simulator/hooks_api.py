"""The simulated webhook API: `/v3/hooks` (list, create), `/v3/hooks/<id>` (read, update,
delete) and `/v3/hooks/admin`, as BigCommerce's `reference/webhooks.v3.yml` describes them.

A hook is visible only to the token that created it; one hook per scope and destination;
destinations are https (http is allowed on loopback, for `make run`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from bcapp.simulator import events
from bcapp.simulator.api import authorised, refusal, run_test_hook, with_limits
from bcapp.simulator.login import state
from bcapp.simulator.state import SimHook

bp = Blueprint("sim_hooks", __name__)
bp.before_request(run_test_hook)


@bp.get("/stores/<store_hash>/v3/hooks")
def list_hooks(store_hash: str) -> ResponseReturnValue:
    """The hooks this token created (others are invisible to it, as on BigCommerce)."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    token = request.headers.get("X-Auth-Token", "")
    data = [_hook_json(hook) for hook in store.hooks if hook.token == token]
    return with_limits(jsonify(data=data, meta={}), store)


@bp.post("/stores/<store_hash>/v3/hooks")
def create_hook(store_hash: str) -> ResponseReturnValue:
    """Subscribe to a scope; the destination must be https (http is allowed on loopback)."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    body = request.get_json(silent=True)
    scope = body.get("scope") if isinstance(body, dict) else None
    destination = body.get("destination") if isinstance(body, dict) else None
    if (
        not isinstance(scope, str)
        or not isinstance(destination, str)
        or not _deliverable(destination)
    ):
        return with_limits(refusal(422, "Invalid scope or destination"), store)
    token = request.headers.get("X-Auth-Token", "")
    if any(
        h.token == token and h.scope == scope and h.destination == destination
        for h in store.hooks
    ):  # one hook per store, app, scope and destination
        return with_limits(refusal(422, "A webhook for this scope and destination exists"), store)
    sim = state()
    with sim.lock:
        sim.hook_counter += 1
        hook = SimHook(
            id=sim.hook_counter,
            scope=scope,
            destination=destination,
            is_active=bool(body.get("is_active", True)) if isinstance(body, dict) else True,
            token=request.headers.get("X-Auth-Token", ""),
        )
        store.hooks.append(hook)
    sim.record(f"webhook subscription {scope} for {store_hash}")
    return with_limits(jsonify(data=_hook_json(hook), meta={}), store)


@bp.get("/stores/<store_hash>/v3/hooks/admin")
def hooks_admin(store_hash: str) -> ResponseReturnValue:
    """The token's hooks and the domains blocked now (`GET /v3/hooks/admin`)."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    token = request.headers.get("X-Auth-Token", "")
    return with_limits(jsonify(data=events.admin_info(state(), token), meta={}), store)


@bp.route("/stores/<store_hash>/v3/hooks/<int:hook_id>", methods=["GET", "PUT", "DELETE"])
def one_hook(store_hash: str, hook_id: int) -> ResponseReturnValue:
    """Read, update (`is_active`, `destination`) or delete one of this token's hooks."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    token = request.headers.get("X-Auth-Token", "")
    hook = next((h for h in store.hooks if h.id == hook_id and h.token == token), None)
    if hook is None:
        return with_limits(refusal(404, "Webhook not found"), store)
    sim = state()
    if request.method == "DELETE":
        with sim.lock:
            store.hooks.remove(hook)
        sim.record(f"webhook {hook.scope} of {store_hash} deleted")
    elif request.method == "PUT":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body:
            return with_limits(refusal(422, "At least one field is required"), store)
        destination = body.get("destination", hook.destination)
        if not isinstance(destination, str) or not _deliverable(destination):
            return with_limits(refusal(422, "Invalid destination"), store)
        with sim.lock:
            hook.destination = destination
            hook.is_active = bool(body.get("is_active", hook.is_active))
        sim.record(f"webhook {hook.scope} of {store_hash} updated (active: {hook.is_active})")
    return with_limits(jsonify(data=_hook_json(hook), meta={}), store)


def _hook_json(hook: SimHook) -> dict[str, object]:
    return {
        "id": hook.id,
        "scope": hook.scope,
        "destination": hook.destination,
        "is_active": hook.is_active,
    }


def _deliverable(destination: str) -> bool:
    parts = urlsplit(destination)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)
