"""Cross-check: BigCommerce's own Python client accepts what the simulator produces."""

from __future__ import annotations

import pytest
from bigcommerce.api import BigcommerceApi
from bigcommerce.connection import OAuthConnection

from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.signing import jwt_claims, legacy_payload_data, legacy_signed_payload, sign_jwt
from tests.conftest import CALLBACK_URL, CLIENT_ID, CLIENT_SECRET
from tests.helpers import DEFAULT_SCOPE, OWNER, STAFF


def test_official_jwt_verifier_accepts_simulator_payloads() -> None:
    token = sign_jwt(jwt_claims(CLIENT_ID, "abc123", STAFF, OWNER), CLIENT_SECRET)
    claims = BigcommerceApi.oauth_verify_payload_jwt(token, CLIENT_SECRET, CLIENT_ID)
    assert claims["sub"] == "stores/abc123" and claims["user"]["id"] == 2


def test_official_jwt_verifier_refuses_a_wrong_secret() -> None:
    import jwt

    token = sign_jwt(jwt_claims(CLIENT_ID, "abc123", STAFF, OWNER), "other-secret")
    with pytest.raises(jwt.InvalidSignatureError):
        BigcommerceApi.oauth_verify_payload_jwt(token, CLIENT_SECRET, CLIENT_ID)


def test_official_legacy_verifier_accepts_simulator_payloads() -> None:
    payload = legacy_signed_payload(legacy_payload_data("abc123", STAFF, OWNER), CLIENT_SECRET)
    data = BigcommerceApi.oauth_verify_payload(payload, CLIENT_SECRET)
    assert data is not False and data["store_hash"] == "abc123" and data["user"]["id"] == 2
    assert BigcommerceApi.oauth_verify_payload(payload, "other-secret") is False


def test_official_client_fetches_a_token_from_the_simulator(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    code = sim.issue_code("abc123", 1, DEFAULT_SCOPE)
    connection = OAuthConnection(CLIENT_ID, "abc123")
    answer = connection.fetch_token(
        CLIENT_SECRET,
        code,
        "stores/abc123",
        DEFAULT_SCOPE,
        CALLBACK_URL,
        token_url=bigcommerce.url + "/oauth2/token",
    )
    assert answer["access_token"] == sim.stores["abc123"].access_token
    assert answer["user"]["id"] == 1
