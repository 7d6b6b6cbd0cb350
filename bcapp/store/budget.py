"""The store-API request budget shared by every process through Redis.

The same contract as `bcapp.bigcommerce.budget.LocalBudget`, in two Lua scripts so that
reserving (check and count) and observing (keep the lower count for the window) are atomic
across workers and machines. The key `<prefix>:{<store>}:budget` lives as long as the window
BigCommerce announced, so a new window starts from BigCommerce's own figure.
"""

from __future__ import annotations

import redis

from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.keys import BUDGET, BUDGET_PROBE

# 0: go (one request counted); otherwise ms to wait. While the window is unknown, one caller
# at a time probes it (KEYS[2]); the others wait for its answer, so every request after the
# first is counted and the shared count never runs above BigCommerce's.
_RESERVE = """
local left = redis.call('GET', KEYS[1])
if not left then
  if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
  return ARGV[2]
end
if tonumber(left) > 0 then redis.call('DECR', KEYS[1]) return 0 end
local wait = redis.call('PTTL', KEYS[1])
if wait < 1 then return 1 end
return wait
"""
_OBSERVE = """
local left = tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) < left then left = tonumber(current) end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], left, 'PX', ARGV[2])
end
redis.call('DEL', KEYS[2])
return left
"""
PROBE_MS = 1000  # a probe whose answer never comes stops blocking the others after this
PROBE_WAIT_MS = 20


class RedisRateBudget:
    """A RateBudget shared through Redis (see bcapp/bigcommerce/budget.py)."""

    def __init__(self, client: redis.Redis, keys: Keyspace) -> None:
        self._client = client
        self._keys = keys
        self._reserve = client.register_script(_RESERVE)
        self._observe = client.register_script(_OBSERVE)

    def reserve(self, store_hash: str) -> float:
        """0 when a request may go now (it is counted), else seconds until the window resets."""
        with unavailable_on_redis_error("budget_reserve"):
            wait_ms = int(
                self._reserve(keys=self._budget_keys(store_hash), args=[PROBE_MS, PROBE_WAIT_MS])
            )
        return wait_ms / 1000

    def observe(self, store_hash: str, left: int, reset_ms: int) -> None:
        """An answer said `left` requests remain for `reset_ms` ms; keep the lower count."""
        with unavailable_on_redis_error("budget_observe"):
            self._observe(keys=self._budget_keys(store_hash), args=[left, reset_ms])

    def unknown(self, store_hash: str) -> None:
        """A call ended without rate-limit figures: another caller may probe the window."""
        with unavailable_on_redis_error("budget_unknown"):
            self._client.delete(BUDGET_PROBE.key(self._keys, store_hash))

    def _budget_keys(self, store_hash: str) -> list[str]:
        return [BUDGET.key(self._keys, store_hash), BUDGET_PROBE.key(self._keys, store_hash)]
