"""The simulated login service: the OAuth token endpoint and external-install result pages."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from bcapp.simulator.state import SimulatorState

bp = Blueprint("sim_login", __name__)
_FIELDS = ("client_id", "client_secret", "code", "scope", "grant_type", "redirect_uri", "context")


def state() -> SimulatorState:
    """The simulator state of the current app."""
    value = current_app.extensions["bcapp_simulator"]
    assert isinstance(value, SimulatorState)
    return value


@bp.post("/oauth2/token")
def token() -> ResponseReturnValue:
    """Exchange a code, as login.bigcommerce.com does (JSON or form bodies)."""
    sim = state()
    body = _body()
    if body is None:
        return jsonify(error="Invalid format."), 406
    with sim.lock:
        sim.token_requests.append(body)
        sim.user_agents.append(request.headers.get("User-Agent", ""))
    if sim.on_token_request is not None:
        sim.on_token_request()
    if sim.fault == "slow":
        # The code is exchanged (and a token minted) at once, the answer is late: an app that
        # gives up and installs again gets the newer token, as the platform orders its grants.
        answer = _exchange(sim, body)
        time.sleep(sim.slow_seconds)
        sim.record("token endpoint: slow answer sent")
        return answer
    faulty = _fault(sim)
    if faulty is not None:
        return faulty
    return _exchange(sim, body)


def _exchange(sim: SimulatorState, body: dict[str, str]) -> ResponseReturnValue:
    """Check the request and the code; the grant, or the documented error."""
    if any(not body.get(name) for name in _FIELDS) or body["grant_type"] != "authorization_code":
        return jsonify(error="invalid_request"), 400
    if body["client_id"] != sim.client_id or body["client_secret"] != sim.client_secret:
        return jsonify(error="invalid_client"), 401
    if body["redirect_uri"] != sim.redirect_uri:
        return jsonify(
            error="redirect_uri_mismatch",
            error_description="Parameter redirect_uri does not match registered URI",
        ), 400
    pending = sim.redeem(body["code"])
    if pending is None or f"stores/{pending.store_hash}" != body["context"]:
        return jsonify(error="invalid_grant"), 400
    return jsonify(_grant(sim, pending.store_hash, pending.user_id, pending.scope))


@bp.get("/app/<client_id>/install/<outcome>")
def external_install_result(client_id: str, outcome: str) -> ResponseReturnValue:
    """The page BigCommerce shows in the installer modal after an external install."""
    if outcome not in ("succeeded", "failed") or client_id != state().client_id:
        return "unknown app or outcome", 404
    state().record(f"external install {outcome}")
    return render_template("simulator/installed.html", sim=state(), outcome=outcome)


def _body() -> dict[str, str] | None:
    if request.mimetype == "application/json":
        try:
            data = json.loads(request.get_data(as_text=True))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): str(v) for k, v in data.items()}
    return {key: request.form[key] for key in request.form}


def _grant(sim: SimulatorState, store_hash: str, user_id: int, scope: str) -> dict[str, Any]:
    store = sim.stores[store_hash]
    user = store.users[user_id]
    answer: dict[str, Any] = {
        "access_token": sim.grant_token(store_hash, scope),
        "scope": scope,
        "user": {"id": user.id, "username": user.email, "email": user.email},
        "owner": {"id": store.owner.id, "username": store.owner.email, "email": store.owner.email},
        "context": f"stores/{store_hash}",
        "account_uuid": sim.account_uuid,
    }
    if sim.fault == "legacy_shape":  # the pre-2023 shape: no owner, username or account_uuid
        return {key: answer[key] for key in ("access_token", "scope", "context")} | {
            "user": {"id": user.id, "email": user.email}
        }
    if sim.fault == "wrong_context":
        answer["context"] = "stores/someoneelse"
    return answer


def _fault(sim: SimulatorState) -> ResponseReturnValue | None:
    """A deliberately broken answer, when a fault is switched on."""
    fault = sim.fault
    if fault == "500":
        return jsonify(error="server_error"), 500
    if fault == "html":
        return Response("<html>maintenance</html>", status=200, mimetype="text/html")
    if fault == "malformed":
        return Response('{"access_token": "abc', status=200, mimetype="application/json")
    if fault == "empty_object":
        return jsonify({}), 200
    if fault == "no_error_key":
        return jsonify(title="Bad"), 401
    if fault == "huge":
        return jsonify(access_token="x" * (1024 * 1024), scope="", context=""), 200
    if fault == "redirect":
        return redirect("http://127.0.0.1:9/canary", code=307)
    if fault == "drip":
        return Response(_drip(sim.slow_seconds), status=200, mimetype="application/json")
    return None


def _drip(pause: float) -> Iterator[bytes]:
    for byte in b'{"access_token": "drip"}':
        time.sleep(pause)
        yield bytes([byte])
