"""The simulator's own JSON API, for `bcapp simulator event` in another process:
`POST /control/events` with `{"scope": "store/order/created", "store": "<hash>"}` fires one
event as the panel's buttons do; `POST /control/billing/advance` with `{"seconds": 2592000}`
lets that much billing time pass (bcapp/simulator/billing.py `advance_billing`).

The simulator listens on loopback only; a browser page of another origin still cannot fire
events through it: the body must be JSON (a cross-site form cannot send that type, and a
script's request would need a CORS preflight the simulator never grants) and a post carrying
another `Origin` is refused, as the panel's forms are (bcapp/simulator/deliveries.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bcapp.simulator import billing, events
from bcapp.simulator.deliveries import from_another_origin
from bcapp.simulator.login import state

bp = Blueprint("sim_control", __name__)
EVENTS_PATH = "/control/events"
ADVANCE_PATH = "/control/billing/advance"
MAX_ADVANCE = 10 * 366 * 86_400  # ten years, as the panel's form allows


@bp.post(EVENTS_PATH)
def fire_event() -> ResponseReturnValue:
    """Fire one event: 200 with the record's id and the hooks it went to; 4xx with `error`."""
    if from_another_origin():
        return jsonify(error="events are fired from the command line, not from a web page"), 403
    if request.mimetype != "application/json":
        return jsonify(error="send the event as JSON (Content-Type: application/json)"), 415
    body = request.get_json(silent=True)
    scope = body.get("scope") if isinstance(body, dict) else None
    store_hash = body.get("store") if isinstance(body, dict) else None
    if not isinstance(scope, str) or not isinstance(store_hash, str):
        return jsonify(error='send {"scope": "store/order/created", "store": "<hash>"}'), 400
    if scope not in events.FIRED:
        known = ", ".join(events.FIRED)
        return jsonify(error=f"unknown event scope {scope!r}; the simulator fires {known}"), 400
    sim = state()
    if store_hash not in sim.stores:
        stores = ", ".join(sorted(sim.stores)) or "none"
        return jsonify(error=f"no store {store_hash!r} in the simulator (it has: {stores})"), 404
    record, hooks = events.fire(sim, store_hash, scope)
    return jsonify(scope=scope, store=store_hash, id=record, hooks=hooks)


@bp.post(ADVANCE_PATH)
def advance_billing() -> ResponseReturnValue:
    """Let billing time pass: 200 with what happened (renewals, suspensions); 4xx with `error`."""
    if from_another_origin():
        return jsonify(error="billing time moves from the command line, not from a web page"), 403
    if request.mimetype != "application/json":
        return jsonify(error="send the request as JSON (Content-Type: application/json)"), 415
    body = request.get_json(silent=True)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_ADVANCE:
        return jsonify(error=f'send {{"seconds": <a whole number from 1 to {MAX_ADVANCE}>}}'), 400
    happened = billing.advance_billing(state(), seconds)
    return jsonify(advanced_seconds=seconds, happened=happened)


@dataclass(frozen=True)
class FiredEvent:
    """What the simulator did with an event fired from the command line."""

    record_id: int
    hooks: int


class NotFired(Exception):
    """The event was not fired; the message says why, in one line."""


def send_event(simulator_url: str, scope: str, store_hash: str) -> FiredEvent:
    """Ask the simulator running at `simulator_url` to fire one event (the client side of
    `POST /control/events`); NotFired when it is not running or refuses."""
    try:
        response = requests.post(
            simulator_url.rstrip("/") + EVENTS_PATH,
            json={"scope": scope, "store": store_hash},
            timeout=10,
        )
        answer = response.json()
    except requests.ConnectionError as exc:
        raise NotFired(
            f"no simulator answers at {simulator_url}: start it with `make run` or "
            "`bcapp simulator`"
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        raise NotFired(f"the simulator at {simulator_url} gave no usable answer") from exc
    unusable = NotFired(f"the simulator at {simulator_url} gave no usable answer")
    if not isinstance(answer, dict):
        raise unusable
    if response.status_code != 200:
        raise NotFired(str(answer.get("error") or f"the simulator answered {response.status_code}"))
    try:
        return FiredEvent(record_id=int(answer["id"]), hooks=int(answer["hooks"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise unusable from exc
