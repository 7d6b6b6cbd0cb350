"""One Account API budget for every process of the app, kept in Redis.

BigCommerce limits every endpoint under `/accounts` to 70 requests an hour for the whole app
(docs/billing.md). Every call from any process (web workers, task workers, the CLI) first takes
a slot in one sliding hour kept in Redis (a sorted set of call times, `{billing}` hash-tagged):
below `hourly_budget`, of which the sweep may use all but `interactive_reserve`, so a checkout,
a cancel or a confirmation always finds room. A call over its share is never sent: the caller
gets how long until a slot frees.
"""

from __future__ import annotations

import secrets

import redis

from bcapp.billing.config import BillingSettings
from bcapp.metrics import BILLING_BUDGET_LEFT
from bcapp.store.connection import unavailable_on_redis_error

WINDOW_MS = 3600 * 1000
_TAKE = """
local now, window, share = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= share then
  local oldest = redis.call('ZRANGE', KEYS[1], used - share, used - share, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, used + 1}
"""


class AccountApiBudget:
    """Slots of the Account API's hour, shared through Redis."""

    def __init__(self, client: redis.Redis, prefix: str, settings: BillingSettings) -> None:
        self._redis = client
        self.key = f"{prefix}:{{billing}}:account-api-calls"
        self._settings = settings
        self._take = client.register_script(_TAKE)

    def take(self, now: float, interactive: bool) -> float:
        """Take a slot: 0 when taken, else the seconds until one frees for this kind of call
        (the sweep's share leaves the interactive reserve free)."""
        settings = self._settings
        share = settings.hourly_budget - (0 if interactive else settings.interactive_reserve)
        member = f"{int(now * 1000)}-{secrets.token_hex(4)}"
        with unavailable_on_redis_error("billing_budget"):
            taken, value = self._take(
                keys=[self.key], args=[int(now * 1000), WINDOW_MS, share, member]
            )
        if int(taken):
            BILLING_BUDGET_LEFT.set(settings.hourly_budget - int(value))
            return 0.0
        return max(int(value), 0) / 1000

    def used(self, now: float) -> int:
        """Calls made in the last hour, by every process."""
        with unavailable_on_redis_error("billing_budget"):
            return int(self._redis.zcount(self.key, now * 1000 - WINDOW_MS, "+inf"))
