"""Who may frame the app: a known store's own control panel, never a wildcard (R11)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bcapp.clock import ManualClock
from bcapp.simulator import ServedApp, SimulatorState
from tests.helpers import install, installation_of, signed


def frame_ancestors(response: object) -> list[str]:
    policy = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    match = re.search(r"frame-ancestors ([^;]*)", policy)
    assert match is not None
    return match.group(1).split()


def test_a_stores_pages_allow_its_reported_control_panel_and_the_login_host(
    client: FlaskClient, sim: SimulatorState, bigcommerce: ServedApp, app: Flask
) -> None:
    sim.control_panel_url = "https://store-abc123.mybigcommerce.com"
    installed = install(client, sim)
    stored = installation_of(app)
    assert stored is not None and stored.control_panel_url == sim.control_panel_url

    expected = ["'self'", "https://store-abc123.mybigcommerce.com", bigcommerce.url]
    assert frame_ancestors(installed) == expected
    assert frame_ancestors(client.get("/")) == expected
    loaded = client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert frame_ancestors(loaded) == expected


@pytest.mark.parametrize(
    "reported",
    [
        "https://*.mybigcommerce.com",
        "javascript:alert(1)",
        "https://a.example; script-src *",
        "http://evil.example",
        "https://a.example 'unsafe-inline'",
        "https://store-abc123.mybigcommerce.com/manage",
    ],
)
def test_a_reported_control_panel_that_is_no_https_origin_is_not_used(
    client: FlaskClient, sim: SimulatorState, bigcommerce: ServedApp, reported: str
) -> None:
    sim.control_panel_url = reported
    install(client, sim)
    assert frame_ancestors(client.get("/")) == [
        "'self'",
        "https://store-abc123.mybigcommerce.com",
        bigcommerce.url,
    ]


def test_without_store_information_the_documented_control_panel_is_allowed(
    make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock
) -> None:
    # The manual clock makes the API client's backoff between retries instant.
    client = make_app(clock=clock, api_url="http://127.0.0.1:9").test_client()
    assert install(client, sim).status_code == 302, "the install does not depend on it"
    assert "https://store-abc123.mybigcommerce.com" in frame_ancestors(client.get("/"))


def test_a_page_of_no_known_store_allows_any_control_panel_and_nothing_else(
    client: FlaskClient,
) -> None:
    assert frame_ancestors(client.get("/")) == [
        "'self'",
        "https://*.bigcommerce.com",
        "https://*.mybigcommerce.com",
    ]


def test_one_stores_page_cannot_be_framed_by_another_store(
    client: FlaskClient, sim: SimulatorState
) -> None:
    sim.control_panel_url = "https://store-abc123.mybigcommerce.com"
    install(client, sim)
    allowed = frame_ancestors(client.get("/"))
    assert "https://store-xyz789.mybigcommerce.com" not in allowed
    assert not any("*" in origin for origin in allowed)


def test_the_operators_list_wins_everywhere(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    client = make_app(frame_ancestors=("https://panel.example.com",)).test_client()
    install(client, sim)
    assert frame_ancestors(client.get("/")) == ["'self'", "https://panel.example.com"]
    assert frame_ancestors(client.get("/healthz")) == ["'self'", "https://panel.example.com"]
