"""The store API client against the simulator's API: tokens, rate limits, failures."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store_api import RateLimited, StoreApi, StoreApiError, TokenRejected
from tests.helpers import DEFAULT_SCOPE, install


class RecordingSleep:
    """Really sleeps, and remembers how long it was asked to."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def token(sim: SimulatorState) -> str:
    return sim.grant_token("abc123", DEFAULT_SCOPE)


def test_get_returns_json(settings: Settings, token: str) -> None:
    info = StoreApi(settings).get("abc123", token, "v2/store")
    assert info["id"] == "abc123"
    products = StoreApi(settings).get("abc123", token, "v3/catalog/products", limit=5, page=2)
    assert [item["id"] for item in products["data"]] == [6, 7, 8, 9, 10]


@pytest.mark.parametrize("path", ["/v2/store", "v2/../x", "v4/store", "https://evil/v2", ""])
def test_paths_are_validated(settings: Settings, token: str, path: str) -> None:
    with pytest.raises(ValueError):
        StoreApi(settings).get("abc123", token, path)


def test_wrong_token_is_token_rejected(settings: Settings, token: str) -> None:
    with pytest.raises(TokenRejected):
        StoreApi(settings).get("abc123", "not-the-token", "v2/store")


def test_spent_quota_is_waited_for_before_the_next_call(
    settings: Settings, sim: SimulatorState, token: str
) -> None:
    sim.rate_limit_quota, sim.rate_limit_window_ms = 1, 1500  # long enough for a loaded CI box
    sleep = RecordingSleep()
    api = StoreApi(settings, sleep=sleep)
    api.get("abc123", token, "v2/store")
    assert api.get("abc123", token, "v2/store")["id"] == "abc123"
    assert len(sleep.calls) == 1 and 0 < sleep.calls[0] <= 1.5


def test_429_is_waited_out_once(settings: Settings, sim: SimulatorState, token: str) -> None:
    sim.rate_limit_quota, sim.rate_limit_window_ms = 1, 1500
    StoreApi(settings).get("abc123", token, "v2/store")  # another client spends the quota
    sleep = RecordingSleep()
    assert StoreApi(settings, sleep=sleep).get("abc123", token, "v2/store")["id"] == "abc123"
    # X-Retry-After is the reset rounded up to whole seconds, so the longer wait is that one.
    [waited] = sleep.calls
    assert waited.is_integer() and 1 <= waited <= 2


def test_429_beyond_the_budget_is_rate_limited(
    settings: Settings, sim: SimulatorState, token: str
) -> None:
    sim.rate_limit_quota = 1
    StoreApi(settings).get("abc123", token, "v2/store")
    sleep = RecordingSleep()
    with pytest.raises(RateLimited):
        StoreApi(settings, max_wait_seconds=1, sleep=sleep).get("abc123", token, "v2/store")
    assert sleep.calls == []


def test_unreachable_api(settings: Settings, token: str) -> None:
    with pytest.raises(StoreApiError) as caught:
        StoreApi(replace(settings, api_url="http://127.0.0.1:9")).get("abc123", token, "v2/store")
    assert caught.value.reason == "unreachable"


def test_app_page_shows_store_details_and_survives_a_revoked_token(
    client: FlaskClient, sim: SimulatorState
) -> None:
    install(client, sim)
    assert "Store abc123" in client.get("/").get_data(as_text=True)
    sim.revoke("abc123")
    page = client.get("/")
    assert page.status_code == 200
    assert "details unavailable" in page.get_data(as_text=True)
