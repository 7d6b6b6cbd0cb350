"""The session cookie's codec: Flask's signed cookie format, made without its per-request costs.

Flask builds an itsdangerous serializer twice per request, walks every value through its tagged
JSON encoder and tries zlib on every cookie. bcapp's cookie holds a few short identifiers (plain
strings and integers, bcapp/web/sessions.py), so this interface keeps one serializer per key
set, writes plain compact JSON when every value is a plain one (byte-for-byte what the tagged
encoder writes for them) and never compresses (random identifiers do not compress). Reading is
Flask's own, so cookies made either way keep working, and the signature is the same HMAC.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

_PLAIN = (str, int, bool, type(None))


class _CookieJson(TaggedJSONSerializer):
    """Plain JSON for a dict of plain values; Flask's tagged JSON for anything else."""

    def dumps(self, value: Any) -> str:
        if (
            type(value) is dict
            and len(value) != 1  # a one-key dict may look like one of the tagged encoder's tags
            and all(type(item) in _PLAIN for item in value.values())
        ):
            return json.dumps(value, separators=(",", ":"))
        return super().dumps(value)


class _UncompressedSerializer(URLSafeTimedSerializer):
    """URL-safe and timed like Flask's, without the zlib attempt on every dump."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


class LeanCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with one cached serializer (see the module docstring)."""

    serializer = _CookieJson()

    def __init__(self) -> None:
        self._cached: tuple[tuple[str | bytes, ...], URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer of the app's current keys, built once per key set."""
        if not app.secret_key:
            return None
        keys = (*app.config["SECRET_KEY_FALLBACKS"], app.secret_key)
        if self._cached is None or self._cached[0] != keys:
            serializer = _UncompressedSerializer(
                list(keys),
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
            self._cached = (keys, serializer)
        return self._cached[1]
