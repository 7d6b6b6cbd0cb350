"""The install callback: happy path, re-install, concurrency, and every failure path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store import embedded
from tests.conftest import CALLBACK_URL, CLIENT_ID, CLIENT_SECRET
from tests.helpers import (
    DEFAULT_SCOPE,
    app_location,
    assert_no_secrets,
    auth_query,
    install,
    installation_of,
    users_of,
)
from tests.servers import DripServer

Snapshot = Callable[[], dict[str, Any]]


def stored_token(app: Flask, store_hash: str = "abc123") -> str | None:
    with app.app_context():
        installation = installation_of(app, store_hash)
    return installation.access_token if installation else None


def test_install_stores_encrypted_installation_and_opens_app(
    client: FlaskClient, app: Flask, sim: SimulatorState, snapshot: Snapshot
) -> None:
    response = install(client, sim)

    assert response.status_code == 302
    assert app_location(response) == "/?installed=1"
    token = sim.stores["abc123"].access_token
    assert token and stored_token(app) == token
    everything = json.dumps(snapshot())
    assert token not in everything, "the plaintext token must not reach Redis"
    assert "abc123" in everything
    page = client.get("/?installed=1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Welcome" in html and "abc123" in html and "owner@example.com" in html
    assert "store_v2_products_read_only" in html
    assert_no_secrets(html, token, CLIENT_SECRET)


def test_token_request_carries_the_seven_documented_fields(
    client: FlaskClient, sim: SimulatorState
) -> None:
    install(client, sim)

    [body] = sim.token_requests
    assert body["client_id"] == CLIENT_ID
    assert body["client_secret"] == CLIENT_SECRET
    assert body["grant_type"] == "authorization_code"
    assert body["redirect_uri"] == CALLBACK_URL
    assert body["context"] == "stores/abc123"
    assert body["scope"] == DEFAULT_SCOPE
    assert body["code"]


def test_reinstall_replaces_the_token(client: FlaskClient, app: Flask, sim: SimulatorState) -> None:
    install(client, sim)
    first = stored_token(app)
    install(client, sim)

    assert stored_token(app) == sim.stores["abc123"].access_token != first


def test_owner_flag_follows_the_owner_on_reinstall(
    client: FlaskClient, app: Flask, sim: SimulatorState
) -> None:
    install(client, sim)
    sim.stores["abc123"].owner = sim.stores["abc123"].users[2]  # ownership transferred
    install(client, sim, user_id=2)

    with app.app_context():
        users = {user.id: user.is_owner for user in users_of(app, "abc123")}
    assert users == {1: False, 2: True}


def test_legacy_token_response_without_owner_makes_installer_owner(
    client: FlaskClient, app: Flask, sim: SimulatorState
) -> None:
    sim.fault = "legacy_shape"
    assert install(client, sim).status_code == 302

    with app.app_context():
        installation = installation_of(app, "abc123")
        users = users_of(app, "abc123")
    assert installation is not None and installation.owner_id is None
    assert [(u.id, u.is_owner) for u in users] == [(1, True)]


def test_external_install_returns_to_bigcommerce(
    client: FlaskClient, sim: SimulatorState, settings: Settings
) -> None:
    query = auth_query(sim, external_install="1")
    response = client.get("/bigcommerce/auth?" + query)

    assert response.status_code == 302
    assert response.headers["Location"] == (
        f"{settings.login_url}/app/{CLIENT_ID}/install/succeeded"
    )


def test_external_install_failure_links_to_failed_page(
    client: FlaskClient, sim: SimulatorState, settings: Settings
) -> None:
    sim.fault = "500"
    response = client.get("/bigcommerce/auth?" + auth_query(sim, external_install="1"))

    assert response.status_code == 502
    assert f"/app/{CLIENT_ID}/install/failed" in response.get_data(as_text=True)


def test_concurrent_installs_keep_the_newest_token(
    app: Flask, sim: SimulatorState, snapshot: Snapshot
) -> None:
    queries = [auth_query(sim) for _ in range(6)]
    statuses: list[int] = []

    def run(query: str) -> None:
        statuses.append(app.test_client().get("/bigcommerce/auth?" + query).status_code)

    threads = [threading.Thread(target=run, args=(query,)) for query in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [302] * 6
    assert stored_token(app) == sim.stores["abc123"].access_token
    installation_keys = [key for key in snapshot() if key.endswith(":installation")]
    assert len(installation_keys) == 1


def test_an_install_that_outlives_its_lock_never_stores_its_older_token(
    app: Flask, sim: SimulatorState, redis_client: redis.Redis, prefix: str
) -> None:
    """The lock expires while the first install waits on GET v2/store (as when the store API
    is slower than the lock); a second install takes the lock and stores its newer token,
    which invalidated the first one. The first install's write is then refused."""
    first, second = auth_query(sim), auth_query(sim)
    newer: list[int] = []

    def lock_expires_and_a_newer_install_runs(path: str) -> None:
        if path != "v2/store" or newer:
            return
        newer.append(0)
        redis_client.delete(f"{prefix}:{{abc123}}:install-lock")  # what its PX expiry does
        newer[0] = app.test_client().get("/bigcommerce/auth?" + second).status_code

    sim.on_api_request = lock_expires_and_a_newer_install_runs
    outlived = app.test_client().get("/bigcommerce/auth?" + first)
    sim.on_api_request = None

    assert newer == [302], "the newer install completed"
    assert outlived.status_code == 503
    assert "A newer installation of this store took over" in outlived.get_data(as_text=True)
    assert "Set-Cookie" not in outlived.headers
    assert stored_token(app) == sim.stores["abc123"].access_token, "the newer token is kept"


# --- failures: status, friendly page, nothing stored, nothing leaked -------------------------


def assert_refused(
    response: Any, status: int, snapshot: Snapshot, before: dict[str, Any], *secrets: str
) -> str:
    html: str = response.get_data(as_text=True)
    assert response.status_code == status
    assert "<html" in html and "bcapp" in html
    assert snapshot() == before
    assert "Set-Cookie" not in response.headers
    assert_no_secrets(html, CLIENT_SECRET, *secrets)
    return html


@pytest.mark.parametrize(
    "query",
    [
        "",
        "scope=store_v2_information_read_only&context=stores/abc123",
        "code=abc&context=stores/abc123",
        "code=abc&scope=store_v2_information_read_only",
        "code=&scope=store_v2_information_read_only&context=stores/abc123",
        "code=abc&scope=&context=stores/abc123",
        "code=abc&scope=store_v2_information_read_only&context=",
        "code=a&code=b&scope=store_v2_information_read_only&context=stores/abc123",
        "code=abc&scope=x&context=stores/a&context=stores/b",
        "code=abc&scope=store_v2_information_read_only&context=stores/../x",
        "code=abc&scope=store_v2_information_read_only&context=stores/ABC",
        "code=abc&scope=store_v2_information_read_only&context=stores/a%3Fb%3Dc",
        "code=abc&scope=store_v2_information_read_only&context=stores/%EF%BD%81",
        "code=abc&scope=store_v2_information_read_only&context=stores/a%0d%0aSet-Cookie:x",
        "code=abc&scope=store_v2_information_read_only&context=stores/" + "a" * 1024,
        "code=abc&scope=store_v2_information_read_only&context=store/abc",
        "code=a%20b&scope=store_v2_information_read_only&context=stores/abc123",
        "code=abc&scope=<script>&context=stores/abc123",
        "code=abc&scope=store_v2_information_read_only&context=stores/abc123&account_uuid=%27or",
    ],
)
def test_malformed_auth_query_is_400_without_token_request(
    client: FlaskClient, sim: SimulatorState, snapshot: Snapshot, query: str
) -> None:
    before = snapshot()
    response = client.get("/bigcommerce/auth?" + query)

    assert_refused(response, 400, snapshot, before)  # also: no Set-Cookie header at all
    assert sim.token_requests == []
    assert "Location" not in response.headers, "a refusal redirects nowhere"
    assert all("\n" not in value and "\r" not in value for _, value in response.headers)


def test_query_missing_a_required_scope_is_403_listing_it(
    client: FlaskClient, sim: SimulatorState, snapshot: Snapshot
) -> None:
    before = snapshot()
    response = client.get("/bigcommerce/auth?" + auth_query(sim, scope="store_v2_information"))

    html = assert_refused(response, 403, snapshot, before)
    assert "store_v2_products_read_only" in html
    assert sim.token_requests == []


def test_modify_scope_covers_its_read_only_twin(client: FlaskClient, sim: SimulatorState) -> None:
    scope = "store_v2_information store_v2_products store_v2_orders"
    assert install(client, sim, scope=scope).status_code == 302


def test_grant_missing_a_required_scope_is_403_and_stores_nothing(
    client: FlaskClient, sim: SimulatorState, snapshot: Snapshot
) -> None:
    before = snapshot()
    code = sim.issue_code("abc123", 1, "store_v2_information_read_only")  # platform grants less
    query = f"code={code}&scope={DEFAULT_SCOPE.replace(' ', '+')}&context=stores/abc123"
    response = client.get("/bigcommerce/auth?" + query)

    assert_refused(response, 403, snapshot, before, code, sim.stores["abc123"].access_token or "")
    assert len(sim.token_requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        "500",
        "html",
        "malformed",
        "empty_object",
        "no_error_key",
        "huge",
        "redirect",
        "wrong_context",
    ],
)
def test_token_endpoint_faults_are_502_and_store_nothing(
    client: FlaskClient, sim: SimulatorState, snapshot: Snapshot, fault: str
) -> None:
    before = snapshot()
    sim.fault = fault
    query = auth_query(sim)
    response = client.get("/bigcommerce/auth?" + query)

    assert_refused(
        response,
        502,
        snapshot,
        before,
        query.split("&")[0].split("=")[1],
        sim.stores["abc123"].access_token or "",
    )
    assert len(sim.token_requests) == 1, "a code exchange is never retried"


def test_an_abandoned_slow_exchange_never_invalidates_the_next_installs_token(
    app: Flask, sim: SimulatorState
) -> None:
    """Issue 20, Build 4: the simulator's "slow" fault finished the abandoned exchange later
    and minted a token that silently replaced the next successful install's."""
    sim.fault, sim.slow_seconds = "slow", 2.4  # past the app's 2 s read timeout
    assert app.test_client().get("/bigcommerce/auth?" + auth_query(sim)).status_code == 502
    sim.fault = None
    assert app.test_client().get("/bigcommerce/auth?" + auth_query(sim)).status_code == 302
    for _ in range(100):  # until the abandoned exchange has answered (about a second)
        if "token endpoint: slow answer sent" in sim.events:
            break
        time.sleep(0.05)
    assert "token endpoint: slow answer sent" in sim.events
    assert stored_token(app) == sim.stores["abc123"].access_token, "the newest token is current"


@pytest.mark.parametrize(
    ("fault", "pause", "reason"),
    [
        ("slow", 5.0, "token_endpoint_timeout"),  # silent past the 2 s read timeout
        ("drip", 0.6, "token_endpoint_deadline"),  # a byte every 0.6 s: each read is quick
    ],
)
def test_slow_token_endpoint_is_cut_at_the_deadline(
    client: FlaskClient,
    sim: SimulatorState,
    snapshot: Snapshot,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    pause: float,
    reason: str,
) -> None:
    """The refusal names which bound cut the exchange: the proof, rather than a stopwatch."""
    before = snapshot()
    sim.fault, sim.slow_seconds = fault, pause
    response = client.get("/bigcommerce/auth?" + auth_query(sim))

    assert_refused(response, 502, snapshot, before)
    assert f"-> 502 {reason}" in caplog.text


@pytest.mark.parametrize("shape", ["headers", "body"])
def test_the_deadline_holds_for_every_shape_of_a_dripped_answer(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    snapshot: Snapshot,
    caplog: pytest.LogCaptureFixture,
    shape: str,
) -> None:
    """A grant dripped slower than the deadline (3 s) but faster than the read timeout (2 s per
    byte) is refused: delivered in full (about 8 s) it would be a valid install."""
    grant = {
        "access_token": "dripped-token-0123456789",
        "scope": DEFAULT_SCOPE,
        "user": {"id": 1, "email": "owner@example.com"},
        "context": "stores/abc123",
    }
    before = snapshot()
    with DripServer(grant, shape, pause=0.04) as dripping:
        app = make_app(login_url=dripping.url)
        response = app.test_client().get("/bigcommerce/auth?" + auth_query(sim))
    assert dripping.requests == 1
    assert not dripping.delivered_in_full, "the client hung up at the deadline, not at the end"
    assert_refused(response, 502, snapshot, before, "dripped-token-0123456789")
    assert "-> 502 token_endpoint_deadline" in caplog.text


def test_unreachable_token_endpoint_is_502(
    make_app: Callable[..., Flask], sim: SimulatorState, snapshot: Snapshot
) -> None:
    app = make_app(login_url="http://127.0.0.1:9")
    before = snapshot()
    response = app.test_client().get("/bigcommerce/auth?" + auth_query(sim))

    assert_refused(response, 502, snapshot, before)


def test_replayed_auth_url_is_400_and_keeps_the_installation(
    client: FlaskClient, app: Flask, sim: SimulatorState, snapshot: Snapshot
) -> None:
    query = auth_query(sim)
    client.get("/bigcommerce/auth?" + query)
    token = stored_token(app)
    before = snapshot()
    response = app.test_client().get("/bigcommerce/auth?" + query)

    html = assert_refused(response, 400, snapshot, before, token or "")
    assert "already used" in html
    assert stored_token(app) == token


def test_wrong_client_secret_is_502(
    make_app: Callable[..., Flask], sim: SimulatorState, snapshot: Snapshot
) -> None:
    app = make_app(client_secret="not-the-registered-secret")
    before = snapshot()
    response = app.test_client().get("/bigcommerce/auth?" + auth_query(sim))

    assert_refused(response, 502, snapshot, before, "not-the-registered-secret")


def test_redis_down_before_the_exchange_is_503_without_a_token_request(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    app = make_app(redis_url="redis://127.0.0.1:9/0")
    response = app.test_client().get("/bigcommerce/auth?" + auth_query(sim))

    assert response.status_code == 503
    assert "temporarily unavailable" in response.get_data(as_text=True)
    assert sim.token_requests == [], "the install lock failed first: no code was spent"


def test_redis_down_after_the_exchange_is_503(
    make_app: Callable[..., Flask], sim: SimulatorState, tmp_path: Path
) -> None:
    """Redis dies while the token request is in flight: the answer is a 503 page, not a 500."""
    instance = tmp_path / "doomed-redis"
    app = make_app(redis_url=embedded.ensure_running(instance))
    sim.on_token_request = lambda: embedded.stop(instance)
    try:
        response = app.test_client().get("/bigcommerce/auth?" + auth_query(sim))
    finally:
        embedded.stop(instance)

    html = response.get_data(as_text=True)
    assert len(sim.token_requests) == 1, "the exchange happened"
    assert response.status_code == 503
    assert "temporarily unavailable" in html and "Set-Cookie" not in response.headers
    assert_no_secrets(html, CLIENT_SECRET, sim.stores["abc123"].access_token or "")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: FlaskClient, method: str) -> None:
    response = client.open("/bigcommerce/auth", method=method)
    assert response.status_code == 405
    assert "<html" in response.get_data(as_text=True)


def test_a_request_for_a_foreign_host_is_refused_before_any_work(
    client: FlaskClient, sim: SimulatorState, snapshot: Snapshot
) -> None:
    before = snapshot()
    response = client.get(
        "/bigcommerce/auth?" + auth_query(sim),
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 400
    assert "evil" not in str(response.headers) + response.get_data(as_text=True)
    assert sim.token_requests == [] and snapshot() == before


def test_the_token_exchange_redirect_uri_comes_from_settings(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    client = make_app(extra_trusted_hosts=("other.example",)).test_client()
    response = client.get(
        "/bigcommerce/auth?" + auth_query(sim),
        headers={"Host": "other.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 302
    assert app_location(response) == "/?installed=1"
    assert sim.token_requests[0]["redirect_uri"] == CALLBACK_URL


def test_security_headers_on_pages(client: FlaskClient) -> None:
    response = client.get("/bigcommerce/auth")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://*.bigcommerce.com" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_405_names_the_allowed_methods(client: FlaskClient) -> None:
    response = client.post("/bigcommerce/load")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_https_app_url_uses_a_host_prefixed_cookie(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    app = make_app(app_url="https://app.example.com", auth_callback_url=CALLBACK_URL)
    response = install(app.test_client(), sim)
    assert response.headers["Set-Cookie"].startswith("__Host-bcapp_session=")
    assert "Domain" not in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_install_of_another_store_replaces_the_session(
    client: FlaskClient, sim: SimulatorState, app: Flask
) -> None:
    """Login CSRF (docs/security.md R3): a victim holding a session for A installs B."""
    sim.add_store("xyz789", owner_id=7, owner_email="attacker@example.com")
    install(client, sim)
    assert "abc123" in client.get("/").get_data(as_text=True)
    install(client, sim, store_hash="xyz789", user_id=7)
    page = client.get("/").get_data(as_text=True)
    assert "xyz789" in page and "abc123" not in page
    with app.app_context():
        assert [u.id for u in users_of(app, "abc123")] == [1]
        assert [u.id for u in users_of(app, "xyz789")] == [7]
