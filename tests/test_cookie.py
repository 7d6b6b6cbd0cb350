"""The lean session-cookie codec writes and reads exactly Flask's signed-cookie format."""

from __future__ import annotations

import datetime

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from bcapp.web.cookie import LeanCookieSessions

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


def test_without_a_secret_key_there_is_no_session() -> None:
    app = Flask(__name__)
    assert LeanCookieSessions().get_signing_serializer(app) is None
