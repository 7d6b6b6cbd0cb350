"""The HTTP surface an attacker sees: methods, deep links, the Host header, odd paths.

Each test here answers one finding of the second security review (docs/security.md R2, R4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bcapp.simulator import SimulatorState
from tests.helpers import app_location, auth_query, signed

Snapshot = Callable[[], dict[str, Any]]
CALLBACKS = ["auth", "load", "uninstall", "remove-user"]


def callback_url(route: str, sim: SimulatorState) -> str:
    """A valid request for `route`: a fresh code for auth, a fresh payload otherwise."""
    if route.startswith("auth"):
        return f"/bigcommerce/{route}?" + auth_query(sim)
    return f"/bigcommerce/{route}?signed_payload_jwt={signed()}"


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("route", [*CALLBACKS, "load/", "auth/"])
def test_head_and_options_are_405_with_allow_get_and_no_side_effect(
    installed: FlaskClient, sim: SimulatorState, snapshot: Snapshot, route: str, method: str
) -> None:
    url = callback_url(route, sim)
    requests_before, state_before = len(sim.token_requests), snapshot()
    installed.delete_cookie("bcapp_session")

    response = installed.open(url, method=method)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert "Set-Cookie" not in response.headers
    assert snapshot() == state_before, "no payload burned, nothing stored or deleted"
    assert len(sim.token_requests) == requests_before, "no code spent"
    assert installed.get(url).status_code in (200, 302), "the same URL still works with GET"


@pytest.mark.parametrize(
    "url",
    [
        "/%2F%2Fevil.example",
        "/%2f%2fevil.example/path",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "/%2F/evil.example",
        "/%252F%252Fevil.example",
        "/%2F%5Cevil.example",
        "/javascript:alert(1)",
        "/%6A%61%76%61script:alert(1)",
        "/https:%2F%2Fevil.example",
        "/%0d%0aLocation:%20https://evil.example",
    ],
)
def test_deep_links_are_judged_after_decoding(installed: FlaskClient, url: str) -> None:
    response = installed.get(f"/bigcommerce/load?signed_payload_jwt={signed(url=url)}")
    assert response.status_code == 302
    assert app_location(response) == "/"
    assert "evil" not in response.get_data(as_text=True)


def test_an_encoded_space_or_query_in_a_deep_link_is_kept(installed: FlaskClient) -> None:
    url = "/products?q=red%20shoes&next=%2Forders"
    response = installed.get(f"/bigcommerce/load?signed_payload_jwt={signed(url=url)}")
    assert app_location(response) == url


@pytest.mark.parametrize(
    "path",
    [
        "/bigcommerce//load",
        "//bigcommerce/load",
        "/bigcommerce/./load",
        "/bigcommerce/load//",
        "/bigcommerce//auth",
    ],
)
def test_odd_paths_never_redirect_with_the_host_header(
    installed: FlaskClient, snapshot: Snapshot, path: str
) -> None:
    token = signed()
    before = snapshot()
    response = installed.get(
        f"{path}?signed_payload_jwt={token}&code=abc",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code in (400, 404)
    assert "Location" not in response.headers
    everything = str(response.headers) + response.get_data(as_text=True)
    assert "evil.example" not in everything and token not in everything
    assert snapshot() == before


@pytest.mark.parametrize("route", [*CALLBACKS, "", "healthz/", "readyz", "nowhere"])
def test_no_response_names_a_forged_host(
    installed: FlaskClient, sim: SimulatorState, route: str
) -> None:
    url = callback_url(route, sim) if route in CALLBACKS else f"/{route}"
    if route == "nowhere":
        url = "//" + route
    response = installed.get(url, headers={"Host": "evil.example"})
    assert response.status_code == (200 if route == "healthz/" else 400) or route == "readyz"
    assert "evil.example" not in str(response.headers) + response.get_data(as_text=True)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8000", "localhost", "[::1]:8000", "app.example.com", "APP.example.com:443"]
)
def test_requests_for_the_app_or_loopback_hosts_are_served(
    make_app: Callable[..., Flask], host: str
) -> None:
    client = make_app(app_url="https://app.example.com").test_client()
    response = client.get("/bigcommerce/auth", headers={"Host": host})
    assert response.status_code == 400  # no code: the auth view itself answered
    assert "could not be understood" in response.get_data(as_text=True)


def test_health_checks_answer_whatever_the_host(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200
