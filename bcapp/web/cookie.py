"""Signed session cookies made without Flask's per-request costs, and bcapp's own cookie.

Flask builds an itsdangerous serializer twice per request (and itsdangerous a signer, deriving
its keys, on every dump and load), walks every value through its tagged JSON encoder and tries
zlib on every cookie. bcapp's cookie holds a few short identifiers (plain strings and integers,
bcapp/web/sessions.py), so these interfaces keep one serializer per key set, with one signer
whose keys are derived once, write plain compact JSON when every value is a plain one
(byte-for-byte what the tagged encoder writes for them) and never compress (random identifiers
do not compress). Reading is
Flask's own, so cookies made either way keep working, and the signature is the same HMAC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from itsdangerous.url_safe import URLSafeSerializerMixin

_PLAIN = (str, int, bool, type(None))
# bcapp's cookie is signed apart from any `flask.session` cookie: a host app that signs its own
# session with the same SECRET_KEY (both read the SECRET_KEY variable) cannot have one of its
# cookies, with values its views chose, read as bcapp's, nor the other way round.
BCAPP_SALT = "bcapp-session"


class _CookieJson(TaggedJSONSerializer):
    """Plain JSON for a dict of plain values, written and read; Flask's tagged JSON for
    anything else."""

    def dumps(self, value: Any) -> str:
        if (
            type(value) is dict
            and len(value) != 1  # a one-key dict may look like one of the tagged encoder's tags
            and all(type(item) in _PLAIN for item in value.values())
        ):
            return json.dumps(value, separators=(",", ":"))
        return super().dumps(value)

    def loads(self, value: str) -> Any:
        data = json.loads(value)
        if type(data) is dict and len(data) != 1 and all(type(v) in _PLAIN for v in data.values()):
            return data  # nothing the tagged decoder would turn into something else
        return super().loads(value)


class _DerivedOnceSigner(TimestampSigner):
    """itsdangerous's timed signer with each key derived when it is built, not again on every
    sign and verify (the same derivation: the signatures are the same)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}
        for key in self.secret_keys:
            self._derived[key] = super().derive_key(key)

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        return derived if derived is not None else super().derive_key(key)


class _UncompressedSerializer(URLSafeTimedSerializer):
    """URL-safe and timed like Flask's, without the zlib attempt on every dump, and with one
    signer for its keys and salt, built once (itsdangerous builds one per dump and load)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, signer=_DerivedOnceSigner, **kwargs)
        self._signer = super().make_signer(self.salt)

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None or want_bytes(salt) == self.salt:
            return self._signer
        return super().make_signer(salt)

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


def lean_serializer(
    keys: Sequence[str | bytes], interface: SecureCookieSessionInterface
) -> URLSafeTimedSerializer:
    """A serializer signing with the last of `keys` and reading with any (rotation)."""
    return _UncompressedSerializer(
        list(keys),  # str and bytes keys alike, as Flask passes them
        salt=interface.salt,
        serializer=interface.serializer,
        signer_kwargs={
            "key_derivation": interface.key_derivation,
            "digest_method": interface.digest_method,
        },
    )


class LeanCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with one cached serializer (see the module docstring);
    the `flask.session` of bcapp's own app (bcapp/web/__init__.py::create_app)."""

    serializer = _CookieJson()

    def __init__(self) -> None:
        self._cached: tuple[tuple[str | bytes, ...], URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer of the app's current keys, built once per key set."""
        if not app.secret_key:
            return None
        keys = (*app.config["SECRET_KEY_FALLBACKS"], app.secret_key)
        if self._cached is None or self._cached[0] != keys:
            self._cached = (keys, lean_serializer(keys, self))
        return self._cached[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's, without building the serializer for a request that has no such cookie."""
        if app.secret_key and not _cookie(request, self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask's; a session that is empty and was never read nor changed needs nothing (where
        Flask's would read seven settings to do nothing)."""
        if session or session.modified or session.accessed:
            super().save_session(app, session, response)


class BcappCookie(SecureCookieSessionInterface):
    """bcapp's control-panel session cookie, kept apart from the app's `flask.session`.

    Flask's signed-cookie code reads and writes it (its format, `Vary: Cookie`, an emptied
    session deleted), but everything Flask would read from `app.config` (SECRET_KEY,
    SECRET_KEY_FALLBACKS, SESSION_COOKIE_*, PERMANENT_SESSION_LIFETIME) comes from bcapp's
    settings, so the host app's own stay its own. It is never `app.session_interface`:
    bcapp/web/sessions.py opens it on first use and saves it after the request.
    `Secure; HttpOnly; SameSite=None; Partitioned; Path=/`, host-only (docs/security.md R3).
    """

    salt = BCAPP_SALT
    serializer = _CookieJson()

    def __init__(
        self,
        *,
        secret_key: str,
        fallbacks: Sequence[str],
        name: str,
        lifetime_seconds: int,
        partitioned: bool = True,
    ) -> None:
        self.name = name
        self.lifetime = timedelta(seconds=lifetime_seconds)
        # Only a browser test turns this off, to show why the iframe needs it.
        self.partitioned = partitioned
        self._serializer = lean_serializer((*fallbacks, secret_key), self)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer:
        """bcapp's serializer: SECRET_KEY last, SECRET_KEY_FALLBACKS still read (rotation)."""
        return self._serializer

    def get_cookie_name(self, app: Flask) -> str:
        """`__Host-bcapp_session` over https, `bcapp_session` otherwise."""
        return self.name

    def get_cookie_domain(self, app: Flask) -> str | None:
        """None: host-only, as the `__Host-` prefix requires."""
        return None

    def get_cookie_path(self, app: Flask) -> str:
        """The whole app (the `__Host-` prefix requires `/`)."""
        return "/"

    def get_cookie_httponly(self, app: Flask) -> bool:
        """Scripts never read it."""
        return True

    def get_cookie_secure(self, app: Flask) -> bool:
        """Sent over https only (browsers count loopback http as secure)."""
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        """None: the app lives in the control panel's cross-site iframe."""
        return "None"

    def get_cookie_partitioned(self, app: Flask) -> bool:
        """Partitioned: browsers that block third-party cookies keep it inside the iframe."""
        return self.partitioned

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        """A permanent session's cookie ends with the session's lifetime."""
        return datetime.now(UTC) + self.lifetime if session.permanent else None

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        """Only a changed session is written: a fresh /auth or /load; refusals send none."""
        return session.modified

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask's `save_session` (the same Set-Cookie, deletion and `Vary: Cookie`), with the
        Vary header added once, directly when the response has none (Flask adds it twice to
        a session it read and wrote, parsing and rebuilding the header the second time)."""
        name = self.get_cookie_name(app)
        partitioned = self.get_cookie_partitioned(app)
        if not session:
            if session.modified:
                response.delete_cookie(
                    name, domain=None, path="/", secure=True, partitioned=partitioned,
                    samesite="None", httponly=True,
                )
            if session.accessed or session.modified:
                vary_on_cookie(response)
            return
        if not self.should_set_cookie(app, session):
            if session.accessed:
                vary_on_cookie(response)
            return
        response.set_cookie(
            name,
            self._serializer.dumps(dict(session)),
            expires=self.get_expiration_time(app, session),
            httponly=True,
            domain=None,
            path="/",
            secure=True,
            partitioned=partitioned,
            samesite="None",
        )
        vary_on_cookie(response)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession:
        """The request's session; empty without a cookie, with a bad one or an expired one."""
        value = _cookie(request, self.name)
        if not value:
            return self.session_class()
        try:
            data = self._serializer.loads(value, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:
            return self.session_class()
        return self.session_class(data)


def vary_on_cookie(response: Response) -> None:
    """`response.vary.add("Cookie")`: the header added as is when the response has no Vary yet,
    else Werkzeug's set (which parses the header, adds "Cookie" once and writes it back)."""
    if any(name.lower() == "vary" for name, _ in response.headers):
        response.vary.add("Cookie")
    else:
        response.headers.add("Vary", "Cookie")


def _cookie(request: Request, name: str) -> str | None:
    """The request's cookie `name`, or None (`cookies.get` raises and catches a KeyError for a
    cookie the request does not have, as most requests do not have one of the two)."""
    if "HTTP_COOKIE" not in request.environ:
        return None  # no Cookie header: nothing to parse (a callback, a webhook delivery)
    cookies = request.cookies
    return cookies[name] if name in cookies else None  # noqa: SIM401 (see above)
