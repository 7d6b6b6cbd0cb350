"""The simulator's storefront (issue 29, Build 5), over real HTTP: the page renders the store's
scripts where BigCommerce would, the shopper switcher, the Current Customer JWT (404 for a
guest), Customer Login with every claim checked (30 s, single use), and the panel's
third-party-cookie knob."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

import jwt
import pytest
import requests

from bcapp.clock import ManualClock
from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.storefront_model import SimScript

SCOPES = "store_v2_information_read_only store_v2_content store_v2_customers_login"


def script(name: str, **fields: Any) -> SimScript:
    return SimScript(uuid=str(uuid.uuid4()), name=name, api_client_id="test-client-id",
                     date_created="", date_modified="", src=f"https://app.example/{name}.js",
                     **fields)


@pytest.fixture
def installed(sim: SimulatorState) -> str:
    return sim.grant_token("abc123", SCOPES)


def storefront(bigcommerce: ServedApp, channel: int = 1) -> str:
    base = f"{bigcommerce.url}/storefront/abc123"
    return base if channel == 1 else f"{base}/channels/{channel}"


def switch(bigcommerce: ServedApp, shopper: requests.Session, customer: str) -> str:
    answer = shopper.post(storefront(bigcommerce) + "/shopper",
                          data={"customer_id": customer}, timeout=5)
    assert answer.status_code == 200
    found = re.search(r'data-shopper="([^"]+)"', answer.text)
    assert found is not None
    return found.group(1)


def test_the_page_renders_enabled_scripts_of_its_channel_where_bigcommerce_would(
    sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    store = sim.stores["abc123"]
    store.channels = [1, 2]
    store.scripts = [
        script("head", location="head", consent_category="essential", load_method="async"),
        script("foot", consent_category="functional",
               integrity_hashes=["sha384-" + "A" * 64]),
        script("off", consent_category="functional", enabled=False),
        script("other", consent_category="functional", channel_id=2),
        script("pay", consent_category="functional", visibility="checkout"),
        script("everywhere", consent_category="analytics", visibility="all_pages"),
        script("nameless"),  # consent category unknown: hidden behind the cookie banner
    ]
    page = requests.get(storefront(bigcommerce), timeout=5).text
    head, body = page.split("</head>")
    assert 'src="https://app.example/head.js" async' in head
    assert 'data-consent-category="essential"' in head
    assert 'src="https://app.example/foot.js"' in body.split("</footer>")[1]
    assert f'integrity="sha384-{"A" * 64}" crossorigin="anonymous"' in body
    assert "everywhere.js" in body
    for absent in ("off.js", "other.js", "pay.js", "nameless.js"):
        assert absent not in page
    assert "data-hidden-script" in page and "nameless" in page
    checkout = requests.get(storefront(bigcommerce) + "/checkout", timeout=5).text
    assert "pay.js" in checkout and "everywhere.js" in checkout and "foot.js" not in checkout
    second = requests.get(storefront(bigcommerce, 2), timeout=5).text
    assert "other.js" in second and "foot.js" not in second
    assert requests.get(storefront(bigcommerce) + "?channel=2", timeout=5).text == second
    store.cookie_consent_banner = False
    assert "nameless.js" in requests.get(storefront(bigcommerce), timeout=5).text


def test_an_unknown_store_or_channel_is_404(bigcommerce: ServedApp) -> None:
    assert requests.get(f"{bigcommerce.url}/storefront/nope", timeout=5).status_code == 404
    assert requests.get(storefront(bigcommerce, 3), timeout=5).status_code == 404


def test_current_customer_is_404_for_a_guest_and_signed_for_a_customer(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock
) -> None:
    shopper = requests.Session()
    url = storefront(bigcommerce) + "/customer/current.jwt?app_client_id=" + sim.client_id
    guest = shopper.get(url, timeout=5)
    assert guest.status_code == 404 and "guest" in guest.text
    assert switch(bigcommerce, shopper, "2") == "2"
    answer = shopper.get(url, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    assert jwt.get_unverified_header(answer.text)["alg"] == "HS256"
    claims = jwt.decode(answer.text, sim.client_secret, algorithms=["HS256"],
                        audience=sim.client_id, options={"verify_iat": False})
    now = int(clock.now())
    assert claims == {
        "customer": {"id": 2, "email": "sam.lee@abc123.example", "group_id": "2"},
        "iss": "bc/apps", "sub": "abc123", "iat": now, "exp": now + 900, "version": 1,
        "aud": sim.client_id, "application_id": str(sim.app_id), "store_hash": "abc123",
        "operation": "current_customer",
    }
    assert switch(bigcommerce, shopper, "") == "guest"
    assert shopper.get(url, timeout=5).status_code == 404


def test_current_customer_from_the_root_names_the_store_by_its_page(
    sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    shopper = requests.Session()
    switch(bigcommerce, shopper, "1")
    url = f"{bigcommerce.url}/customer/current.jwt?app_client_id={sim.client_id}"
    answer = shopper.get(url, headers={"Referer": storefront(bigcommerce) + "/"}, timeout=5)
    assert answer.status_code == 200
    claims = jwt.decode(answer.text, sim.client_secret, algorithms=["HS256"],
                        audience=sim.client_id, options={"verify_iat": False})
    assert claims["customer"]["id"] == 1
    assert shopper.get(url, timeout=5).status_code == 404, "no storefront page: no store"


def test_current_customer_needs_the_apps_client_id(
    sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    shopper = requests.Session()
    switch(bigcommerce, shopper, "1")
    for query in ("", "?app_client_id=someone-else"):
        answer = shopper.get(storefront(bigcommerce) + "/customer/current.jwt" + query, timeout=5)
        assert answer.status_code == 400 and "app_client_id" in answer.text


def test_a_session_belongs_to_one_store_and_channel(
    sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    sim.stores["abc123"].channels = [1, 2]
    shopper = requests.Session()
    switch(bigcommerce, shopper, "1")
    url = storefront(bigcommerce, 2) + "/customer/current.jwt?app_client_id=" + sim.client_id
    assert shopper.get(url, timeout=5).status_code == 404


def test_the_switcher_refuses_an_unknown_customer(
    sim: SimulatorState, bigcommerce: ServedApp
) -> None:
    answer = requests.post(storefront(bigcommerce) + "/shopper", data={"customer_id": "99"},
                           timeout=5)
    assert answer.status_code == 400 and "no customer 99" in answer.text
    assert sim.shoppers == {}
    foreign = requests.post(storefront(bigcommerce) + "/shopper", data={"customer_id": "1"},
                            headers={"Origin": "https://evil.example"}, timeout=5)
    assert foreign.status_code == 403 and sim.shoppers == {}


def login_token(sim: SimulatorState, clock: ManualClock, **changes: Any) -> str:
    claims: dict[str, Any] = {
        "iss": sim.client_id, "iat": int(clock.now()), "jti": str(uuid.uuid4()),
        "operation": "customer_login", "store_hash": "abc123", "customer_id": 3,
    }
    secret = changes.pop("secret", sim.client_secret)
    algorithm = changes.pop("algorithm", "HS256")
    claims.update(changes)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm=algorithm)


def test_customer_login_signs_the_shopper_in_once(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock, installed: str
) -> None:
    token = login_token(sim, clock, redirect_to="/cart.php", request_ip="127.0.0.1",
                        enable_persistent_cart=True)
    shopper = requests.Session()
    answer = shopper.get(f"{storefront(bigcommerce)}/login/token/{token}", timeout=5)
    assert answer.status_code == 200 and answer.url == storefront(bigcommerce) + "/cart.php"
    assert 'data-shopper="3"' in answer.text and "alex.kim@abc123.example" in answer.text
    again = requests.Session().get(f"{storefront(bigcommerce)}/login/token/{token}", timeout=5)
    assert again.status_code == 400 and 'data-reason="replayed"' in again.text
    assert [(a.customer_id, a.refused) for a in sim.login_attempts] == [(3, ""), (3, "replayed")]
    assert token not in again.text
    plain = shopper.get(f"{storefront(bigcommerce)}/login/token/"
                        f"{login_token(sim, clock)}", timeout=5)
    assert plain.url == storefront(bigcommerce) + "/account.php", "the documented default"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"secret": "not-the-client-secret"}, "signature"),
        ({"algorithm": "HS512"}, "algorithm"),
        ({"iss": "someone-else"}, "iss"),
        ({"jti": None}, "jti"),
        ({"operation": "current_customer"}, "operation"),
        ({"operation": None}, "missing"),
        ({"store_hash": "other1"}, "store_hash"),
        ({"customer_id": 99}, "customer_id"),
        ({"customer_id": "3"}, "customer_id"),
        ({"channel_id": 2}, "channel_id"),
        ({"redirect_to": "https://evil.example/"}, "redirect_to"),
        ({"redirect_to": "//evil.example/"}, "redirect_to"),
        ({"request_ip": "10.9.8.7"}, "request_ip"),
        ({"enable_persistent_cart": "yes"}, "enable_persistent_cart"),
        ({"iat": "now"}, "iat"),
    ],
)
def test_customer_login_refuses_a_bad_claim(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock, installed: str,
    changes: dict[str, Any], reason: str,
) -> None:
    shoppers = copy.copy(sim.shoppers)
    token = login_token(sim, clock, **changes)
    answer = requests.get(f"{storefront(bigcommerce)}/login/token/{token}", timeout=5)
    assert answer.status_code == 400
    assert f'data-reason="{reason}"' in answer.text and "sign-in attempt failed" in answer.text
    assert sim.shoppers == shoppers and "set-cookie" not in answer.headers
    assert [attempt.refused for attempt in sim.login_attempts] == [reason]


def test_customer_login_refuses_malformed_tokens(
    sim: SimulatorState, bigcommerce: ServedApp, installed: str
) -> None:
    answer = requests.get(f"{storefront(bigcommerce)}/login/token/not-a-jwt", timeout=5)
    assert answer.status_code == 400 and 'data-reason="malformed"' in answer.text
    assert sim.shoppers == {}


@pytest.mark.parametrize(("seconds", "accepted"), [(30, True), (31, False), (-30, True),
                                                   (-31, False)])
def test_customer_login_accepts_iat_within_30_seconds_either_side(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock, installed: str,
    seconds: int, accepted: bool,
) -> None:
    token = login_token(sim, clock)
    clock.advance(seconds)
    answer = requests.get(f"{storefront(bigcommerce)}/login/token/{token}", timeout=5)
    assert (answer.status_code == 200) is accepted
    if not accepted:
        assert 'data-reason="iat"' in answer.text and sim.shoppers == {}


def test_customer_login_follows_bigcommerces_clock(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock, installed: str
) -> None:
    sim.clock_skew_seconds = 120  # v2/time says BigCommerce is two minutes ahead
    late = requests.get(f"{storefront(bigcommerce)}/login/token/{login_token(sim, clock)}",
                        timeout=5)
    assert late.status_code == 400 and 'data-reason="iat"' in late.text
    corrected = login_token(sim, clock, iat=int(clock.now()) + 120)
    answer = requests.get(f"{storefront(bigcommerce)}/login/token/{corrected}", timeout=5)
    assert answer.status_code == 200


def test_customer_login_needs_the_login_scope(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock
) -> None:
    sim.grant_token("abc123", "store_v2_information_read_only")
    answer = requests.get(f"{storefront(bigcommerce)}/login/token/{login_token(sim, clock)}",
                          timeout=5)
    assert answer.status_code == 400 and 'data-reason="scope"' in answer.text
    account = sim.create_api_account("abc123", "sso", "store_v2_customers_login")
    token = login_token(sim, clock, iss=account.client_id, secret=account.client_secret)
    assert requests.get(f"{storefront(bigcommerce)}/login/token/{token}",
                        timeout=5).status_code == 200


def test_customer_login_on_another_channel(
    sim: SimulatorState, bigcommerce: ServedApp, clock: ManualClock, installed: str
) -> None:
    sim.stores["abc123"].channels = [1, 2]
    token = login_token(sim, clock, channel_id=2, redirect_to="/")
    shopper = requests.Session()
    answer = shopper.get(f"{storefront(bigcommerce, 2)}/login/token/{token}", timeout=5)
    assert answer.status_code == 200 and 'data-shopper="3"' in answer.text
    url = storefront(bigcommerce, 2) + "/customer/current.jwt?app_client_id=" + sim.client_id
    assert shopper.get(url, timeout=5).status_code == 200


def test_the_third_party_cookie_knob(sim: SimulatorState, bigcommerce: ServedApp) -> None:
    sim.grant_token("abc123", SCOPES)
    knob = f"{bigcommerce.url}/settings/third-party-cookies"
    assert requests.post(knob, data={"blocked": "on"}, timeout=5).status_code == 200
    assert sim.third_party_cookies_blocked is True
    panel = requests.get(bigcommerce.url + "/", timeout=5).text
    assert 'data-third-party-cookies="blocked"' in panel
    frame = requests.post(f"{bigcommerce.url}/stores/abc123/open", data={"user_id": "1"},
                          timeout=5, allow_redirects=False)
    assert 'data-third-party-cookies="blocked"' in frame.text
    foreign = requests.post(knob, data={}, headers={"Origin": "https://evil.example"}, timeout=5)
    assert foreign.status_code == 403 and sim.third_party_cookies_blocked is True
    requests.post(knob, data={}, timeout=5)
    assert sim.third_party_cookies_blocked is False
