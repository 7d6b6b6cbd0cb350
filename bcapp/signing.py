"""Verification of BigCommerce's signed callbacks: `signed_payload_jwt` and legacy `signed_payload`.

The JWT rules are docs/security.md R1: HS256 only, the client secret (or a previous one during
rotation) as the only key, exact `aud` (list form refused) and `iss`, every claim required,
`sub` strictly ``stores/<hash>``, a bounded lifetime, time checks against an injectable clock
with a small leeway, and no exception escaping as anything but a refusal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import posixpath
import re
from typing import Any
from urllib.parse import unquote

import jwt

from bcapp import endpoints
from bcapp.errors import BadRequest, Unauthorized
from bcapp.models import CallbackClaims
from bcapp.validation import store_hash_from_context, user_and_owner

log = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 8 * 1024
# BigCommerce: exp = iat + 24 h and nbf = iat - 5, so a genuine payload lives 86405 s; a minute
# of slack. A longer-lived payload is refused (docs/security.md R1); None lifts the cap.
DEFAULT_MAX_LIFETIME_SECONDS = 86400 + 60
_REQUIRED_CLAIMS = ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_LEGACY_SHAPE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}\.[A-Za-z0-9+/_-]+={0,2}")
_JTI = re.compile(r"[\x21-\x7e]{1,128}")
_LOCALE = re.compile(r"[A-Za-z0-9-]{1,35}")
_MAX_URL_CHARS = 2048
_KEY_MATERIAL_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"})
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A URL scheme (`javascript:`, `https:`) at the start of a path segment.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# Refused in a deep link: a space or control character as sent, a control character decoded.
_RAW_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_DECODED_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def verify_signed_payload_jwt(
    token: str,
    client_id: str,
    secrets: list[str],
    now: float,
    leeway: int,
    max_lifetime: int | None = DEFAULT_MAX_LIFETIME_SECONDS,
) -> CallbackClaims:
    """Verify a `signed_payload_jwt`: BadRequest when malformed, Unauthorized when not genuine."""
    if len(token) > MAX_PAYLOAD_CHARS:
        raise BadRequest("payload_too_large")
    if not _JWT_SHAPE.fullmatch(token):
        raise BadRequest("payload_malformed")
    claims = _decode(token, client_id, secrets)
    _check_times(claims, now, leeway, max_lifetime)
    return _callback_claims(claims)


def _check_header(header: dict[str, Any]) -> None:
    """Refuse headers that name key material; the key is only ever the configured secret."""
    if _KEY_MATERIAL_HEADERS & header.keys():
        raise Unauthorized("jwt_header_key_material")
    kid = header.get("kid")
    if kid is not None and not (isinstance(kid, str) and _KID.fullmatch(kid)):
        raise Unauthorized("jwt_header_kid")


def _decode(token: str, client_id: str, secrets: list[str]) -> dict[str, Any]:
    """Signature, algorithm, audience, issuer and presence, by PyJWT; times are checked after."""
    return decode_hs256(token, secrets, client_id, "bc", _REQUIRED_CLAIMS, "jwt")


def decode_hs256(
    token: str, secrets: list[str], audience: str, issuer: str, require: list[str], reason: str
) -> dict[str, Any]:
    """The claims of a JWT signed HS256 by one of `secrets`, for `audience` from `issuer` with
    every `require`d claim; Unauthorized (`<reason>_...`) otherwise. Times are the caller's to
    check against bcapp's clock. Decoded once: PyJWT's parsed header is checked here, after
    the signature (key material refused)."""
    for secret in secrets:
        try:
            decoded = jwt.decode_complete(
                token,
                secret,
                algorithms=["HS256"],
                audience=audience,
                issuer=issuer,
                options={
                    "require": require,
                    "strict_aud": True,
                    "verify_exp": False,  # checked by the caller against the injected clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"{reason}_{type(exc).__name__}") from exc
        except Exception as exc:  # odd signed claims can raise anything (docs/security.md R1)
            raise Unauthorized(f"{reason}_undecodable") from exc
        _check_header(decoded["header"])
        claims: dict[str, Any] = decoded["payload"]
        return claims
    raise Unauthorized(f"{reason}_bad_signature")


def _check_times(claims: dict[str, Any], now: float, leeway: int, max_lifetime: int | None) -> None:
    iat, nbf, exp = (_int_claim(claims, name) for name in ("iat", "nbf", "exp"))
    if exp <= nbf or (max_lifetime is not None and exp - min(nbf, iat) > max_lifetime):
        raise Unauthorized("jwt_lifetime_too_long")
    if now > exp + leeway:
        log.warning("expired callback payload: %.0f s past exp (leeway %s s)", now - exp, leeway)
        raise Unauthorized("jwt_expired")
    if now < nbf - leeway or now < iat - leeway:
        skew = max(nbf, iat) - now
        log.warning("callback payload from the future: %.0f s ahead; check NTP", skew)
        raise Unauthorized("jwt_not_yet_valid")


def _int_claim(claims: dict[str, Any], name: str) -> int:
    """A NumericDate claim as a plain integer (no floats, booleans, strings or infinities)."""
    value = claims.get(name)
    if type(value) is not int:
        raise Unauthorized("jwt_time_claim_type")
    return value


def _callback_claims(claims: dict[str, Any]) -> CallbackClaims:
    sub, jti = claims["sub"], claims["jti"]
    if not isinstance(sub, str) or not isinstance(jti, str) or not _JTI.fullmatch(jti):
        raise Unauthorized("jwt_sub_or_jti")
    try:
        store_hash = store_hash_from_context(sub)
    except ValueError as exc:
        raise Unauthorized("jwt_sub") from exc
    try:
        user, owner = user_and_owner(claims)
    except ValueError as exc:
        raise Unauthorized(f"jwt_{exc}") from exc
    locale = claims["user"].get("locale")
    channel_id = claims.get("channel_id")
    return CallbackClaims(
        store_hash=store_hash,
        user=user,
        owner=owner,
        issued_at=claims["iat"],
        nonce="bc:" + jti,
        expires_at=claims["exp"],
        url=deep_link(claims.get("url")),
        channel_id=channel_id if type(channel_id) is int else None,
        locale=locale if isinstance(locale, str) and _LOCALE.fullmatch(locale) else None,
    )


def deep_link(value: object) -> str:
    """The `url` claim as a path inside the app, or "/" (no open redirects, docs/security.md R4).

    The path is judged as every layer after bcapp may read it: percent-decoded (repeatedly, so
    ``%252F`` counts as ``/``), a backslash counted as a slash, and any scheme refused.
    """
    if value == "/" or not isinstance(value, str) or not value.startswith("/"):
        return "/"  # "/" itself is what most loads carry: nothing to judge
    if len(value) > _MAX_URL_CHARS:
        return "/"
    decoded = _fully_unquoted(value)
    if decoded is None or not decoded.startswith("/") or decoded.startswith(("//", "/\\")):
        return "/"
    if "\\" in decoded or _SCHEME.match(decoded.lstrip("/")):
        return "/"
    if _RAW_CONTROL.search(value):
        return "/"
    if _DECODED_CONTROL.search(decoded):
        return "/"  # an encoded space is a fine search term; an encoded line break is not
    if _into_callbacks(decoded):
        return "/"  # a deep link never re-enters bcapp's own callbacks (a handoff, a load)
    return value


def _into_callbacks(decoded: str) -> bool:
    """True when a decoded deep link's path lies under bcapp's callbacks (/bigcommerce/...),
    however it is spelt: repeated slashes, dot segments and case do not hide it."""
    path = decoded.split("?", 1)[0].split("#", 1)[0].split(";", 1)[0]
    normal = posixpath.normpath("/" + path.lstrip("/")).lower()
    return normal == endpoints.PREFIX or normal.startswith(endpoints.PREFIX + "/")


def _fully_unquoted(value: str, rounds: int = 4) -> str | None:
    """`value` percent-decoded until it stops changing; None when it never settles."""
    for _ in range(rounds):
        decoded = unquote(value)
        if decoded == value:
            return value
        value = decoded
    return None


def verify_legacy_signature(payload: str, secrets: list[str]) -> tuple[dict[str, Any], bytes]:
    """Check a legacy `signed_payload`; return its JSON object and raw bytes.

    The second segment is base64 of the *hex* HMAC-SHA256 of the JSON bytes (docs/protocol.md);
    standard and URL-safe alphabets, with or without padding, are accepted.
    """
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise BadRequest("payload_too_large")
    if not _LEGACY_SHAPE.fullmatch(payload):
        raise BadRequest("payload_malformed")
    encoded_body, encoded_signature = payload.split(".")
    body, signature = _b64decode(encoded_body), _b64decode(encoded_signature)
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, signature):
            break
    else:
        raise Unauthorized("legacy_bad_signature")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise Unauthorized("legacy_not_json") from exc
    if not isinstance(data, dict):
        raise Unauthorized("legacy_not_object")
    return data, body


def verify_legacy_signed_payload(
    payload: str, secrets: list[str], now: float, max_age: int, leeway: int
) -> CallbackClaims:
    """Verify a legacy `signed_payload` and its freshness (it has no expiry of its own)."""
    data, body = verify_legacy_signature(payload, secrets)
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise Unauthorized("legacy_timestamp")
    if not now - max_age <= timestamp <= now + leeway:
        log.warning("stale legacy payload: %.0f s old (max %s s)", now - timestamp, max_age)
        raise Unauthorized("legacy_stale")
    store_hash = data.get("store_hash")
    context = data.get("context")
    try:
        if isinstance(store_hash, str):
            store_hash = store_hash_from_context("stores/" + store_hash)
        else:
            store_hash = store_hash_from_context(context if isinstance(context, str) else "")
    except ValueError as exc:
        raise Unauthorized("legacy_store") from exc
    try:
        user, owner = user_and_owner(data)
    except ValueError as exc:
        raise Unauthorized(f"legacy_{exc}") from exc
    return CallbackClaims(
        store_hash=store_hash,
        user=user,
        owner=owner,
        issued_at=math.floor(timestamp),
        nonce="legacy:" + hashlib.sha256(body).hexdigest(),
        # Rounded up: the replay guard must outlive the last instant the payload verifies
        # (a fractional timestamp truncated let it verify once more, L4 of the third review).
        expires_at=math.ceil(timestamp) + max_age,
    )


def _b64decode(segment: str) -> bytes:
    padded = segment.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("payload_malformed") from exc
