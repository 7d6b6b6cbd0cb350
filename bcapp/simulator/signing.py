"""Minting what BigCommerce signs: `signed_payload_jwt` and the legacy `signed_payload`.

Claims follow docs/protocol.md ("Signed callbacks"): HS256 with the client secret, `iss` "bc",
`aud` the client id, `nbf = iat - 5`, `exp = iat + 24 h`, a UUID `jti`, `sub` "stores/<hash>".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt

DAY_SECONDS = 86400


def jwt_claims(
    client_id: str,
    store_hash: str,
    user: dict[str, Any],
    owner: dict[str, Any],
    *,
    now: int | None = None,
    url: str = "/",
    channel_id: int | None = None,
) -> dict[str, Any]:
    """The claim set BigCommerce sends to load, uninstall and remove-user."""
    issued = int(time.time()) if now is None else now
    return {
        "aud": client_id,
        "iss": "bc",
        "iat": issued,
        "nbf": issued - 5,
        "exp": issued + DAY_SECONDS,
        "jti": str(uuid.uuid4()),
        "sub": f"stores/{store_hash}",
        "user": user,
        "owner": owner,
        "url": url,
        "channel_id": channel_id,
    }


def sign_jwt(claims: dict[str, Any], secret: str, algorithm: str = "HS256") -> str:
    """Encode and sign `claims` as BigCommerce does (header typ JWT)."""
    return jwt.encode(claims, secret, algorithm=algorithm, headers={"typ": "JWT"})


def legacy_signed_payload(data: dict[str, Any], secret: str) -> str:
    """``base64(json).base64(hex(HMAC-SHA256(secret, json)))``, standard alphabet with padding."""
    body = json.dumps(data, separators=(",", ":")).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return f"{base64.b64encode(body).decode()}.{base64.b64encode(signature).decode()}"


def legacy_payload_data(
    store_hash: str, user: dict[str, Any], owner: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The legacy payload's JSON fields (docs/protocol.md, "The legacy signed_payload")."""
    return {
        "user": user,
        "owner": owner,
        "context": f"stores/{store_hash}",
        "store_hash": store_hash,
        "timestamp": time.time() if now is None else now,
    }


def standard_webhook_headers(
    secret: str, webhook_id: str, timestamp: int, body: str
) -> dict[str, str]:
    """Standard Webhooks headers as BigCommerce sends them, keyed with the app's client secret.

    The signed content is ``<id>.<timestamp>.<body>``; the key is the client secret's bytes
    (BigCommerce's samples hand the library the base64 of the secret, which it decodes).
    """
    content = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }
