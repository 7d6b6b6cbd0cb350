"""The shopper on the app's server (issue 29, acceptance 2) and signing shoppers in (the claims
of acceptance 3): `@storefront.customer` verifies BigCommerce's Current Customer JWT completely
and answers CORS for the token's store's storefront only; `login_url` signs every claim with
the store's clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from bcapp import storefront
from bcapp.clock import ManualClock
from bcapp.errors import ConfigurationError
from bcapp.scopes import ScopeSet
from bcapp.simulator import SimulatorState
from tests.conftest import CLIENT_ID, CLIENT_SECRET, service_of
from tests.helpers import DEFAULT_SCOPE, install, signed

ORIGIN = "https://abc123.mybigcommerce.example"  # the simulated store's storefront (v2/store)
LATER = {"verify_iat": False}  # signed by the store's clock, ahead of this one


def shop_blueprint() -> Blueprint:
    """A view for shoppers, declared by the test (`@storefront.customer` notes that the app
    serves shoppers, which the registries' reset after the test forgets: conftest.py)."""
    bp = Blueprint("shop_api", __name__)

    @bp.post("/shop/badge")
    @storefront.customer
    def badge(ctx: storefront.ShopperContext) -> dict[str, Any]:
        return {"store": ctx.store_hash, "id": ctx.customer.id, "email": ctx.customer.email,
                "group": ctx.customer.group_id, "api": ctx.api.store_hash}

    return bp


@pytest.fixture
def shop(make_app: Callable[..., Flask], sim: SimulatorState) -> Iterator[FlaskClient]:
    """The app with a shopper view, abc123 installed and its storefront origins learned."""
    app = make_app()
    app.register_blueprint(shop_blueprint())
    client = app.test_client()
    assert install(client, sim).status_code == 302
    service = service_of(app)
    assert ORIGIN in service.storefront.learn_origins(service.stores.client("abc123"))
    yield client


def customer_token(now: float, **changes: Any) -> str:
    """A Current Customer JWT as the storefront hands it out (docs/protocol.md §13)."""
    secret = changes.pop("secret", CLIENT_SECRET)
    claims = {
        "customer": {"id": 42, "email": "shopper@example.com", "group_id": "3"},
        "iss": "bc/apps", "sub": "abc123", "store_hash": "abc123", "aud": CLIENT_ID,
        "iat": int(now), "exp": int(now) + 900, "version": 1, "application_id": "app",
        "operation": "current_customer",
    } | changes
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret)


def ask(client: FlaskClient, token: str, origin: str | None = ORIGIN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} | ({"Origin": origin} if origin else {})
    return client.post("/shop/badge", headers=headers)


def test_a_valid_token_gives_the_shopper_with_cors_for_its_storefront(
    shop: FlaskClient, clock: ManualClock
) -> None:
    answer = ask(shop, customer_token(clock.now()))
    assert answer.status_code == 200
    assert answer.json == {"store": "abc123", "id": 42, "email": "shopper@example.com",
                           "group": "3", "api": "abc123"}
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in answer.headers["Vary"]
    in_body = shop.post("/shop/badge", json={"token": customer_token(clock.now())})
    assert in_body.status_code == 200, "the token in a JSON body, from a server (no Origin)"


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) - 120, "iat": int(time.time()) - 1020},  # expired
        {"secret": "a-forged-secret-of-some-length"},
        {"aud": "another-client"},
        {"iss": "bc"},
        {"operation": "customer_login"},
        {"sub": "zzz999", "store_hash": "zzz999"},  # a store that never installed the app
        {"customer": {"id": "42", "email": "x@example.com"}},
        {"customer": None},
        {"exp": int(time.time()) + 86400},  # longer-lived than BigCommerce issues
    ],
)
def test_every_other_token_is_a_401_that_says_nothing(
    shop: FlaskClient, clock: ManualClock, changes: dict[str, Any]
) -> None:
    answer = ask(shop, customer_token(clock.now(), **changes))
    assert answer.status_code == 401
    assert answer.json == {"error": "unauthorized"}
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_an_uninstalled_store_another_origin_or_no_token_is_refused(
    shop: FlaskClient, clock: ManualClock
) -> None:
    assert ask(shop, customer_token(clock.now()), origin="https://evil.example").status_code == 401
    assert shop.post("/shop/badge").status_code == 401, "no token at all"
    assert ask(shop, signed()).status_code == 401, "a control-panel payload is no shopper token"
    uninstall = shop.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed()}")
    assert uninstall.status_code == 200
    assert ask(shop, customer_token(clock.now())).status_code == 401


def test_a_preflight_is_allowed_from_the_storefront_only(shop: FlaskClient) -> None:
    asked = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization"}
    allowed = shop.options("/shop/badge", headers=asked | {"Origin": ORIGIN})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    for other in ("https://evil.example", "null", ORIGIN + ".evil.example", ORIGIN + "/"):
        refused = shop.options("/shop/badge", headers=asked | {"Origin": other})
        assert refused.status_code == 403, other
        assert "Access-Control-Allow-Origin" not in refused.headers


def test_login_url_signs_every_claim_by_the_stores_clock(
    make_app: Callable[..., Flask], sim: SimulatorState, clock: ManualClock
) -> None:
    scopes = ScopeSet.parse(f"{DEFAULT_SCOPE} store_v2_customers_login")
    app = make_app(required_scopes=scopes)
    assert install(app.test_client(), sim, scope=str(scopes)).status_code == 302
    sim.clock = lambda: clock.now() + 40  # the store's clock runs 40 s ahead of the app's
    service = service_of(app)
    url = service.storefront.login_url("abc123", 7, redirect_to="/cart.php",
                                       request_ip="203.0.113.9")
    base, _, token = url.rpartition("/login/token/")
    assert base.startswith("https://") or base.startswith("http://")
    claims = jwt.decode(token, CLIENT_SECRET, algorithms=["HS256"], options=LATER)
    assert claims == claims | {"iss": CLIENT_ID, "operation": "customer_login",
                               "store_hash": "abc123", "customer_id": 7, "channel_id": 1,
                               "redirect_to": "/cart.php", "request_ip": "203.0.113.9"}
    assert claims["iat"] == int(clock.now()) + 40, "corrected by the store's clock"
    again = service.storefront.login_url("abc123", 7)
    assert jwt.decode(again.rpartition("/")[2], CLIENT_SECRET, ["HS256"], options=LATER)["jti"] != (
        claims["jti"]
    )
    for wrong in ("https://evil.example/", "//evil.example", "account.php", "/a b"):
        with pytest.raises(ValueError, match="redirect_to must be a path"):
            service.storefront.login_url("abc123", 7, redirect_to=wrong)


def test_login_url_needs_the_customer_login_scope(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    app = make_app()
    assert install(app.test_client(), sim).status_code == 302
    with app.app_context(), pytest.raises(ConfigurationError, match="store_v2_customers_login"):
        storefront.login_url("abc123", 7)  # the request-side spelling
