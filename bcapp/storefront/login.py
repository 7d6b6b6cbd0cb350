"""Signing a shopper in: BigCommerce's Customer Login API (docs/storefront.md).

The app signs a JWT with its client secret and sends the shopper to
`<storefront>/login/token/<jwt>`. BigCommerce accepts it once, and only within 30 seconds of
its `iat` by the store's clock, so `iat` is the app's time corrected by the store's offset
(`GET v2/time`, remembered for an hour per store). Every claim is set: `iss` (the client id),
`iat`, a fresh `jti`, `operation`, `store_hash`, `customer_id`, `channel_id`, `redirect_to` (a
path of the storefront only: an absolute URL would make the login an open redirect) and, when
given, `request_ip` (BigCommerce then checks it is the shopper's).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import jwt

from bcapp.errors import ConfigurationError

OPERATION = "customer_login"
SCOPE = "store_v2_customers_login"
DEFAULT_REDIRECT = "/account.php"


def relative_path(redirect_to: str) -> str:
    """`redirect_to` when it is a path of the storefront; ValueError otherwise."""
    if (
        not isinstance(redirect_to, str)
        or not redirect_to.startswith("/")
        or redirect_to.startswith("//")
        or "\\" in redirect_to
        or not redirect_to.isprintable()
        or " " in redirect_to
        or len(redirect_to) > 2048
    ):
        raise ValueError("redirect_to must be a path of the storefront, like /account.php")
    return redirect_to


def login_claims(
    client_id: str,
    store_hash: str,
    customer_id: int,
    issued_at: int,
    *,
    redirect_to: str = DEFAULT_REDIRECT,
    channel_id: int = 1,
    request_ip: str | None = None,
) -> dict[str, Any]:
    """The claims of one sign-in (a fresh `jti` each time)."""
    if type(customer_id) is not int or customer_id <= 0:
        raise ValueError("customer_id is a customer's id")
    if type(channel_id) is not int or channel_id <= 0:
        raise ValueError("channel_id is a channel's id (1: the default storefront)")
    claims: dict[str, Any] = {
        "iss": client_id,
        "iat": issued_at,
        "jti": uuid.uuid4().hex,
        "operation": OPERATION,
        "store_hash": store_hash,
        "customer_id": customer_id,
        "channel_id": channel_id,
        "redirect_to": relative_path(redirect_to),
    }
    if request_ip is not None:
        claims["request_ip"] = str(ipaddress.ip_address(request_ip))  # ValueError if not one
    return claims


def signed_login_url(storefront_url: str, claims: dict[str, Any], secret: str) -> str:
    """`<storefront>/login/token/<jwt>`."""
    token = jwt.encode(claims, secret, algorithm="HS256")
    return f"{storefront_url.rstrip('/')}/login/token/{token}"


def require_scope(required: frozenset[str]) -> None:
    """ConfigurationError unless the app requires the Customer Login scope."""
    if SCOPE not in required:
        raise ConfigurationError(
            f'storefront.login_url needs the scope {SCOPE}: scopes.require("{SCOPE}", '
            'reason="signing shoppers in")'
        )
