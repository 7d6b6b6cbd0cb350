"""What bcapp keeps of Unified Billing in Redis.

Per store, the `billing` hash (bcapp/store/keys.py: it follows the installation's lifetime and
is purged with it): `subscription` (JSON, billing/model.py), `merchant_account` (the merchant's
account UUID from `GET v2/store`, which a checkout must name) and `pending_checkout` (a
checkout created and not yet confirmed). A subscription is replaced in one WATCH/MULTI step
that also checks the store is installed, so of two processes seeing one change only one
records it, and so announces it (service.py). Shared by every store, in the `{billing}` slot:
the sweep's watermark and lock, the cancelled subscriptions by the end of their paid period
(`ends`), the stores that ever subscribed (`subscribed`: a trial is offered once) and each
store's last status (`statuses`, for the metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.client import Pipeline

from bcapp.billing.model import Subscription
from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.keys import BILLING, INSTALLATION


@dataclass(frozen=True)
class StoreBilling:
    """A store's billing record."""

    subscription: Subscription | None = None
    merchant_account: str | None = None
    pending_checkout: str | None = None


class RedisBillingRecords:
    """Billing's records (see above)."""

    def __init__(self, client: redis.Redis, keys: Keyspace) -> None:
        self._redis = client
        self._keys = keys
        shared = f"{keys.prefix}:{{billing}}"
        self.watermark_key = f"{shared}:watermark"
        self.lock_key = f"{shared}:sweep-lock"
        self.ends_key = f"{shared}:ends"
        self.subscribed_key = f"{shared}:subscribed"
        self.statuses_key = f"{shared}:statuses"

    def get(self, store_hash: str) -> StoreBilling:
        """The store's billing record (one read)."""
        with unavailable_on_redis_error("billing_get"):
            raw = self._redis.hgetall(BILLING.key(self._keys, store_hash))
        text = {str(name): str(value) for name, value in raw.items()}
        return StoreBilling(
            Subscription.of_json(text.get("subscription")),
            text.get("merchant_account") or None,
            text.get("pending_checkout") or None,
        )

    def set_fields(self, store_hash: str, **fields: str | None) -> bool:
        """Set (a value) or delete (None) fields of an installed store's record; False, writing
        nothing, when the store is not installed (no record may outlive its installation)."""
        key = BILLING.key(self._keys, store_hash)
        installation = INSTALLATION.key(self._keys, store_hash)

        def write(pipe: Pipeline) -> bool:
            if not pipe.exists(installation):
                return False
            pipe.multi()
            for name, value in fields.items():
                if value is None:
                    pipe.hdel(key, name)
                else:
                    pipe.hset(key, name, value)
            return True

        with unavailable_on_redis_error("billing_set"):
            return transaction(self._redis, write, key, installation)

    def replace(self, store_hash: str, new: Subscription) -> tuple[bool, Subscription | None]:
        """Keep `new` unless the kept one is newer: (whether it was written, the subscription
        it replaced). Nothing is written when it is the same, older, or the store is not
        installed."""
        key = BILLING.key(self._keys, store_hash)
        installation = INSTALLATION.key(self._keys, store_hash)

        def write(pipe: Pipeline) -> tuple[bool, Subscription | None]:
            old = Subscription.of_json(pipe.hget(key, "subscription"))
            stale = old is not None and old.id == new.id and old.updated_at > new.updated_at
            if old == new or stale or not pipe.exists(installation):
                return False, old
            pipe.multi()
            pipe.hset(key, "subscription", new.as_json())
            return True, old

        with unavailable_on_redis_error("billing_replace"):
            written, old = transaction(self._redis, write, key, installation)
            if written:
                self._index(store_hash, new)
        return written, old

    def _index(self, store_hash: str, kept: Subscription) -> None:
        """The shared indexes: a cancelled subscription waits in `ends` for its period's end;
        any subscription marks the store as having had one."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(self.subscribed_key, store_hash)
        pipe.hset(self.statuses_key, store_hash, kept.status)
        if kept.status == "CANCELLED":
            pipe.zadd(self.ends_key, {store_hash: kept.current_period_end})
        else:
            pipe.zrem(self.ends_key, store_hash)
        pipe.execute()

    def count_by_status(self) -> dict[str, int]:
        """How many stores' kept subscriptions are in each status (for the metrics)."""
        with unavailable_on_redis_error("billing_get"):
            values = self._redis.hvals(self.statuses_key)
        counts: dict[str, int] = {}
        for value in values:
            counts[str(value)] = counts.get(str(value), 0) + 1
        return counts

    def forget(self, store_hash: str) -> None:
        """A purged store leaves the metrics' statuses and the ends to announce (it stays
        among the stores that had a subscription: no second trial after a reinstall)."""
        with unavailable_on_redis_error("billing_forget"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.hdel(self.statuses_key, store_hash)
            pipe.zrem(self.ends_key, store_hash)
            pipe.execute()

    def ever_subscribed(self, store_hash: str) -> bool:
        """Whether the store ever had a subscription of this app (no second trial)."""
        with unavailable_on_redis_error("billing_get"):
            return bool(self._redis.sismember(self.subscribed_key, store_hash))

    def due_ends(self, now: float, limit: int = 500) -> list[str]:
        """Stores whose cancelled subscription's paid period is over."""
        with unavailable_on_redis_error("billing_ends"):
            found = self._redis.zrangebyscore(self.ends_key, "-inf", int(now), 0, limit)
        return [str(store_hash) for store_hash in found]

    def take_end(self, store_hash: str) -> bool:
        """Claim the announcement of a store's end: True for exactly one caller."""
        with unavailable_on_redis_error("billing_ends"):
            return bool(self._redis.zrem(self.ends_key, store_hash))

    def watermark(self) -> str | None:
        """The `updatedAfter` the next sweep reads from (an ISO time), or None: from the start."""
        with unavailable_on_redis_error("billing_watermark"):
            value = self._redis.get(self.watermark_key)
        return str(value) if value else None

    def set_watermark(self, value: str) -> None:
        """Move the watermark (only the lock's holder does)."""
        with unavailable_on_redis_error("billing_watermark"):
            self._redis.set(self.watermark_key, value)

    def lock(self, token: str, seconds: int) -> bool:
        """Take the sweep's lock for `seconds`; False while another sweep holds it."""
        with unavailable_on_redis_error("billing_lock"):
            return bool(self._redis.set(self.lock_key, token, nx=True, ex=seconds))

    def unlock(self, token: str) -> None:
        """Release the lock if it is still `token`'s."""
        with unavailable_on_redis_error("billing_lock"):
            if self._redis.get(self.lock_key) == token:
                self._redis.delete(self.lock_key)
