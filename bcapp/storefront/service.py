"""The storefront side of an app as a use case, no Flask: who the shopper is, which origins may
ask, and how often (the web decorator is bcapp/storefront/web.py).

A store's storefront origins are learned from the store (`GET v2/store`: `secure_url` and
`domain`; `GET v3/sites`: each channel's site, when the token may read them) by the install's
follow-up task and by reconcile, and kept in Redis beside a reverse index (origin to store), so
a CORS preflight, which carries no credential, is answered for an installed store's storefront
only, with one read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from bcapp.clock import Clock
from bcapp.errors import ApiError, NotInstalled, Unauthorized
from bcapp.service.limits import AbuseLimits
from bcapp.service.store_client import StoreClient
from bcapp.settings import Settings
from bcapp.store import StoreCache
from bcapp.store.connection import unavailable_on_redis_error
from bcapp.storefront.login import (
    DEFAULT_REDIRECT,
    login_claims,
    require_scope,
    signed_login_url,
)
from bcapp.storefront.shopper import Customer, verify_customer_token
from bcapp.validation import exact_origin

log = logging.getLogger(__name__)
ROUTE = "storefront"  # the abuse limits' route name
CLOCK_OFFSET = "store-clock-offset"


@dataclass(frozen=True)
class Shopper:
    """A verified shopper of an installed store, with that store's API client."""

    store_hash: str
    customer: Customer
    api: StoreClient


class StorefrontOrigins:
    """Each store's storefront origins, and the store of an origin (`{storefront}` slot)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._index = f"{prefix}:{{storefront}}:origins"

    def store_of(self, origin: str) -> str | None:
        """The store whose storefront `origin` is, or None."""
        with unavailable_on_redis_error("storefront_origins"):
            found = self._redis.hget(self._index, origin)
        return str(found) if found else None

    def learn(self, store_hash: str, origins: set[str]) -> None:
        """Keep `origins` as the store's own (an origin another store had moves to it)."""
        with unavailable_on_redis_error("storefront_origins"):
            known = {str(k): str(v) for k, v in self._redis.hgetall(self._index).items()}
            stale = [o for o, owner in known.items() if owner == store_hash and o not in origins]
            pipe = self._redis.pipeline(transaction=True)
            if stale:
                pipe.hdel(self._index, *stale)
            if origins:
                pipe.hset(self._index, mapping=dict.fromkeys(origins, store_hash))
            pipe.execute()


class Storefront:
    """Shoppers verified, origins judged, requests counted."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        limits: AbuseLimits,
        origins: StorefrontOrigins,
        client_of: Callable[[str], StoreClient],
        cache: StoreCache,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._limits = limits
        self._origins = origins
        self._client_of = client_of  # store hash -> StoreClient (NotInstalled otherwise)
        self._cache = cache

    def admit(self, address: str) -> None:
        """Count a storefront request from `address` (429 over the limit)."""
        self._limits.admit_address(ROUTE, address)

    def allowed_origin(self, origin: str | None, store_hash: str | None = None) -> str | None:
        """`origin` when it is an installed store's storefront (that store's, when named)."""
        exact = exact_origin(origin) if origin else None
        if exact is None or exact != origin:
            return None
        owner = self._origins.store_of(exact)
        if owner is None or (store_hash is not None and owner != store_hash):
            return None
        return exact

    def shopper(self, token: str) -> Shopper:
        """The shopper of a Current Customer JWT, for an installed store (401 otherwise)."""
        settings = self._settings
        secrets = [settings.client_secret, *settings.previous_client_secrets]
        store_hash, customer = verify_customer_token(
            token, settings.client_id, secrets, self._clock.now(), settings.jwt_leeway_seconds
        )
        self._limits.admit_store(ROUTE, store_hash)
        try:
            api = self._client_of(store_hash)
        except NotInstalled as exc:
            raise Unauthorized("customer_store_not_installed") from exc
        return Shopper(store_hash, customer, api)

    def login_url(
        self,
        store_hash: str,
        customer_id: int,
        *,
        redirect_to: str = DEFAULT_REDIRECT,
        channel_id: int = 1,
        request_ip: str | None = None,
    ) -> str:
        """Where to send a shopper to sign them in as `customer_id` (bcapp/storefront/login.py):
        ValueError for a bad argument, ConfigurationError without the scope."""
        settings = self._settings
        require_scope(settings.required_scopes.names)
        api = self._client_of(store_hash)
        now = int(self._clock.now())  # read once: two reads could straddle a second
        issued = now + self._store_clock_offset(api, now)
        claims = login_claims(settings.client_id, store_hash, customer_id, issued,
                              redirect_to=redirect_to, channel_id=channel_id,
                              request_ip=request_ip)
        return signed_login_url(self._storefront_url(api, channel_id), claims,
                                settings.client_secret)

    def _store_clock_offset(self, api: StoreClient, now: int) -> int:
        """The store's clock minus bcapp's at `now`, in seconds (`v2/time`), remembered for an
        hour."""
        remembered = self._cache.recall(api.store_hash, CLOCK_OFFSET)
        if remembered is not None and remembered.lstrip("-").isdigit():
            return int(remembered)
        answer = api.get("v2/time")
        store_time = answer.get("time") if isinstance(answer, dict) else None
        offset = int(store_time) - now if type(store_time) is int else 0
        self._cache.remember(api.store_hash, CLOCK_OFFSET, str(offset), 3600)
        return offset

    def _storefront_url(self, api: StoreClient, channel_id: int) -> str:
        """The storefront's base URL for a channel (its site), else the store's `secure_url`."""
        if channel_id != 1:
            try:
                sites = api.get("v3/sites", **{"channel_id:in": channel_id})
            except ApiError:
                sites = None
            for site in sites.get("data", []) if isinstance(sites, dict) else []:
                if isinstance(site, dict) and site.get("channel_id") == channel_id:
                    return str(site.get("url", "")).rstrip("/")
        info = api.get("v2/store")
        url = info.get("secure_url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ApiError("storefront_url_unknown")
        return url.rstrip("/")

    def forget_origins(self, store_hash: str) -> None:
        """A purged store's origins leave the index (its preflights are refused from then)."""
        self._origins.learn(store_hash, set())

    def learn_origins(self, api: StoreClient) -> set[str]:
        """Read and keep the store's storefront origins (the install's task, reconcile)."""
        found: set[str] = set()
        try:
            info = api.get("v2/store")
        except ApiError as exc:
            log.warning("store=%s: storefront origins unknown (%s)", api.store_hash, exc.reason)
            return found
        if isinstance(info, dict):
            found |= _origins(info.get("secure_url"), info.get("domain"))
        try:
            sites = api.get("v3/sites")
        except ApiError:
            sites = None  # the token may not read sites: the store's own URL is enough
        for site in sites.get("data", []) if isinstance(sites, dict) else []:
            if isinstance(site, dict):
                found |= _origins(site.get("url"))
        self._origins.learn(api.store_hash, found)
        return found


def _origins(*values: Any) -> set[str]:
    found = set()
    for value in values:
        if not isinstance(value, str) or not value:
            continue
        url = value if "://" in value else f"https://{value}"
        origin = exact_origin(url)
        if origin is not None and urlsplit(url).hostname:
            found.add(origin)
    return found
