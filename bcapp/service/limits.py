"""Abuse limits: requests per client address and per store on each callback route.

Fixed windows counted in Redis, so every worker and every server shares them. Generous for
real use (a merchant opens the app a few times a minute; BigCommerce sends one uninstall), they
stop a single address from flooding a route, and a flood of verified payloads for one store
from starving the others. A limit of 0 turns that limit off (docs/security.md R12).

Nothing unauthenticated spends a store's budget: only verified payloads count against a store.
`/auth` carries nothing verifiable before its code is exchanged, so it is not counted per store
(one address could otherwise lock a store's installs); instead each address may start at most
`auth_per_address` exchanges a window, far below the general per-address limit, which bounds the
token requests one address can cause. Addresses are counted by network: an IPv6 client by its
/64 (one subscriber's allocation), every spelling of one address as the same address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass

from bcapp.clock import Clock
from bcapp.endpoints import AUTH
from bcapp.errors import TooManyRequests
from bcapp.store import HitCounters
from bcapp.validation import printable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LimitPolicy:
    """Requests allowed per window for one client address and for one store, on one route."""

    per_address: int
    per_store: int
    window_seconds: int
    auth_per_address: int = 10  # code exchanges one address may start a window


class AbuseLimits:
    """Counts requests and refuses those over the policy with TooManyRequests (429)."""

    def __init__(self, counters: HitCounters, policy: LimitPolicy, clock: Clock) -> None:
        self._counters = counters
        self._policy = policy
        self._clock = clock

    @property
    def policy(self) -> LimitPolicy:
        """The limits in force."""
        return self._policy

    def admit_address(self, route: str, address: str) -> None:
        """Count a request from `address` (an IP) on `route`; 429 when over the limit."""
        subject = address_subject(address)
        limit = self._policy.per_address
        if route == AUTH.name and self._policy.auth_per_address > 0:
            limit = min(limit, self._policy.auth_per_address) if limit > 0 else limit
        self._admit(subject, route, limit, f"address {printable(address)}")

    def admit_store(self, route: str, store_hash: str) -> None:
        """Count a request for `store_hash` on `route`; 429 when over the limit."""
        self._admit(store_hash, route, self._policy.per_store, f"store={store_hash}")

    def _admit(self, subject: str, route: str, limit: int, who: str) -> None:
        if limit <= 0:
            return
        window = self._policy.window_seconds
        if self._counters.count_hit(subject, route, window) <= limit:
            return
        log.warning("abuse limit: %s over %s requests per %s s on %s", who, limit, window, route)
        raise self.refusal("address" if subject.startswith("addr:") else "store")

    def window(self) -> int:
        """The number of the current fixed window (counters are keyed by it)."""
        return int(self._clock.now() // self._policy.window_seconds)

    def refusal(self, kind: str) -> TooManyRequests:
        """The 429 for an address or store over its limit, retried when the window turns."""
        window = self._policy.window_seconds
        retry_after = math.ceil(window - self._clock.now() % window)
        return TooManyRequests(f"rate_limited_{kind}", retry_after=max(retry_after, 1))


def address_subject(address: str) -> str:
    """The counter subject of a client address: a digest of its network, so no address is
    stored. IPv4 counts by address, IPv6 by /64, in canonical form (an IPv4-mapped IPv6
    address is its IPv4 address); anything else by its exact text."""
    return "addr:" + hashlib.sha256(counted_network(address).encode()).hexdigest()[:24]


def counted_network(address: str) -> str:
    """What an address is counted as: `203.0.113.7`, `2001:db8:1:2::/64`, or the text itself."""
    try:
        parsed = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
