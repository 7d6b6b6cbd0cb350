"""The shopper a storefront script speaks for: BigCommerce's Current Customer JWT, verified.

A storefront script fetches `/customer/current.jwt?app_client_id=<client id>` from the store
(same origin: the shopper's session goes with it; 404 for a guest) and posts the JWT to the
app's server (docs/storefront.md). It is HS256 with the app's client secret, `aud` the client id,
`iss` `bc/apps`, `operation` `current_customer`, `sub` the store, `iat` and `exp` (15 minutes);
every one is checked here, the times against bcapp's clock with the configured leeway, and key
material in the header (`jku`, `jwk`, ...) refused, as for the control panel's payloads
(bcapp/signing.py). A refusal names its reason for the log, never for the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bcapp.errors import Unauthorized
from bcapp.signing import decode_hs256
from bcapp.validation import STORE_HASH

OPERATION = "current_customer"
ISSUER = "bc/apps"
MAX_TOKEN_CHARS = 4096
MAX_LIFETIME_SECONDS = 3600  # BigCommerce issues 900 s; anything far longer is not its token
REQUIRED = ["iss", "aud", "sub", "iat", "exp", "customer", "operation"]
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Customer:
    """The signed-in shopper as BigCommerce vouches for them."""

    id: int
    email: str
    group_id: str  # a string in BigCommerce's token ("" when none)


def verify_customer_token(
    token: str, client_id: str, secrets: list[str], now: float, leeway: int
) -> tuple[str, Customer]:
    """(store hash, customer) of a valid Current Customer JWT; Unauthorized otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not _SHAPE.fullmatch(token):
        raise Unauthorized("customer_jwt_shape")
    claims = decode_hs256(token, secrets, client_id, ISSUER, REQUIRED, "customer_jwt")
    if claims.get("operation") != OPERATION:
        raise Unauthorized("customer_jwt_operation")
    issued, expires = claims.get("iat"), claims.get("exp")
    if type(issued) is not int or type(expires) is not int:
        raise Unauthorized("customer_jwt_times")
    if issued > now + leeway or expires < now - leeway:
        raise Unauthorized("customer_jwt_expired")
    if not 0 < expires - issued <= MAX_LIFETIME_SECONDS:
        raise Unauthorized("customer_jwt_lifetime")
    store_hash = claims.get("sub")
    if not isinstance(store_hash, str) or not STORE_HASH.fullmatch(store_hash):
        raise Unauthorized("customer_jwt_store")
    if claims.get("store_hash", store_hash) != store_hash:
        raise Unauthorized("customer_jwt_store")
    return store_hash, _customer(claims.get("customer"))


def _customer(value: Any) -> Customer:
    if not isinstance(value, dict):
        raise Unauthorized("customer_jwt_customer")
    customer_id, email, group = value.get("id"), value.get("email"), value.get("group_id")
    if type(customer_id) is not int or not 0 < customer_id < 2**63:
        raise Unauthorized("customer_jwt_customer")
    if not isinstance(email, str) or len(email) > 254 or not email.isprintable():
        raise Unauthorized("customer_jwt_customer")
    group_text = "" if group is None else str(group)[:32]
    return Customer(customer_id, email, group_text)
