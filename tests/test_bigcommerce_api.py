"""The BigCommerce client's store API against the simulator: tokens, rate limits, failures.

The client and the simulator share one ManualClock: the client's waits advance it, which is
what lets the simulator's rate-limit window pass, so no test sleeps or measures wall time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bcapp.bigcommerce import BigCommerce
from bcapp.clock import ManualClock
from bcapp.errors import ApiError, RateLimited, TokenRejected, UpstreamError
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import DEFAULT_SCOPE, install
from tests.workers import running_worker, wait_until


@pytest.fixture
def token(sim: SimulatorState) -> str:
    return sim.grant_token("abc123", DEFAULT_SCOPE)


@pytest.fixture
def api(settings: Settings, clock: ManualClock) -> Iterator[BigCommerce]:
    made = BigCommerce(settings, clock)
    yield made
    made.close()


def test_get_returns_json(api: BigCommerce, token: str) -> None:
    info = api.get("abc123", token, "v2/store")
    assert info["id"] == "abc123"
    products = api.get("abc123", token, "v3/catalog/products", limit=5, page=2)
    assert [item["id"] for item in products["data"]] == [6, 7, 8, 9, 10]


@pytest.mark.parametrize("path", ["/v2/store", "v2/../x", "v4/store", "https://evil/v2", ""])
def test_paths_are_validated(api: BigCommerce, token: str, path: str) -> None:
    with pytest.raises(ValueError):
        api.get("abc123", token, path)


def test_wrong_token_is_token_rejected(api: BigCommerce, token: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        api.get("abc123", "not-the-token", "v2/store")
    assert isinstance(caught.value, UpstreamError), "errors belong to bcapp's hierarchy"


def test_spent_quota_is_waited_for_before_the_next_call(
    api: BigCommerce, sim: SimulatorState, clock: ManualClock, token: str
) -> None:
    sim.rate_limit_quota, sim.rate_limit_window_ms = 1, 1500
    api.get("abc123", token, "v2/store")
    assert api.get("abc123", token, "v2/store")["id"] == "abc123"
    assert clock.slept == [1.5], "waited exactly for the reset the headers announced"


def test_429_is_waited_out_once(
    settings: Settings, api: BigCommerce, sim: SimulatorState, clock: ManualClock, token: str
) -> None:
    sim.rate_limit_quota, sim.rate_limit_window_ms = 1, 1500
    other = BigCommerce(settings, clock)  # another client spends the quota
    other.get("abc123", token, "v2/store")
    other.close()
    clock.advance(0.25)
    assert api.get("abc123", token, "v2/store")["id"] == "abc123"
    # X-Retry-After is the reset (1.25 s) rounded up to whole seconds: the longer wait wins.
    assert clock.slept == [2.0]


def test_429_beyond_the_budget_is_rate_limited(
    settings: Settings, sim: SimulatorState, clock: ManualClock, token: str
) -> None:
    sim.rate_limit_quota = 1
    spender = BigCommerce(settings, clock)
    spender.get("abc123", token, "v2/store")
    spender.close()
    patient_for_one_second = BigCommerce(settings, clock, max_rate_limit_wait=1)
    with pytest.raises(RateLimited):
        patient_for_one_second.get("abc123", token, "v2/store")
    patient_for_one_second.close()
    assert clock.slept == []


def test_unreachable_api(settings: Settings, clock: ManualClock, token: str) -> None:
    client = BigCommerce(replace(settings, api_url="http://127.0.0.1:9"), clock)
    with pytest.raises(ApiError) as caught:
        client.get("abc123", token, "v2/store")
    client.close()
    assert caught.value.reason == "unreachable"


def test_a_call_within_a_deadline_ends_at_it_whatever_the_api_does(
    api: BigCommerce, sim: SimulatorState, token: str
) -> None:
    release = threading.Event()
    sim.on_api_request = lambda path: release.wait(10)  # the API holds every answer
    try:
        with pytest.raises(ApiError) as caught:
            api.get_within(0.3, "abc123", token, "v2/store")
    finally:
        release.set()
        sim.on_api_request = None
    assert caught.value.reason == "deadline"
    with pytest.raises(ApiError) as spent:
        api.get_within(0, "abc123", token, "v2/store")
    assert spent.value.reason == "deadline", "no time left: not sent at all"


def test_app_page_shows_store_details_and_survives_a_revoked_token(
    client: FlaskClient, sim: SimulatorState, redis_client: Any, prefix: str
) -> None:
    install(client, sim)
    assert "Store abc123" in client.get("/").get_data(as_text=True)
    sim.revoke("abc123")
    for key in redis_client.scan_iter(match=f"{prefix}:{{abc123}}:cache:*"):
        redis_client.delete(key)  # what Redis does once the 5 minutes are over
    page = client.get("/")
    assert page.status_code == 200
    assert "details unavailable" in page.get_data(as_text=True)


def test_the_home_page_asks_the_store_api_once_however_often_it_is_viewed(
    client: FlaskClient, sim: SimulatorState, redis_client: Any, prefix: str
) -> None:
    """L5: the store's quota is shared by every app on it; one session reloading the home page
    must not spend it. The answer is remembered per store and installation for 5 minutes."""
    install(client, sim)
    calls: list[str] = []
    sim.on_api_request = calls.append
    pages = [client.get("/").get_data(as_text=True) for _ in range(50)]
    sim.on_api_request = None
    assert calls == ["v2/store"] and all("Store abc123" in page for page in pages)
    cached = list(redis_client.scan_iter(match=f"{prefix}:{{abc123}}:cache:*"))
    assert len(cached) == 1 and 0 < redis_client.ttl(cached[0]) <= 300


def test_every_call_to_bigcommerce_names_the_app(
    client: FlaskClient, app: Flask, sim: SimulatorState, settings: Settings
) -> None:
    """BigCommerce asks apps to name themselves: `bcapp/<version> (+APP_URL)` by default,
    BCAPP_USER_AGENT otherwise (issue 19, Build 1 in part)."""
    with running_worker(service_of(app)):
        install(client, sim)  # a token request, GET v2/store; the worker: GET and POST v3/hooks
        wait_until(lambda: sim.stores["abc123"].hooks, what="the subscription task")
    assert len(sim.user_agents) >= 4
    assert set(sim.user_agents) == {settings.user_agent}
    assert re.fullmatch(r"bcapp/[0-9][^ ]* \(\+http://127\.0\.0\.1:8000\)", settings.user_agent)
    chosen = Settings.from_env({"BCAPP_USER_AGENT": "Acme Labels/2.1 (+https://acme.example)"})
    assert chosen.user_agent == "Acme Labels/2.1 (+https://acme.example)"
