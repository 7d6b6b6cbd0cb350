"""Short-lived records: install locks, replay guards (nonces), sessions and their handoffs,
removed-user tombstones, store caches, leases and abuse-limit counters.

Each is written with a TTL, so nothing here lingers when no process is running. They are
security records: a Redis that evicts them would accept replays, which is why
docs/security.md requires `maxmemory-policy noeviction`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.client import Pipeline

from bcapp.clock import Clock
from bcapp.errors import InstallInProgress
from bcapp.models import SessionRef
from bcapp.store import ClaimFound, Handoff, LockHold, ScriptCarrier
from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.keys import CACHE, HANDOFF, INSTALL_LOCK, LEASE, REMOVED, SEEN, SESSION
from bcapp.store.records import CorruptRecord, report_corrupt

# A removed user's tombstone outlives any payload issued before the removal (24 h + slack).
REMOVAL_MEMORY_SECONDS = 86400 + 3600
LOCK_POLL_SECONDS = 0.05
# Redis started the lock's TTL before SET answered: count its expiry this much earlier.
LOCK_CLOCK_MARGIN_SECONDS = 0.5
FOREVER = 2**62
# A delivery's claim (bcapp/service/webhooks.py): its attempt's key is refused when seen before
# (an exact replay: 'replay'); otherwise the attempt is remembered for ARGV[2] s and every
# other key names ARGV[3] for ARGV[1] s, over any earlier claimant ('retry' when one existed:
# a retry takes the event's claim over; else 'new'). Keys of one store: one slot. KEYS are the
# attempt's and the event's; carried by the push of the delivery's first task (a broker on
# this Redis: bcapp/redis_transport.py), the queue comes first and the message is ARGV[4],
# pushed once the claim is taken: both happen or neither (Redis refuses a script at
# `maxmemory` at its first write, never a later one).
CLAIM = """
local first = ARGV[4] and 2 or 1
if not redis.call('SET', KEYS[first], ARGV[3], 'NX', 'EX', ARGV[2]) then return 'replay' end
local found = 'new'
for i = first + 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[3], 'EX', ARGV[1], 'GET') then found = 'retry' end
end
if ARGV[4] then redis.call('LPUSH', KEYS[1], ARGV[4]) end
return found
"""
# A claim given back: each key is deleted only while it names ARGV[1], the delivery that failed.
RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
"""


class RedisShortLivedRecords:
    """ReplayGuards, InstallLocks, SessionTokens, StoreCache, Leases and HitCounters (the
    protocols of bcapp/store/__init__.py), and the tombstones RedisStoreUsers writes, on a
    redis-py client: every record here has a TTL."""

    def __init__(self, client: redis.Redis, keys: Keyspace, clock: Clock) -> None:
        self._redis = client
        self._keys = keys
        self._clock = clock
        self._claim = client.register_script(CLAIM)
        self._release_owned = client.register_script(RELEASE)

    @contextmanager
    def install_lock(
        self, store_hash: str, hold_seconds: float, wait_seconds: float | None = None
    ) -> Iterator[LockHold]:
        """Serialise code exchange and write per store, so the newest token is the one kept.

        BigCommerce invalidates the previous token when it issues a new one; holding the lock
        across exchange and write makes the store's order of writes match the platform's
        order of grants. The lock expires by itself (after `hold_seconds`) if its holder dies,
        so it is a fence, not only a mutex: the install's final write checks the yielded
        `LockHold` inside its transaction (`InstallRace.lock`) and is refused once another
        install took the lock. A caller waits at most `wait_seconds` (default: `hold_seconds`)
        for it, then gets InstallInProgress (503), so requests cannot pile up behind a slow holder.
        """
        key, token = INSTALL_LOCK.key(self._keys, store_hash), secrets.token_hex(16)
        wait = hold_seconds if wait_seconds is None else wait_seconds
        deadline = self._clock.monotonic() + wait
        with unavailable_on_redis_error("install_lock"):
            while not self._redis.set(key, token, nx=True, px=max(int(hold_seconds * 1000), 1)):
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0:
                    raise InstallInProgress("install_lock_busy", retry_after=max(int(wait), 1))
                self._clock.sleep(min(LOCK_POLL_SECONDS, remaining))
        # Taken after SET answered: the lock expires in Redis no earlier than this.
        expires_at = self._clock.monotonic() + hold_seconds - LOCK_CLOCK_MARGIN_SECONDS
        try:
            yield LockHold(key, token, expires_at)
        finally:
            with unavailable_on_redis_error("install_unlock"):
                self._release(key, token)

    def _release(self, key: str, token: str) -> None:
        """Delete the lock only while it is still ours (it may have expired and been retaken)."""

        def release(pipe: Pipeline) -> None:
            held = pipe.get(key) == token
            pipe.multi()
            if held:
                pipe.delete(key)

        transaction(self._redis, release, key)

    def burn_once(self, store_hash: str, nonce: str, ttl_seconds: int) -> bool:
        """SET NX EX on a digest of `nonce`: True the first time only."""
        key = nonce_key(self._keys, store_hash, nonce)
        with unavailable_on_redis_error("burn_once"):
            return bool(self._redis.set(key, "1", nx=True, ex=max(ttl_seconds, 1)))

    def claim(
        self, store_hash: str, attempt: str, nonces: list[str], ttl_seconds: int, owner: str,
        attempt_seconds: int, carry: ScriptCarrier | None = None,
    ) -> ClaimFound:
        """In one step: refuse an `attempt` seen in the last `attempt_seconds` ("replay"), or
        remember it and name `owner` in every nonce's claim for `ttl_seconds`, over an earlier
        claimant ("retry" when there was one, else "new"). With `carry` (a task's push to a
        broker on this Redis), the script runs in the push, and pushes once it claimed."""
        keys = [nonce_key(self._keys, store_hash, nonce) for nonce in [attempt, *nonces]]
        arguments: list[int | str] = [max(ttl_seconds, 1), max(attempt_seconds, 1), owner]
        with unavailable_on_redis_error("claim"):
            found = self._claim(keys=keys, args=arguments) if carry is None else carry(
                CLAIM, keys, arguments
            )
        text = found if isinstance(found, str) else found.decode()
        return "replay" if text == "replay" else "retry" if text == "retry" else "new"

    def claimants(self, store_hash: str, nonces: list[str]) -> list[str | None]:
        """The owner named by each nonce's claim (None when unclaimed or expired)."""
        keys = [nonce_key(self._keys, store_hash, nonce) for nonce in nonces]
        with unavailable_on_redis_error("claimants"):
            owners = self._redis.mget(keys)
        return [None if owner is None else str(owner) for owner in owners]

    def release(self, store_hash: str, nonces: list[str], owner: str) -> None:
        """Unburn the nonces `owner` claimed (its work failed: a retry must be able to do it);
        a claim another delivery holds stays, whoever asks."""
        keys = [nonce_key(self._keys, store_hash, nonce) for nonce in nonces]
        with unavailable_on_redis_error("release"):
            self._release_owned(keys=keys, args=[owner])

    def take_handoff(self, store_hash: str, token: str) -> SessionRef | None:
        """The session a handoff stands for, deleted in the same command (usable once)."""
        key = handoff_key(self._keys, store_hash, token)
        with unavailable_on_redis_error("take_handoff"):
            value = self._redis.getdel(key)
        return None if value is None else session_of_handoff(store_hash, value)

    def seen(self, store_hash: str, nonce: str) -> bool:
        """True when `nonce` was burned and its record has not expired."""
        with unavailable_on_redis_error("seen"):
            return bool(self._redis.exists(nonce_key(self._keys, store_hash, nonce)))

    def lease(self, store_hash: str, purpose: str, seconds: int) -> bool:
        """Take the store's `purpose` lease for `seconds`; False while another holds it.

        Never released early: it also says "done recently" (reconcile probes a store once per
        lease), so concurrent or repeated runs do the work once.
        """
        key = LEASE.key(self._keys, store_hash, purpose)
        with unavailable_on_redis_error("lease"):
            return bool(self._redis.set(key, "1", nx=True, ex=max(seconds, 1)))

    def remember(self, store_hash: str, name: str, value: str, seconds: int) -> None:
        """Keep `value` under the store's cache entry `name` for `seconds`."""
        with unavailable_on_redis_error("remember"):
            self._redis.set(CACHE.key(self._keys, store_hash, name), value, ex=max(seconds, 1))

    def forget_cached(self, store_hash: str, name: str) -> None:
        """Drop the store's cache entry `name`."""
        with unavailable_on_redis_error("forget_cached"):
            self._redis.delete(CACHE.key(self._keys, store_hash, name))

    def recall(self, store_hash: str, name: str) -> str | None:
        """The store's cache entry `name`, or None when absent or expired."""
        with unavailable_on_redis_error("recall"):
            value = self._redis.get(CACHE.key(self._keys, store_hash, name))
        return None if value is None else str(value)

    def start_session(self, ref: SessionRef, idle_seconds: int, handoff: Handoff) -> None:
        """A session's idle timer (it lives `idle_seconds` unless touched) and its one-time
        handoff, written in one round trip."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(session_key(self._keys, ref.store_hash, ref.session_id), "1", ex=idle_seconds)
        key = handoff_key(self._keys, ref.store_hash, handoff.token)
        pipe.set(key, handoff_value(ref), ex=max(handoff.seconds, 1))
        with unavailable_on_redis_error("start_session"):
            pipe.execute()

    def end_session(self, ref: SessionRef) -> None:
        """Delete a session's idle timer: the session is over (a logout)."""
        with unavailable_on_redis_error("end_session"):
            self._redis.delete(session_key(self._keys, ref.store_hash, ref.session_id))

    def tombstone_key(self, store_hash: str, user_id: int) -> str:
        """Where the removal time of a user is remembered."""
        return REMOVED.key(self._keys, store_hash, str(user_id))

    def write_tombstone(self, pipe: Pipeline, store_hash: str, user_id: int, at: int) -> None:
        """Queue the tombstone of a removed user on `pipe` (part of the removal's transaction)."""
        pipe.set(self.tombstone_key(store_hash, user_id), str(at), ex=REMOVAL_MEMORY_SECONDS)

    def user_removed_at(self, store_hash: str, user_id: int) -> int | None:
        """When (payload time) the user's access was last removed, if recently."""
        with unavailable_on_redis_error("user_removed_at"):
            raw = self._redis.get(self.tombstone_key(store_hash, user_id))
        return self.removal_time(store_hash, raw)

    @staticmethod
    def removal_time(store_hash: str, raw: str | bytes | None) -> int | None:
        """A tombstone's time; one that does not parse fails closed and refuses every payload."""
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            report_corrupt("tombstone", store_hash, CorruptRecord("not_an_integer"))
            return FOREVER

    def count_hit(self, subject: str, route: str, window_seconds: int) -> int:
        """Add one hit to the counter of `subject` on `route` for the current fixed window.

        The counter is created with the window as its TTL in the same MULTI as the increment,
        so it never outlives its window and every process shares it.
        """
        window = int(self._clock.now() // window_seconds)
        key = self._keys.hits(subject, route, window)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=window_seconds, nx=True)
        pipe.incr(key)
        with unavailable_on_redis_error("count_hit"):
            _, hits = pipe.execute()
        return int(hits)


def handoff_value(ref: SessionRef) -> str:
    """How a handoff keeps its session: a JSON array (the load script writes the same)."""
    return json.dumps([ref.store_hash, ref.user_id, ref.install_id, ref.access_id, ref.session_id])


def session_of_handoff(store_hash: str, value: str | bytes) -> SessionRef | None:
    """The session a stored handoff names; None (reported) when it does not parse."""
    try:
        stored, user_id, install_id, access_id, session_id = json.loads(value)
        if not all(isinstance(part, str) for part in (stored, install_id, access_id, session_id)):
            raise ValueError("not text")
        return SessionRef(stored, int(user_id), install_id, access_id, session_id)
    except (ValueError, TypeError):
        report_corrupt("handoff", store_hash, CorruptRecord("not_a_session_reference"))
        return None


def nonce_key(keys: Keyspace, store_hash: str, nonce: str) -> str:
    """The replay guard of a payload's nonce (a digest: nonces are not stored)."""
    return SEEN.key(keys, store_hash, hashlib.sha256(nonce.encode()).hexdigest())


def handoff_key(keys: Keyspace, store_hash: str, token: str) -> str:
    """Where a handoff token's session reference is kept (a digest: the token is not stored)."""
    return HANDOFF.key(keys, store_hash, hashlib.sha256(token.encode()).hexdigest())


def session_key(keys: Keyspace, store_hash: str, session_id: str) -> str:
    """A session's idle timer."""
    return SESSION.key(keys, store_hash, session_id)
