"""Abuse limits per client address and per store, and the bounded install-lock wait.

In-process tests stop a ManualClock at the present, so a window never ends in the middle of a
test, and move it to reach the next window; the gunicorn test starts its flood at the start of a
window and shows the counters are shared by two workers.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask

from bcapp.clock import ManualClock
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.helpers import auth_query, install, signed
from tests.servers import environment_for, gunicorn

Snapshot = Callable[[], dict[str, Any]]
JUNK = "/bigcommerce/load?signed_payload_jwt=junk"
XYZ_OWNER = {"id": 7, "email": "owner@xyz789.example"}
WINDOW = 4  # seconds, for the gunicorn test


@pytest.fixture
def clock() -> ManualClock:
    """The present, stopped: payloads minted now still verify, windows only move on request."""
    return ManualClock(start=float(int(time.time())))


def from_address(app: Flask, address: str, url: str) -> Any:
    return app.test_client().get(url, environ_base={"REMOTE_ADDR": address})


def test_a_flooding_address_gets_429_pages_while_another_is_served(
    make_app: Callable[..., Flask], redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    app = make_app(clock, rate_limit_per_address=3, rate_limit_window_seconds=60)
    statuses = [from_address(app, "198.51.100.7", JUNK).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]

    refused = from_address(app, "198.51.100.7", JUNK)
    assert "Too many requests" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Set-Cookie" not in refused.headers
    assert from_address(app, "198.51.100.8", JUNK).status_code == 400, "another address served"
    assert from_address(app, "198.51.100.7", "/healthz").status_code == 200, "callbacks only"

    counters = list(redis_client.scan_iter(match=f"{prefix}:*:hits:*"))
    assert counters and all(0 < redis_client.ttl(key) <= 60 for key in counters)
    assert not any("198.51.100" in key for key in counters), "addresses are hashed"


def test_every_kind_of_load_request_counts_against_its_address(
    make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock
) -> None:
    app = make_app(clock, rate_limit_per_address=3, rate_limit_window_seconds=60)
    assert install(app.test_client(), sim).status_code == 302
    address = "198.51.100.9"
    repeated = "/bigcommerce/load?signed_payload_jwt=a&signed_payload_jwt=b"
    kept = signed()
    statuses = [
        from_address(app, address, repeated).status_code,  # refused while reading the query
        from_address(app, address, JUNK).status_code,  # refused by the verifier
        from_address(app, address, f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code,
        from_address(app, address, f"/bigcommerce/load?signed_payload_jwt={kept}").status_code,
    ]
    assert statuses == [400, 400, 302, 429]
    elsewhere = from_address(app, "198.51.100.10", f"/bigcommerce/load?signed_payload_jwt={kept}")
    assert elsewhere.status_code == 302, "the refused payload was not spent"


def test_each_route_has_its_own_budget(
    make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(clock, rate_limit_per_address=2)
    for _ in range(2):
        from_address(app, "198.51.100.7", JUNK)
    assert from_address(app, "198.51.100.7", JUNK).status_code == 429
    assert from_address(app, "198.51.100.7", "/bigcommerce/auth").status_code == 400


def test_limits_reset_with_the_next_window(
    make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    app = make_app(clock, rate_limit_per_address=1)
    assert from_address(app, "198.51.100.7", JUNK).status_code == 400
    assert from_address(app, "198.51.100.7", JUNK).status_code == 429
    clock.advance(60)
    assert from_address(app, "198.51.100.7", JUNK).status_code == 400


def test_one_address_flooding_auth_cannot_block_a_stores_genuine_install(
    make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock
) -> None:
    """M2: bogus /auth requests for a store from one address, as fast as it can: it starts at
    most BCAPP_RATE_LIMIT_AUTH_PER_ADDRESS token requests a window, and the merchant's genuine
    install from another address goes through (nothing unauthenticated is counted per store)."""
    app = make_app(clock, rate_limit_auth_per_address=10)
    flood = "/bigcommerce/auth?code=bogus&scope=store_v2_information_read_only"
    flood += "+store_v2_products_read_only&context=stores/abc123"
    statuses = [from_address(app, "198.51.100.66", flood).status_code for _ in range(60)]
    assert statuses[:10] == [400] * 10 and set(statuses[10:]) == {429}
    assert len(sim.token_requests) == 10, "ten token requests, then none"
    genuine = app.test_client().get(
        "/bigcommerce/auth?" + auth_query(sim), environ_base={"REMOTE_ADDR": "203.0.113.5"}
    )
    assert genuine.status_code == 302


def test_an_ipv6_network_and_every_spelling_of_an_address_share_one_budget(
    make_app: Callable[..., Flask], clock: ManualClock
) -> None:
    """L6: 200 addresses of one /64, or one address written five ways, are one client."""
    app = make_app(clock, rate_limit_per_address=5)
    same_64 = [f"2001:db8:1:2::{n:x}" for n in range(1, 9)]
    assert [from_address(app, address, JUNK).status_code for address in same_64] == (
        [400] * 5 + [429] * 3
    )
    assert from_address(app, "2001:db8:1:3::1", JUNK).status_code == 400, "the next /64 is not"
    spellings = [
        "192.0.2.1",
        "::ffff:192.0.2.1",
        "::ffff:c000:201",
        "192.0.2.1 ",
        "0:0:0:0:0:ffff:c000:201",
    ]
    assert [from_address(app, address, JUNK).status_code for address in spellings] == (
        [400] * 5
    )
    assert from_address(app, "192.0.2.1", JUNK).status_code == 429


def test_only_verified_payloads_count_against_a_store(
    make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock
) -> None:
    app = make_app(clock, rate_limit_per_store=2, rate_limit_per_address=0)
    client = app.test_client()
    install(client, sim)
    forged = signed(iss="not-bc")
    for _ in range(5):  # forged payloads naming the store do not spend its budget
        assert client.get(f"/bigcommerce/load?signed_payload_jwt={forged}").status_code == 401
    loads = [client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}") for _ in range(3)]
    assert [response.status_code for response in loads] == [302, 302, 429]


def test_an_install_waits_a_bounded_time_for_a_busy_store(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    redis_client: redis.Redis,
    prefix: str,
    snapshot: Snapshot,
) -> None:
    redis_client.set(f"{prefix}:{{abc123}}:install-lock", "a-slow-install", px=30_000)
    before = snapshot()
    app = make_app(install_lock_wait_seconds=0.3)
    response = app.test_client().get("/bigcommerce/auth?" + auth_query(sim))

    assert response.status_code == 503
    assert "already in progress" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "1"
    assert sim.token_requests == [], "no token request while another install holds the store"
    assert snapshot() == before


@pytest.mark.slow
def test_abuse_limits_through_gunicorn_are_shared_by_two_workers(
    settings: Settings, sim: SimulatorState, tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    sim.add_store("xyz789", owner_id=7)
    client = make_app().test_client()
    install(client, sim)
    install(client, sim, store_hash="xyz789", user_id=7)
    env = environment_for(settings) | {
        "BCAPP_RATE_LIMIT_PER_ADDRESS": "6",
        "BCAPP_RATE_LIMIT_PER_STORE": "4",
        "BCAPP_RATE_LIMIT_WINDOW": str(WINDOW),
    }
    other_store_load = f"/bigcommerce/load?signed_payload_jwt={signed('xyz789', user=XYZ_OWNER)}"
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as url:
        time.sleep(WINDOW - time.time() % WINDOW + 0.05)  # start with a fresh window
        flood = [raw_status(url, "127.0.0.1", JUNK) for _ in range(10)]
        other_address = raw_status(url, "127.0.0.2", JUNK)
        store_flood = [
            raw_status(url, f"127.0.0.{3 + n}", f"/bigcommerce/load?signed_payload_jwt={signed()}")
            for n in range(6)
        ]
        other_store = raw_status(url, "127.0.0.20", other_store_load)
        reset = wait_until_served(url, "127.0.0.1", JUNK)

    assert flood[:6] == [400] * 6 and set(flood[6:]) == {429}
    assert other_address == 400, "another address is served"
    assert store_flood[:4] == [302] * 4 and set(store_flood[4:]) == {429}
    assert other_store == 302, "another store is served"
    assert reset == 400, "the limit resets with the next window"


def raw_status(url: str, source: str, target: str) -> int:
    """GET `target` from loopback address `source` (each one a different client address)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname or "", parts.port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", target)
        return conn.getresponse().status
    finally:
        conn.close()


def wait_until_served(url: str, source: str, target: str) -> int:
    """The first status other than 429 within 10 s of polling (a window is 4 s here)."""
    status = 429
    for _ in range(50):
        status = raw_status(url, source, target)
        if status != 429:
            break
        time.sleep(0.2)
    return status
