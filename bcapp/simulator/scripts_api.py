"""The simulated Scripts API (`/v3/content/scripts`, `/v3/content/scripts/<uuid>`) and the
channel sites that name each storefront's URL (`/v3/sites`, `/v3/channels/<id>/site`), as
BigCommerce's `reference/scripts.v3.yml` and `reference/sites.v3.yml` describe them.

A script is visible only to the API client that created it (its `api_client_id`: the app's
client id, or a store-level API account's), so a re-authorised app still sees its scripts; at
most ten per client and store. Scope `store_v2_content` (read-only for reads); a script shown
on the checkout (`checkout`, `all_pages`) needs `store_content_checkout` too, and is left out
of the list of a caller without its read-only scope.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from bcapp.simulator import scripts_rules as rules
from bcapp.simulator.api import (
    authorised,
    control_panel_base,
    refusal,
    run_test_hook,
    with_limits,
)
from bcapp.simulator.login import state
from bcapp.simulator.scopes import allows
from bcapp.simulator.state import SimStore
from bcapp.simulator.storefront_model import SimScript, storefront_url

bp = Blueprint("sim_scripts", __name__)
bp.before_request(run_test_hook)
SCRIPTS = "/stores/<store_hash>/v3/content/scripts"
CHECKOUT_SCOPE = "store_content_checkout"
_NO_SCOPE = "You don't have a required scope to access the endpoint"  # BigCommerce's words
_SITE_CREATED = "2024-01-02T03:04:05Z"


def caller(store: SimStore) -> tuple[str, str]:
    """The client id and granted scopes of the token of this request (authorised already)."""
    token = request.headers.get("X-Auth-Token", "")
    account = next((a for a in store.api_accounts if a.access_token == token), None)
    if account is not None:
        return account.client_id, account.scopes
    return state().client_id, store.scopes


def _may(granted: str, script_visibility: str, writing: bool) -> bool:
    """Whether the caller may see (or write) a script of this visibility."""
    if script_visibility not in rules.ON_CHECKOUT:
        return True
    return allows(granted, CHECKOUT_SCOPE if writing else CHECKOUT_SCOPE + "_read_only")


def _answer(store: SimStore, status: int, title: str, errors: dict[str, str] | None = None
            ) -> Response:
    answer = jsonify(rules.error_body(status, title, errors))
    answer.status_code = status
    return with_limits(answer, store)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(state().clock()))


@bp.get(SCRIPTS)
def list_scripts(store_hash: str) -> ResponseReturnValue:
    """This client's scripts, sorted and paged as v3 lists are; `channel_id:in` filters."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    client_id, granted = caller(store)
    sort = request.args.get("sort", "date_created")
    direction = request.args.get("direction", "asc")
    channels_in = request.args.get("channel_id:in", "")
    wanted = [part for part in channels_in.split(",") if part]
    if sort not in rules.SORTS or direction not in ("asc", "desc") or not all(
        part.isascii() and part.isdigit() for part in wanted
    ):
        return _answer(store, 422, "Invalid sort, direction or channel_id:in.")
    mine = [
        one for one in store.scripts
        if one.api_client_id == client_id and _may(granted, one.visibility, writing=False)
        and (not wanted or str(one.channel_id) in wanted)
    ]
    mine.sort(key=lambda one: rules.sort_key(one, sort), reverse=direction == "desc")
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 250)
    items = mine[(page - 1) * limit : page * limit]
    pages = max(-(-len(mine) // limit), 1)
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    meta = {"pagination": {
        "total": len(mine), "count": len(items), "per_page": limit, "current_page": page,
        "total_pages": pages, "links": links,
    }}
    data = [rules.script_json(one) for one in items]
    return with_limits(jsonify(data=data, meta=meta), store)


@bp.post(SCRIPTS)
def create_script(store_hash: str) -> ResponseReturnValue:
    """Create a script: 200 with it; 422 with `errors` by field, or at the per-app limit."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    client_id, granted = caller(store)
    fields, errors = rules.checked_fields(request.get_json(silent=True), None, store.channels)
    if errors:
        return _answer(store, 422, "The script is invalid.", errors)
    if not _may(granted, fields.get("visibility", "storefront"), writing=True):
        return _answer(store, 403, _NO_SCOPE)
    sim = state()
    with sim.lock:
        if sum(one.api_client_id == client_id for one in store.scripts) >= (
            rules.MAX_SCRIPTS_PER_APP
        ):
            limited = True
        else:
            limited = False
            now = _now()
            script = SimScript(
                uuid=str(uuid.uuid4()), api_client_id=client_id, date_created=now,
                date_modified=now, **fields,
            )
            store.scripts.append(script)
    if limited:
        return _answer(store, 422, rules.LIMIT_REACHED, {"name": rules.LIMIT_REACHED})
    sim.record(f"script '{script.name}' placed on {store_hash} (channel {script.channel_id})")
    return with_limits(jsonify(data=rules.script_json(script), meta={}), store)


@bp.route(SCRIPTS + "/<script_uuid>", methods=["GET", "PUT", "DELETE"])
def one_script(store_hash: str, script_uuid: str) -> ResponseReturnValue:
    """Read, update or delete one of this client's scripts (404 for anyone else's)."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    client_id, granted = caller(store)
    script = next(
        (one for one in store.scripts
         if one.uuid == script_uuid and one.api_client_id == client_id),
        None,
    )
    if script is None:
        return _answer(store, 404, "The requested resource was not found.")
    writing = request.method != "GET"
    if not _may(granted, script.visibility, writing):
        return _answer(store, 403, _NO_SCOPE)
    sim = state()
    if request.method == "DELETE":
        with sim.lock:
            store.scripts = [one for one in store.scripts if one is not script]
        sim.record(f"script '{script.name}' of {store_hash} deleted")
        return with_limits(Response(status=204), store)
    if request.method == "PUT":
        fields, errors = rules.checked_fields(
            request.get_json(silent=True), script, store.channels
        )
        if errors:
            return _answer(store, 422, "The script is invalid.", errors)
        if not _may(granted, fields.get("visibility", script.visibility), writing=True):
            return _answer(store, 403, _NO_SCOPE)
        with sim.lock:
            changed = replace(script, **fields, date_modified=_now())
            store.scripts = [changed if one is script else one for one in store.scripts]
        script = changed
        sim.record(f"script '{script.name}' of {store_hash} updated")
    return with_limits(jsonify(data=rules.script_json(script), meta={}), store)


def site_json(store: SimStore, channel_id: int) -> dict[str, Any]:
    """A channel's site (`_site` of reference/sites.v3.yml): the storefront's URL."""
    url = storefront_url(control_panel_base(), store.hash, channel_id)
    stamps = {"created_at": _SITE_CREATED, "updated_at": _SITE_CREATED}
    return {
        "id": channel_id, "url": url, "channel_id": channel_id, **stamps, "ssl_status": "shared",
        "urls": [{"url": url, "type": kind, **stamps} for kind in ("primary", "canonical")]
        + [{"url": storefront_url(control_panel_base(), store.hash), "type": "checkout",
            **stamps}],
        "is_checkout_url_customized": False,
    }


@bp.get("/stores/<store_hash>/v3/sites")
def sites(store_hash: str) -> ResponseReturnValue:
    """Every channel's site (`channel_id:in` filters), one page."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    wanted = [part for part in request.args.get("channel_id:in", "").split(",") if part]
    data = [site_json(store, channel) for channel in store.channels
            if not wanted or str(channel) in wanted]
    meta = {"pagination": {"total": len(data), "count": len(data), "per_page": 50,
                           "current_page": 1, "total_pages": 1, "links": {"current": "?page=1"}}}
    return with_limits(jsonify(data=data, meta=meta), store)


@bp.get("/stores/<store_hash>/v3/channels/<int:channel_id>/site")
def channel_site(store_hash: str, channel_id: int) -> ResponseReturnValue:
    """One channel's site; 404 for a channel the store does not have."""
    store = authorised(store_hash)
    if isinstance(store, Response):
        return store
    if channel_id not in store.channels:
        return with_limits(refusal(404, "The requested resource was not found."), store)
    return with_limits(jsonify(data=site_json(store, channel_id), meta={}), store)
