"""The lean session-cookie codec writes and reads exactly Flask's signed-cookie format; bcapp's
own cookie keeps its flags, lifetime and keys whatever the app configured."""

from __future__ import annotations

import datetime
import time
from email.utils import parsedate_to_datetime
from hashlib import sha1

import pytest
from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from bcapp.web.cookie import BCAPP_SALT, BcappCookie, LeanCookieSessions

PLAIN = {"store": "abc123", "user": 7, "install": "i-1", "access": "a-1", "csrf": "c" * 43}


def flask_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k" * 48, SECRET_KEY_FALLBACKS=["old" * 16])
    return app


@pytest.mark.parametrize(
    "value",
    [PLAIN, {"only": "one key"}, {"when": datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)}],
)
def test_cookies_round_trip_with_flasks_own_interface(value: dict[str, object]) -> None:
    app = flask_app()
    lean = LeanCookieSessions().get_signing_serializer(app)
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    assert lean is not None and stock is not None
    assert stock.loads(lean.dumps(value)) == value, "Flask reads what bcapp writes"
    assert lean.loads(stock.dumps(value)) == value, "bcapp reads what Flask wrote"


def test_plain_values_are_written_as_flask_writes_them_but_never_compressed() -> None:
    app = flask_app()
    lean = LeanCookieSessions().get_signing_serializer(app)
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    assert lean is not None and stock is not None
    payload = lean.dumps(PLAIN).rsplit(".", 2)[0]
    assert not payload.startswith("."), "no zlib"
    assert lean.serializer.dumps(PLAIN) == stock.serializer.dumps(PLAIN)
    repetitive = {"a": "x" * 500, "b": 1}
    assert stock.dumps(repetitive).startswith("."), "Flask would compress this one"
    assert not lean.dumps(repetitive).startswith(".")


def test_the_serializer_is_built_once_per_key_set() -> None:
    app, interface = flask_app(), LeanCookieSessions()
    first = interface.get_signing_serializer(app)
    assert first is not None and interface.get_signing_serializer(app) is first
    app.config["SECRET_KEY_FALLBACKS"] = [app.secret_key]  # a rotation
    app.secret_key = "n" * 48
    rotated = interface.get_signing_serializer(app)
    assert rotated is not None and rotated is not first
    assert rotated.loads(first.dumps(PLAIN)) == PLAIN, "the old key still reads"


def test_one_signer_signs_and_a_forged_foreign_or_stale_cookie_is_refused() -> None:
    app = flask_app()
    lean = LeanCookieSessions().get_signing_serializer(app)
    assert lean is not None and lean.make_signer() is lean.make_signer(), "built once"
    good = lean.dumps(PLAIN)
    payload, timestamp, signature = good.rsplit(".", 2)
    forged = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}"
    for bad in (f"{forged}.{timestamp}.{signature}", f"{payload}.{timestamp}.{signature[::-1]}"):
        with pytest.raises(BadSignature):
            lean.loads(bad)
    foreign = flask_app()
    foreign.config.update(SECRET_KEY="f" * 48, SECRET_KEY_FALLBACKS=[])
    stranger = LeanCookieSessions().get_signing_serializer(foreign)
    assert stranger is not None
    with pytest.raises(BadSignature):
        lean.loads(stranger.dumps(PLAIN))
    with pytest.raises(BadSignature):
        lean.loads(good, salt="another-salt")  # a signer of its own, not the cached one
    with pytest.raises(SignatureExpired):
        lean.loads(good, max_age=-1)
    assert lean.loads(good, max_age=60) == PLAIN


def test_without_a_secret_key_there_is_no_session() -> None:
    app = Flask(__name__)
    assert LeanCookieSessions().get_signing_serializer(app) is None


class _SignedLongAgo(TimestampSigner):
    """Signs as if two minutes ago (itsdangerous reads the wall clock)."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 120


def bcapp_cookie(lifetime_seconds: int = 3600, fallbacks: tuple[str, ...] = ()) -> BcappCookie:
    return BcappCookie(
        secret_key="k" * 48,
        fallbacks=fallbacks,
        name="bcapp_session",
        lifetime_seconds=lifetime_seconds,
    )


def test_bcapps_cookie_ends_with_its_lifetime_whatever_the_app_configured() -> None:
    """The session's cap (12 h by default) is the cookie's own: its expiry and its max age."""
    app = flask_app()
    app.config["PERMANENT_SESSION_LIFETIME"] = 10**8  # the host's, not bcapp's
    old = URLSafeTimedSerializer(
        ["k" * 48],
        salt=BCAPP_SALT,
        signer=_SignedLongAgo,
        signer_kwargs={"digest_method": sha1, "key_derivation": "hmac"},
    ).dumps(PLAIN)
    with app.test_request_context(headers={"Cookie": f"bcapp_session={old}"}):
        assert dict(bcapp_cookie(3600).open_session(app, request)) == PLAIN
        assert dict(bcapp_cookie(60).open_session(app, request)) == {}, "older than 60 s"

    with app.test_request_context():
        opened = bcapp_cookie(60).open_session(app, request)
    opened.permanent = True
    opened.update(PLAIN)
    response = Response()
    bcapp_cookie(60).save_session(app, opened, response)
    written = response.headers["Set-Cookie"]
    expires = parsedate_to_datetime(written.split("Expires=")[1].split(";")[0])
    assert abs((expires - datetime.datetime.now(datetime.UTC)).total_seconds() - 60) < 5
    for flag in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert flag in written
    assert "Domain" not in written


def test_bcapps_cookie_is_written_only_when_changed_and_deleted_when_emptied() -> None:
    app, cookie = flask_app(), bcapp_cookie()
    value = cookie.get_signing_serializer(app).dumps(PLAIN)
    with app.test_request_context(headers={"Cookie": f"bcapp_session={value}"}):
        opened = cookie.open_session(app, request)
        untouched = Response()
        cookie.save_session(app, opened, untouched)
        assert "Set-Cookie" not in untouched.headers, "a refusal or a page view sends none"
        opened.clear()
        emptied = Response()
        cookie.save_session(app, opened, emptied)
        deleted = emptied.headers["Set-Cookie"]
        assert deleted.startswith("bcapp_session=;") and "Partitioned" in deleted


def test_bcapps_cookie_reads_former_keys_and_never_the_apps_own_session() -> None:
    app = flask_app()  # its SECRET_KEY is the one bcapp's cookie signs with, too
    former = bcapp_cookie().get_signing_serializer(app).dumps(PLAIN)
    rotated = BcappCookie(
        secret_key="n" * 48, fallbacks=("k" * 48,), name="bcapp_session", lifetime_seconds=60
    )
    assert rotated.get_signing_serializer(app).loads(former) == PLAIN
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flasks is not None
    with pytest.raises(BadSignature):
        bcapp_cookie().get_signing_serializer(app).loads(flasks.dumps(PLAIN))



@pytest.mark.parametrize("accessed", [True, False])
@pytest.mark.parametrize("change", ["none", "write", "empty"])
@pytest.mark.parametrize("vary_before", [None, "Accept-Encoding"])
def test_vary_is_what_flasks_own_interface_sends_and_never_repeated(
    accessed: bool, change: str, vary_before: str | None
) -> None:
    """A session read, written or emptied varies its response by Cookie exactly as Flask's
    `save_session` says, with "Cookie" named once, beside a Vary the view set."""
    app, cookie, stock = flask_app(), bcapp_cookie(), SecureCookieSessionInterface()
    value = cookie.get_signing_serializer(app).dumps(PLAIN)
    answers = []
    for interface in (cookie, stock):
        with app.test_request_context(headers={"Cookie": f"bcapp_session={value}"}):
            opened = interface.open_session(app, request)
        assert opened is not None
        opened.accessed = accessed
        if change == "write":
            opened["csrf"] = "d" * 43
        elif change == "empty":
            opened.clear()
        response = Response()
        if vary_before is not None:
            response.headers["Vary"] = vary_before
        interface.save_session(app, opened, response)
        answers.append(sorted(response.vary))
    ours, flasks = answers
    assert ours == flasks
    assert ours.count("Cookie") == (1 if accessed or change != "none" else 0)
