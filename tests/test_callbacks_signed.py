"""Load, uninstall and remove-user through the app, with hostile payloads."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bcapp import signals
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import legacy_payload_data, legacy_signed_payload, sign_jwt
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import (
    DROP,
    OWNER,
    STAFF,
    app_location,
    assert_no_secrets,
    claims_for,
    future,
    install,
    installation_of,
    signed,
    user_of,
)
from tests.test_signing import malleate

Snapshot = Callable[[], dict[str, Any]]
ROUTES = ["/bigcommerce/load", "/bigcommerce/uninstall", "/bigcommerce/remove-user"]


def load(client: FlaskClient, token: str, route: str = "/bigcommerce/load") -> Any:
    return client.get(f"{route}?signed_payload_jwt={token}")


def b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def crafted(header: dict[str, Any], payload: object, secret: str = CLIENT_SECRET) -> str:
    """A token with any header/payload, HMAC-SHA256-signed with `secret`."""
    import hashlib
    import hmac

    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


HS256 = {"typ": "JWT", "alg": "HS256"}
HOSTILE: dict[str, Callable[[], str]] = {
    "wrong secret": lambda: sign_jwt(claims_for(), "not-the-secret"),
    "alg none, empty signature": lambda: f"{b64({'alg': 'none'})}.{b64(claims_for())}.",
    "alg none, junk signature": lambda: f"{b64({'alg': 'none'})}.{b64(claims_for())}.AAAA",
    "alg NONE": lambda: crafted({"alg": "NONE"}, claims_for()),
    "HS512 with the secret": lambda: sign_jwt(claims_for(), CLIENT_SECRET, "HS512"),
    "HS384 with the secret": lambda: sign_jwt(claims_for(), CLIENT_SECRET, "HS384"),
    "RS256 header, HMAC body": lambda: crafted({"alg": "RS256", "typ": "JWT"}, claims_for()),
    "jku header": lambda: crafted(HS256 | {"jku": "http://127.0.0.1:9/k"}, claims_for()),
    "jwk header": lambda: crafted(HS256 | {"jwk": {"kty": "oct", "k": "AA"}}, claims_for()),
    "kid traversal": lambda: crafted(HS256 | {"kid": "../../dev/null"}, claims_for()),
    "crit unknown": lambda: crafted(HS256 | {"crit": ["x-unknown"], "x-unknown": 1}, claims_for()),
    "aud other app": lambda: signed(aud="another-app"),
    "aud list": lambda: signed(aud=[CLIENT_ID, "other"]),
    "aud missing": lambda: signed(aud=DROP),
    "aud empty": lambda: signed(aud=""),
    "iss BC": lambda: signed(iss="BC"),
    "iss bcx": lambda: signed(iss="bcx"),
    "iss b": lambda: signed(iss="b"),
    "iss list": lambda: crafted(HS256, claims_for(iss=["bc"])),
    "iss missing": lambda: signed(iss=DROP),
    "exp missing": lambda: signed(exp=DROP),
    "nbf missing": lambda: signed(nbf=DROP),
    "iat missing": lambda: signed(iat=DROP),
    "sub missing": lambda: signed(sub=DROP),
    "jti missing": lambda: signed(jti=DROP),
    "user missing": lambda: signed(user=DROP),
    "sub stores/": lambda: signed(sub="stores/"),
    "sub store/abc123": lambda: signed(sub="store/abc123"),
    "sub uppercase": lambda: signed(sub="stores/ABC123"),
    "sub traversal": lambda: signed(sub="stores/abc123/../x"),
    "sub newline": lambda: signed(sub="stores/abc123\n"),
    "sub fullwidth": lambda: signed(sub="\uff53\uff54\uff4f\uff52\uff45\uff53/abc123"),
    "sub key injection": lambda: signed(sub="stores/abc:jti:x"),
    "sub integer": lambda: signed(sub=123),
    "expired": lambda: signed(**future(-86400 - 120)),
    "nbf/iat beyond leeway": lambda: signed(**future(120)),
    "exp infinite": lambda: crafted(HS256, claims_for(exp=float("inf"))),
    "exp as string": lambda: signed(exp="9999999999"),
    "exp boolean": lambda: signed(exp=True),
    "iat as list": lambda: signed(iat=[]),
    "nbf as string": lambda: signed(nbf="x"),
    "lifetime ten years": lambda: signed(exp=int(time.time()) + 10 * 365 * 86400),
    "jti number": lambda: signed(jti=12345),
    "jti empty": lambda: signed(jti=""),
    "jti 200 chars": lambda: signed(jti="j" * 200),
    "user id string": lambda: signed(user={"id": "1", "email": "a@b.c"}),
    "user id negative": lambda: signed(user={"id": -1, "email": "a@b.c"}),
    "user id 2**64": lambda: signed(user={"id": 2**64, "email": "a@b.c"}),
    "user null": lambda: signed(user=None),
    "user email 5 KB": lambda: signed(user={"id": 9, "email": "e" * 5000}),
    "owner malformed": lambda: signed(owner={"id": "1"}),
    "payload array": lambda: crafted(HS256, [claims_for()]),
    "payload string": lambda: crafted(HS256, "hello"),
    "payload not JSON": lambda: crafted(HS256, b"{not json"),
    "payload invalid UTF-8": lambda: crafted(HS256, b"\xff\xfe{}"),
    "header array": lambda: crafted(["alg"], claims_for()),  # type: ignore[arg-type]
    "oversized 9 KB": lambda: signed(padding="p" * 9000),
    "two segments": lambda: signed().rsplit(".", 1)[0],
    "four segments": lambda: signed() + ".AAAA",
    "standard base64 alphabet": lambda: signed().replace("-", "+").replace("_", "/") + "+/",
    "padding appended": lambda: signed() + "=",
    "space inside": lambda: signed()[:20] + " " + signed()[20:],
    "junk": lambda: "....",
    "a.b.c": lambda: "a.b.c",
    "e30.e30.": lambda: "e30.e30.",
    "W10.W10.AA": lambda: "W10.W10.AA",
    "non-ASCII": lambda: "é.é.é",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("route", ROUTES)
def test_hostile_payloads_are_refused_and_change_nothing(
    installed: FlaskClient, snapshot: Snapshot, sim: SimulatorState, route: str, name: str
) -> None:
    before = snapshot()
    token = HOSTILE[name]()
    response = installed.get(route, query_string={"signed_payload_jwt": token})

    assert response.status_code in (400, 401), name
    assert snapshot() == before, "no nonce burned, nothing deleted"
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert "<html" in html
    assert_no_secrets(html, CLIENT_SECRET, token, *sim.issued_secrets)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "query",
    ["", "signed_payload_jwt=", "signed_payload=", "signed_payload_jwt=a&signed_payload_jwt=b"],
)
def test_missing_empty_or_repeated_payload_is_400(
    installed: FlaskClient, snapshot: Snapshot, route: str, query: str
) -> None:
    before = snapshot()
    response = installed.get(f"{route}?{query}")
    assert response.status_code == 400
    assert snapshot() == before


def test_repeated_payload_is_400_in_both_orders(installed: FlaskClient, snapshot: Snapshot) -> None:
    good, bad = signed(), "a.b.c"
    before = snapshot()
    for first, second in ((good, bad), (bad, good)):
        response = installed.get(
            f"/bigcommerce/load?signed_payload_jwt={first}&signed_payload_jwt={second}"
        )
        assert response.status_code == 400
    assert snapshot() == before


# --- load ------------------------------------------------------------------------------------


def test_owner_load_opens_the_app_with_an_iframe_safe_session(installed: FlaskClient) -> None:
    installed.delete_cookie("bcapp_session")
    response = load(installed, signed())

    assert response.status_code == 302
    assert app_location(response) == "/"
    cookie = response.headers["Set-Cookie"]
    for flag in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert flag in cookie
    page = installed.get("/")
    assert page.status_code == 200
    assert "owner@example.com" in page.get_data(as_text=True)


def test_deep_link_inside_the_app_is_honoured_and_outside_is_not(
    installed: FlaskClient,
) -> None:
    assert app_location(load(installed, signed(url="/products/5"))) == "/products/5"
    assert app_location(load(installed, signed(url="//evil.example/"))) == "/"
    assert app_location(load(installed, signed(url="https://evil.example"))) == "/"


def test_second_user_is_provisioned_on_first_load(installed: FlaskClient, app: Flask) -> None:
    response = load(installed, signed(user=STAFF))
    assert response.status_code == 302
    with app.app_context():
        user = user_of(app, "abc123", 2)
    assert user is not None and not user.is_owner and user.email == "staff@example.com"
    assert "staff@example.com" in installed.get("/").get_data(as_text=True)


def test_single_user_setting_refuses_unknown_users(
    make_app: Callable[..., Flask], sim: SimulatorState, snapshot: Snapshot
) -> None:
    client = make_app(multi_user=False).test_client()
    install(client, sim)
    before = snapshot()
    assert load(client, signed(user=STAFF)).status_code == 401
    assert snapshot() != before  # only the nonce was burned
    assert {k for k in snapshot() if ":seen:" not in k} == set(before)
    assert load(client, signed()).status_code == 302  # the owner still gets in


def test_unknown_store_is_401_with_reinstall_advice(
    installed: FlaskClient, snapshot: Snapshot
) -> None:
    before = snapshot()
    response = load(installed, signed(store_hash="nothere1"))
    assert response.status_code == 401
    assert "not installed" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    added = {key for key in snapshot() if key not in before}
    assert [key.split(":")[1:3] for key in added] == [["{nothere1}", "seen"]], (
        "only the payload's replay guard was written"
    )


def test_grant_no_longer_covering_required_scopes_asks_to_reauthorise(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    client = make_app().test_client()
    install(client, sim)
    from bcapp.scopes import ScopeSet

    stricter = make_app(
        required_scopes=ScopeSet.parse(
            "store_v2_information_read_only store_v2_products_read_only store_v2_orders"
        )
    )
    response = load(stricter.test_client(), signed())
    assert response.status_code == 403
    assert "re-authorised" in response.get_data(as_text=True)


def test_replay_is_401_even_when_reencoded(installed: FlaskClient) -> None:
    token = signed()
    assert load(installed, token).status_code == 302
    assert load(installed, token).status_code == 401
    assert load(installed, malleate(token)).status_code == 401


def test_concurrent_replays_let_exactly_one_through(app: Flask, installed: FlaskClient) -> None:
    token = signed()
    statuses: list[int] = []

    def run() -> None:
        statuses.append(load(app.test_client(), token).status_code)

    threads = [threading.Thread(target=run) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302] + [401] * 19


def test_used_load_payload_cannot_uninstall(installed: FlaskClient, app: Flask) -> None:
    token = signed()
    assert load(installed, token).status_code == 302
    assert load(installed, token, "/bigcommerce/uninstall").status_code == 401
    assert load(installed, token, "/bigcommerce/remove-user").status_code == 401
    with app.app_context():
        assert installation_of(app, "abc123") is not None


def test_session_is_revoked_at_once_by_uninstall(installed: FlaskClient) -> None:
    assert installed.get("/").status_code == 200
    assert load(installed, signed(), "/bigcommerce/uninstall").status_code == 200
    response = installed.get("/")
    assert response.status_code == 401


def test_tampered_session_cookie_is_no_session(installed: FlaskClient) -> None:
    cookie = installed.get_cookie("bcapp_session")
    assert cookie is not None
    value = cookie.value
    installed.set_cookie(
        "bcapp_session", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    )
    assert installed.get("/").status_code == 401


def test_app_page_without_session_is_401(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 401
    assert "<html" in response.get_data(as_text=True)


# --- uninstall and remove-user ---------------------------------------------------------------


def test_uninstall_keeps_every_record_only_with_a_ttl_and_is_idempotent(
    installed: FlaskClient, snapshot: Snapshot, redis_client: Any
) -> None:
    load(installed, signed(user=STAFF))
    before_uninstall = signed(**future(-120))
    response = load(installed, signed(user=STAFF), "/bigcommerce/uninstall")  # staff may uninstall
    assert response.status_code == 200 and response.json == {
        "status": "uninstalled",
        "changed": True,
    }
    ttls = [redis_client.ttl(key) for key in snapshot()]
    assert ttls and all(ttl > 0 for ttl in ttls), "no key without a TTL mentions the store"
    again = load(installed, signed(), "/bigcommerce/uninstall")
    assert again.status_code == 200 and again.json["changed"] is False
    assert load(installed, before_uninstall).status_code == 401, "issued before the uninstall"


def test_uninstall_of_unknown_store_is_200(installed: FlaskClient) -> None:
    response = load(installed, signed(store_hash="nothere1"), "/bigcommerce/uninstall")
    assert response.status_code == 200


def test_delayed_uninstall_does_not_delete_a_newer_install(
    installed: FlaskClient, app: Flask
) -> None:
    old = signed(**future(-3600))
    response = load(installed, old, "/bigcommerce/uninstall")
    assert response.status_code == 200 and response.json["changed"] is False
    stored = installation_of(app, "abc123")
    assert stored is not None and stored.is_installed


def test_remove_user_revokes_access_and_sessions(installed: FlaskClient, app: Flask) -> None:
    staff = app.test_client()
    assert load(staff, signed(user=STAFF)).status_code == 302
    assert staff.get("/").status_code == 200
    response = load(installed, signed(user=STAFF), "/bigcommerce/remove-user")
    assert response.status_code == 200 and response.json["removed"] is True
    assert staff.get("/").status_code == 401, "the removed user's session dies at once"
    again = load(installed, signed(user=STAFF), "/bigcommerce/remove-user")
    assert again.status_code == 200 and again.json["removed"] is False
    stale = signed(user=STAFF, **future(-60))  # issued before the removal
    assert load(staff, stale).status_code == 401
    regranted = signed(user=STAFF, **future(5))  # the owner grants access again later
    assert load(staff, regranted).status_code == 302


def test_owner_cannot_be_removed(installed: FlaskClient, app: Flask) -> None:
    response = load(installed, signed(user=OWNER), "/bigcommerce/remove-user")
    assert response.status_code == 200 and response.json["removed"] is False
    with app.app_context():
        assert user_of(app, "abc123", 1) is not None


# --- legacy signed_payload -------------------------------------------------------------------


def test_legacy_signed_payload_load(installed: FlaskClient) -> None:
    payload = legacy_signed_payload(legacy_payload_data("abc123", STAFF, OWNER), CLIENT_SECRET)
    response = installed.get("/bigcommerce/load", query_string={"signed_payload": payload})
    assert response.status_code == 302
    replay = installed.get("/bigcommerce/load", query_string={"signed_payload": payload})
    assert replay.status_code == 401


@pytest.mark.parametrize(
    "payload",
    [
        lambda: legacy_signed_payload(legacy_payload_data("abc123", STAFF, OWNER), "wrong"),
        lambda: legacy_signed_payload(
            legacy_payload_data("abc123", STAFF, OWNER, now=time.time() - 3600), CLIENT_SECRET
        ),
        lambda: legacy_signed_payload({"store_hash": "abc123", "user": STAFF}, CLIENT_SECRET),
        lambda: legacy_signed_payload(
            {"store_hash": "ABC", "user": STAFF, "timestamp": time.time()}, CLIENT_SECRET
        ),
        lambda: legacy_signed_payload(
            {"store_hash": "abc123", "user": {"id": "x"}, "timestamp": time.time()}, CLIENT_SECRET
        ),
        lambda: "eyJmb28iOiJmb28ifQ==.Zm9v",
        lambda: "onlyone",
        lambda: "a.b.c",
    ],
)
def test_bad_legacy_payloads_are_refused(
    installed: FlaskClient, snapshot: Snapshot, payload: Callable[[], str]
) -> None:
    before = snapshot()
    response = installed.get("/bigcommerce/load", query_string={"signed_payload": payload()})
    assert response.status_code in (400, 401)
    assert snapshot() == before


# --- extension signals -----------------------------------------------------------------------


def test_signals_fire_with_store_and_user(client: FlaskClient, sim: SimulatorState) -> None:
    seen: list[tuple[str, str, Any]] = []

    def recorder(name: str) -> Callable[..., None]:
        def receive(sender: str, **kwargs: Any) -> None:
            seen.append((name, sender, kwargs.get("user") or kwargs.get("user_id")))

        return receive

    receivers = {name: recorder(name) for name in ("installed", "loaded", "uninstalled", "removed")}
    with (
        signals.app_installed.connected_to(receivers["installed"]),
        signals.app_loaded.connected_to(receivers["loaded"]),
        signals.app_uninstalled.connected_to(receivers["uninstalled"]),
        signals.user_removed.connected_to(receivers["removed"]),
    ):
        install(client, sim)
        load(client, signed(user=STAFF))
        load(client, signed(user=STAFF), "/bigcommerce/remove-user")
        load(client, signed(), "/bigcommerce/uninstall")

    names = [(name, sender) for name, sender, _ in seen]
    assert names == [
        ("installed", "abc123"),
        ("loaded", "abc123"),
        ("removed", "abc123"),
        ("uninstalled", "abc123"),
    ]
    assert seen[1][2].id == 2 and seen[2][2] == 2


def test_clock_failures_log_the_measured_skew(
    installed: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert load(installed, signed(**future(300))).status_code == 401
    assert re.search(r"from the future: (29\d|30\d) s ahead", caplog.text)
    assert load(installed, signed(**future(-86400 - 400))).status_code == 401
    assert re.search(r"expired callback payload: (39\d|40\d) s past exp", caplog.text)


def test_redis_down_during_load_is_503(make_app: Callable[..., Flask], snapshot: Snapshot) -> None:
    before = snapshot()
    client = make_app(redis_url="redis://127.0.0.1:9/0").test_client()
    response = load(client, signed())
    assert snapshot() == before
    assert response.status_code == 503
    assert "Set-Cookie" not in response.headers
    assert "temporarily unavailable" in response.get_data(as_text=True)


def test_a_stalled_redis_is_a_503_that_says_when_to_try_again(
    make_app: Callable[..., Flask], snapshot: Snapshot
) -> None:
    """Fourth review: a Redis that accepts connections and never answers (a stall, not a
    refusal) was a 503 without `Retry-After`; every 503 now says when to try again."""
    with socket.create_server(("127.0.0.1", 0)) as stalled:  # never accepts, never answers
        port = stalled.getsockname()[1]
        before = snapshot()
        client = make_app(redis_url=f"redis://127.0.0.1:{port}/0").test_client()
        response = load(client, signed())
    assert response.status_code == 503 and snapshot() == before
    assert "temporarily unavailable" in response.get_data(as_text=True)
    assert 1 <= int(response.headers["Retry-After"]) <= 30


def test_undecryptable_token_reads_as_not_installed(
    installed: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    from bcapp.crypto import new_key_entry, parse_keys

    rotated_away = make_app(token_keys=parse_keys(new_key_entry())).test_client()
    response = load(rotated_away, signed())
    assert response.status_code == 401
    assert "not installed" in response.get_data(as_text=True)


def test_wrong_redis_type_is_503_not_500(
    installed: FlaskClient, redis_client: Any, prefix: str
) -> None:
    redis_client.delete(f"{prefix}:{{abc123}}:users")
    redis_client.lpush(f"{prefix}:{{abc123}}:users", "x")
    response = load(installed, signed(user=STAFF))
    assert response.status_code == 503


@pytest.mark.parametrize("route", ROUTES)
def test_head_never_burns_a_payload(installed: FlaskClient, snapshot: Snapshot, route: str) -> None:
    token = signed()
    before = snapshot()
    assert installed.head(route, query_string={"signed_payload_jwt": token}).status_code == 405
    assert snapshot() == before


def test_legacy_payloads_can_be_switched_off(
    make_app: Callable[..., Flask], sim: SimulatorState, snapshot: Snapshot
) -> None:
    client = make_app(legacy_payloads=False).test_client()
    install(client, sim)
    payload = legacy_signed_payload(legacy_payload_data("abc123", OWNER, OWNER), CLIENT_SECRET)
    before = snapshot()
    response = client.get("/bigcommerce/load", query_string={"signed_payload": payload})
    assert response.status_code == 400
    assert snapshot() == before


def test_sessions_survive_a_secret_key_rotation_with_fallbacks(
    installed: FlaskClient, make_app: Callable[..., Flask], settings: Any
) -> None:
    cookie = installed.get_cookie("bcapp_session")
    assert cookie is not None
    rotated = make_app(secret_key="n" * 48, secret_key_fallbacks=(settings.secret_key,))
    without = make_app(secret_key="n" * 48)
    for app, status in ((rotated, 200), (without, 401)):
        client = app.test_client()
        client.set_cookie("bcapp_session", cookie.value)
        assert client.get("/").status_code == status
