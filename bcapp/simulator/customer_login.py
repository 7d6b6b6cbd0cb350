"""The simulated Customer Login API: `<storefront>/login/token/<jwt>` signs a shopper in.

Every claim of docs/start/authentication/customer-login.mdx is checked: HS256, signed with the
client secret of the `iss` client (the app, or a store-level API account of the store), which
must hold `store_v2_customers_login` on the store; `operation` `customer_login`, `store_hash`
this store, `customer_id` one of its customers, a `jti` never seen, `iat` within 30 s of
BigCommerce's clock (the simulator's, with the panel's skew: what `v2/time` says) either side;
optional `channel_id` (default 1) the storefront's, `redirect_to` a relative path (default
`/account.php`), `request_ip` the browser's address, `enable_persistent_cart` a boolean.

A token is spent by its first visit once its signature holds (BigCommerce invalidates it on the
GET), whatever else fails. Every visit is kept in `SimulatorState.login_attempts`. A refusal is
a 400 page naming what failed (`data-reason`), never echoing the token; the shopper stays as was.
"""

from __future__ import annotations

from typing import Any

import jwt
from flask import Blueprint, redirect, render_template, request
from flask.typing import ResponseReturnValue

from bcapp.simulator.login import state
from bcapp.simulator.scopes import allows
from bcapp.simulator.state import SimStore, SimulatorState
from bcapp.simulator.storefront import BASE, CHANNEL, sign_in, storefront_of, with_session
from bcapp.simulator.storefront_model import (
    LOGIN_DEFAULT_REDIRECT,
    LOGIN_WINDOW_SECONDS,
    LoginAttempt,
    storefront_path,
)

bp = Blueprint("sim_customer_login", __name__)
LOGIN_SCOPE = "store_v2_customers_login"
_REQUIRED = ("iss", "iat", "jti", "operation", "store_hash", "customer_id")


class Refused(Exception):
    """A login token the storefront does not accept: `reason` is a short code, the message
    says what failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@bp.get(BASE + "/login/token/<token>", defaults={"channel_id": None})
@bp.get(CHANNEL + "/login/token/<token>")
def login_token(store_hash: str, channel_id: int | None, token: str) -> ResponseReturnValue:
    """Sign the token's customer in and redirect to `redirect_to`; else the refusal page."""
    store, channel_id = storefront_of(store_hash, channel_id)
    sim = state()
    claims = _readable(token)  # kept with the visit, whether or not it is signed in
    try:
        claims = _verified(sim, store, token)
        customer_id = _checked(sim, store, channel_id, claims)
    except Refused as refused:
        _keep(sim, store, channel_id, claims, refused.reason)
        sim.record(f"customer login on {store_hash} refused: {refused.reason}")
        page = render_template(
            "simulator/storefront_refused.html", sim=sim, store=store, reason=refused.reason,
            detail=str(refused), base=storefront_path(store.hash, channel_id),
        )
        return page, 400
    _keep(sim, store, channel_id, claims, "")
    sim.record(f"customer {customer_id} signed in on {store_hash} (channel {channel_id})")
    target = storefront_path(store.hash, channel_id) + claims.get(
        "redirect_to", LOGIN_DEFAULT_REDIRECT
    )
    session = sign_in(sim, store.hash, channel_id, customer_id)
    return with_session(redirect(target), store.hash, channel_id, session)


def _readable(token: str) -> dict[str, Any]:
    """The token's claims, unverified ({} for no JWT): what the visit's record keeps."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _verified(sim: SimulatorState, store: SimStore, token: str) -> dict[str, Any]:
    """The claims, once the header, the issuer and the signature hold; the `jti` is spent."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise Refused("malformed", "The login token is not a JWT.") from error
    if header.get("alg") != "HS256":
        raise Refused("algorithm", "The login token must be signed with HS256.")
    issuer = unverified.get("iss")
    secret, granted = _issuer(sim, store, issuer)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise Refused(
            "signature", "The login token is not signed with the client secret of its iss."
        ) from error
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise Refused("jti", "The login token has no jti (a unique id, such as a UUID).")
    with sim.lock:
        spent = jti in sim.used_login_jtis
        sim.used_login_jtis.add(jti)
    if spent:
        raise Refused("replayed", "This login token was used already: a token works once.")
    if not allows(granted, LOGIN_SCOPE):
        raise Refused("scope", f"The client {issuer} was not granted {LOGIN_SCOPE} on the store.")
    return claims


def _issuer(sim: SimulatorState, store: SimStore, issuer: object) -> tuple[str, str]:
    """The client secret of the `iss` client and the scopes it holds on the store."""
    if issuer == sim.client_id:
        return sim.client_secret, store.scopes if store.access_token else ""
    account = next((a for a in store.api_accounts if a.client_id == issuer), None)
    if account is None:
        raise Refused("iss", "The login token's iss is not the client id of an app of the store.")
    return account.client_secret, account.scopes


def _checked(
    sim: SimulatorState, store: SimStore, channel_id: int, claims: dict[str, Any]
) -> int:
    """The customer id, once every other claim holds."""
    missing = [name for name in _REQUIRED if name not in claims]
    if missing:
        raise Refused("missing", "The login token lacks " + ", ".join(missing) + ".")
    if claims["operation"] != "customer_login":
        raise Refused("operation", "The login token's operation must be customer_login.")
    if claims["store_hash"] != store.hash:
        raise Refused("store_hash", f"The login token is for another store, not {store.hash}.")
    now = int(sim.clock()) + sim.clock_skew_seconds
    issued = claims["iat"]
    if type(issued) is not int:
        raise Refused("iat", "The login token's iat must be a whole number of seconds.")
    if abs(now - issued) > LOGIN_WINDOW_SECONDS:
        raise Refused(
            "iat", f"The login token's iat is {issued - now:+d} s from BigCommerce's clock: it "
            f"is accepted for {LOGIN_WINDOW_SECONDS} s (correct the app's clock with v2/time).",
        )
    customer_id = claims["customer_id"]
    if type(customer_id) is not int or customer_id not in store.customers:
        raise Refused("customer_id", f"Store {store.hash} has no customer {customer_id!r:.20}.")
    channel = claims.get("channel_id", 1)
    if type(channel) is not int or channel != channel_id:
        raise Refused("channel_id", f"The login token is for channel {channel!r:.12}, not "
                      f"this storefront's channel {channel_id}.")
    target = claims.get("redirect_to", LOGIN_DEFAULT_REDIRECT)
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") or (
        "\\" in target
    ):
        raise Refused("redirect_to", "redirect_to must be a relative path, such as /account.php.")
    expected_ip = claims.get("request_ip")
    if expected_ip is not None and expected_ip != request.remote_addr:
        raise Refused("request_ip", "The login token's request_ip is not the browser's address.")
    if not isinstance(claims.get("enable_persistent_cart", False), bool):
        raise Refused("enable_persistent_cart", "enable_persistent_cart must be true or false.")
    return customer_id


def _keep(
    sim: SimulatorState, store: SimStore, channel_id: int, claims: dict[str, Any], refused: str
) -> None:
    customer = claims.get("customer_id")
    attempt = LoginAttempt(
        store_hash=store.hash,
        channel_id=channel_id,
        jti=str(claims.get("jti", ""))[:200],
        customer_id=customer if isinstance(customer, int) else None,
        refused=refused,
        at=sim.clock(),
    )
    with sim.lock:
        sim.login_attempts.append(attempt)
