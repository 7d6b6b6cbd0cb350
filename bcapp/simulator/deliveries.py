"""The panel's webhook delivery log: each attempt's answer and time, and a manual resend.

A resend is the same delivery again (its `webhook-id` and body), signed afresh with the current
time, as a developer re-sends one from a webhook dashboard after fixing the handler: the app's
intake takes it as a retry of that delivery (bcapp/service/webhooks.py), so it runs the
handlers again only if the first delivery did not complete.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from flask import Blueprint, abort, redirect, request, url_for
from werkzeug.wrappers import Response

from bcapp.simulator import driver
from bcapp.simulator.login import state
from bcapp.simulator.state import SimDelivery, SimulatorState

bp = Blueprint("sim_deliveries", __name__)
LISTED = 20  # the newest attempts the panel shows


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery attempt as the panel lists it."""

    number: int
    sent_at: str  # UTC time of day, as the panel shows it
    scope: str
    destination: str
    webhook_id: str
    answer: str  # the status the app answered, or "no answer"


def recent(sim: SimulatorState) -> list[DeliveryRow]:
    """The newest delivery attempts, newest first."""
    with sim.lock:
        newest = sim.deliveries[-LISTED:][::-1]
    return [_row(delivery) for delivery in newest]


def _row(delivery: SimDelivery) -> DeliveryRow:
    try:
        scope = str(json.loads(delivery.body).get("scope", "?"))
    except (ValueError, AttributeError):
        scope = "?"
    return DeliveryRow(
        number=delivery.number,
        sent_at=time.strftime("%H:%M:%S", time.gmtime(delivery.at)),
        scope=scope,
        destination=delivery.destination,
        webhook_id=delivery.webhook_id,
        answer=str(delivery.status) if delivery.status else "no answer",
    )


def from_another_origin() -> bool:
    """True for a request a page of another origin sent: a browser sends `Origin` with every
    post (tests and scripts send none)."""
    origin = request.headers.get("Origin")
    return origin is not None and origin != request.host_url.rstrip("/")


def same_origin_only() -> None:
    """Refuse a post from a page of another origin (403): the panel's forms change the world,
    and the simulator listens on loopback, where any page the developer opens can reach it."""
    if request.method == "POST" and from_another_origin():
        abort(403, "The control panel takes its forms from its own pages only.")


bp.before_request(same_origin_only)


@bp.post("/deliveries/<int:number>/resend")
def resend(number: int) -> Response:
    """Send one delivery again now: same destination, `webhook-id` and body."""
    sim = state()
    with sim.lock:
        delivery = sim.deliveries[number - 1] if 0 < number <= len(sim.deliveries) else None
    if delivery is None:
        abort(404, f"There is no webhook delivery #{number} in this simulator.")
    result = driver.deliver(
        sim, delivery.destination, delivery.body, int(sim.clock()), delivery.webhook_id
    )
    answer = result.status or "no answer"
    sim.record(f"delivery #{number} ({delivery.webhook_id}) sent again: app answered {answer}")
    return redirect(url_for("sim_panel.home"))
