"""Health endpoints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json == {"status": "ok", "redis": "up"}


def test_readyz_is_503_when_redis_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app(redis_url="redis://:topsecretpw@127.0.0.1:9/0")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "topsecretpw" not in response.get_data(as_text=True)


def test_error_pages_carry_a_request_id_that_the_response_names(client: FlaskClient) -> None:
    response = client.get("/bigcommerce/auth")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 16
    assert f'data-testid="request-id">{request_id}<' in response.get_data(as_text=True)


def test_a_sane_proxy_request_id_is_kept(client: FlaskClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123-def-456"})
    assert kept.headers["X-Request-ID"] == "abc-123-def-456"


@pytest.mark.parametrize(
    "hostile",
    [
        "abcdefgh\x0bSet-Cookie: y",  # a vertical tab: a line break to some log viewers
        "abcdefgh\x1b]0;owned\x07",  # a terminal escape sequence
        "abcdefgh\x7fdel",
        "abcdefgh<script>",
        "abcdéfghij",
        "short",
        "a" * 65,
    ],
)
def test_a_hostile_proxy_request_id_is_replaced(client: FlaskClient, hostile: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert response.headers["X-Request-ID"] != hostile
    assert len(response.headers["X-Request-ID"]) == 16
