"""POST /bigcommerce/webhooks over HTTP, and the simulator's "Cancel store" end to end (R13)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import standard_webhook_headers
from tests.conftest import CLIENT_SECRET, service_of
from tests.helpers import install, installation_of
from tests.servers import app_beside_simulator
from tests.workers import running_worker, wait_until

Snapshot = Callable[[], dict[str, Any]]


def delivery(
    secret: str = CLIENT_SECRET,
    webhook_id: str = "msg_a",
    age: int = 0,
    store: str = "abc123",
    event_age: int = 0,
) -> tuple[bytes, dict[str, str]]:
    """A signed delivery `age` seconds old, of an event that happened `event_age` seconds ago."""
    now = int(time.time())
    body = json.dumps(
        {
            "scope": "store/app/uninstalled",
            "store_id": "1",
            "data": {"type": "store", "id": 0},
            "hash": "0" * 40,
            "created_at": now - event_age,
            "producer": f"stores/{store}",
        }
    )
    return body.encode(), standard_webhook_headers(secret, webhook_id, now - age, body)


def post(client: FlaskClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/bigcommerce/webhooks", data=body, headers=headers)


def test_a_valid_delivery_ends_the_installation_and_a_duplicate_is_acknowledged(
    installed: FlaskClient, app: Flask
) -> None:
    body, headers = delivery()
    first = post(installed, body, headers)
    assert first.status_code == 200 and first.json == {"status": "ended"}
    assert post(installed, body, headers).json == {"status": "duplicate"}
    stored = installation_of(app)
    assert stored is not None and stored.uninstall is not None
    assert stored.uninstall.source == "webhook"
    assert installed.get("/").status_code == 401, "sessions die at once"


@pytest.mark.parametrize(
    ("body_and_headers", "status"),
    [
        (lambda: delivery(secret="wrong-secret-0123456789"), 401),
        (lambda: delivery(age=600), 400),
        (lambda: delivery(secret="wrong-secret-0123456789", age=600), 401),  # no clock told
        (lambda: (b'{"scope": "store/app/uninstalled"}', delivery()[1]), 401),
        (lambda: (delivery()[0], {"webhook-id": "x"}), 400),
        (lambda: (delivery()[0], delivery()[1] | {"webhook-signature": "v1,%%%"}), 401),
        (lambda: (delivery()[0], delivery()[1] | {"webhook-signature": "v1"}), 401),
        (lambda: (delivery()[0], delivery()[1] | {"webhook-timestamp": "1e9"}), 400),
        (lambda: (b"\xff\xfe", delivery()[1]), 401),
    ],
)
def test_forged_stale_or_malformed_deliveries_change_nothing(
    installed: FlaskClient, snapshot: Snapshot, body_and_headers: Any, status: int
) -> None:
    before = snapshot()
    body, headers = body_and_headers()
    response = post(installed, body, headers)
    assert response.status_code == status
    assert "<html" in response.get_data(as_text=True)
    assert snapshot() == before


def test_a_retried_uninstall_webhook_never_ends_a_later_reinstall(
    installed: FlaskClient, app: Flask
) -> None:
    """L2: the event happened two minutes ago, its first delivery failed, the merchant
    re-installed meanwhile; the retry (signed now) is judged by the event's `created_at`."""
    body, headers = delivery(webhook_id="msg_retry", event_age=120)
    response = post(installed, body, headers)
    assert response.status_code == 200 and response.json == {"status": "ignored"}
    stored = installation_of(app)
    assert stored is not None and stored.is_installed, "the newer installation stands"
    assert installed.get("/").status_code == 200


def test_a_chunked_delivery_over_64_kib_is_413_and_one_below_is_read_whole(
    installed: FlaskClient, app: Flask, snapshot: Snapshot
) -> None:
    """Info item of the third review: a body without a length was cut at 64 KiB in silence
    (a signed 70 KiB delivery got 401)."""
    before = snapshot()
    big = installed.post(
        "/bigcommerce/webhooks",
        input_stream=io.BytesIO(b"x" * 70_000),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert big.status_code == 413 and snapshot() == before
    body, headers = delivery(webhook_id="msg_chunked")
    whole = installed.post(
        "/bigcommerce/webhooks",
        input_stream=io.BytesIO(body),
        headers=headers | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert whole.status_code == 200 and whole.json == {"status": "ended"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT"])
def test_webhooks_take_post_only(installed: FlaskClient, method: str) -> None:
    response = installed.open("/bigcommerce/webhooks", method=method)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_cancel_store_in_the_simulator_delivers_the_webhook_to_the_app(
    settings: Settings, sim: SimulatorState
) -> None:
    """Install through HTTP (subscribing), then "Cancel store": no callback, only the webhook."""
    with app_beside_simulator(settings, sim) as (app, panel_url):
        with running_worker(service_of(app)):
            assert install(app.test_client(), sim).status_code == 302
            wait_until(lambda: sim.stores["abc123"].hooks, what="the subscription task")
        [hook] = sim.stores["abc123"].hooks
        assert hook.destination == sim.app_url + "/bigcommerce/webhooks"

        cancelled = requests.post(panel_url + "/stores/abc123/cancel", timeout=10)
        assert cancelled.status_code == 200
        assert [(d.destination, d.status) for d in sim.deliveries] == [(hook.destination, 200)]
        stored = installation_of(app)
        assert stored is not None and stored.uninstall is not None
        assert stored.uninstall.source == "webhook"


def test_genuine_deliveries_from_one_address_never_meet_a_429_and_forged_ones_do(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    """Info item of the third review: BigCommerce sends every store's webhooks from a few
    addresses; only deliveries that fail to verify count against an address."""
    app = make_app(rate_limit_per_address=3)
    client = app.test_client()
    install(client, sim)
    sender = {"REMOTE_ADDR": "192.0.2.200"}
    for number in range(6):
        body, headers = delivery(webhook_id=f"msg_{number}")
        genuine = client.post(
            "/bigcommerce/webhooks", data=body, headers=headers, environ_base=sender
        )
        assert genuine.status_code == 200
    forged_statuses = []
    for _ in range(5):
        body, headers = delivery(secret="wrong-secret-0123456789", webhook_id="msg_forged")
        response = client.post(
            "/bigcommerce/webhooks", data=body, headers=headers, environ_base=sender
        )
        forged_statuses.append(response.status_code)
    assert forged_statuses == [401, 401, 401, 429, 429]


@pytest.mark.parametrize("env", ["development", "production"])
def test_a_delivery_signed_with_another_secret_names_the_variable_in_development_only(
    make_app: Callable[..., Flask],
    snapshot: Snapshot,
    caplog: pytest.LogCaptureFixture,
    env: str,
) -> None:
    """The usual cause of a 401 here is a BC_CLIENT_SECRET copied from elsewhere; development
    says so (naming the variable, never a secret), production keeps the bare refusal line."""
    client = make_app(env=env).test_client()
    before = snapshot()
    wrong = "another-apps-secret-0123456789abcdef"
    response = post(client, *delivery(secret=wrong, webhook_id="msg_wrong"))
    assert response.status_code == 401
    assert snapshot() == before
    lines = [record.getMessage() for record in caplog.records]
    assert "POST /bigcommerce/webhooks -> 401 webhook_signature" in lines
    hints = [line for line in lines if "BC_CLIENT_SECRET" in line]
    if env == "production":
        assert hints == []
    else:
        assert hints == [
            "webhook delivery refused: signed with another secret: is BC_CLIENT_SECRET the "
            "app's client secret from the Developer Portal (My Apps > View Client ID)?"
        ]
    assert not any(secret in caplog.text for secret in (wrong, CLIENT_SECRET))
    valid = post(client, *delivery(webhook_id="msg_right"))
    assert valid.status_code == 200, "a delivery signed with the secret is taken"
    after = [record.getMessage() for record in caplog.records]
    assert sum("BC_CLIENT_SECRET" in line for line in after) == len(hints), "no hint when valid"
