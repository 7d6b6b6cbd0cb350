"""What the workers keep in Redis: runs that finished (handled markers), and dead letters.

A handler's (or a signal task receiver's) run is marked handled when it returns, so a
redelivery (a worker lost after the handler finished, before the broker heard of it) runs
nothing again. A run that gave up (a handler's, a signal task receiver's or a store's sync) is
kept as a dead letter, in its store's slot, for the grace period: `bcapp webhooks failed`
lists them and `bcapp webhooks replay` queues them again.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline

from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.keys import DEAD, HANDLED, RUNNING
from bcapp.store.lifecycle import PURGE_MARGIN_SECONDS

HANDLED_SECONDS = 3 * 86400  # BigCommerce retries for about 48 h; a day more


class RedisTaskRecords:
    """Handled markers and dead letters, one key each, per store."""

    def __init__(self, client: redis.Redis, keys: Keyspace, dead_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._dead_seconds = max(dead_seconds, 3600)

    def was_handled(self, store_hash: str, run_id: str) -> bool:
        """True when the run `run_id` (an event and a handler) finished before."""
        with unavailable_on_redis_error("was_handled"):
            return bool(self._redis.exists(HANDLED.key(self._keys, store_hash, run_id)))

    def mark_handled(self, store_hash: str, run_id: str) -> None:
        """Remember that the run finished (and that it is no longer a dead letter)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(HANDLED.key(self._keys, store_hash, run_id), "1", ex=HANDLED_SECONDS)
        pipe.delete(DEAD.key(self._keys, store_hash, run_id))
        with unavailable_on_redis_error("mark_handled"):
            pipe.execute()

    def keep_dead(
        self, store_hash: str, run_id: str, letter: dict[str, Any], held: bool = False
    ) -> None:
        """Keep a run that used every attempt, with what is needed to run it again; `held`:
        a run waiting for its store's reinstatement, kept as long as the store's records
        (reconcile reinstates only after the grace period)."""
        key = DEAD.key(self._keys, store_hash, run_id)
        seconds = self._dead_seconds + (PURGE_MARGIN_SECONDS if held else 0)
        with unavailable_on_redis_error("keep_dead"):
            self._redis.set(key, json.dumps(letter, sort_keys=True), ex=seconds)

    def dead_letters(self, store_hash: str | None = None) -> list[tuple[str, str, str | None]]:
        """Every dead letter of every store (or of `store_hash`) as stored: its store hash and
        run id (from its key) and its JSON text (None: a value that is no string). The reader
        parses each, so one that does not parse is skipped by name, not the end of the list
        (dead_letters.py)."""
        pattern = (self._keys.pattern(DEAD.name + ":*") if store_hash is None
                   else DEAD.key(self._keys, store_hash, "*"))
        letters: list[tuple[str, str, str | None]] = []
        with unavailable_on_redis_error("dead_letters"):
            for key in self._redis.scan_iter(match=pattern, count=500):
                try:
                    raw = self._redis.get(key)
                except redis.ResponseError:  # WRONGTYPE: not a letter bcapp wrote
                    raw = None
                else:
                    if raw is None:
                        continue  # expired since the scan
                run_id = str(key).rsplit(":", 1)[1]
                text = raw if isinstance(raw, str | None) else raw.decode(errors="replace")
                letters.append((Keyspace.store_hash_of(str(key)), run_id, text))
        return letters

    def take_dead(self, store_hash: str, run_id: str) -> bool:
        """Remove one dead letter (it was queued again); False when it was gone already."""
        with unavailable_on_redis_error("take_dead"):
            return bool(self._redis.delete(DEAD.key(self._keys, store_hash, run_id)))

    def hold_run(self, store_hash: str, run_id: str, holder: str, seconds: int) -> bool:
        """Take the run's lease for `holder` (a token of this attempt) for `seconds`; False
        while another copy of the run holds it."""
        key = RUNNING.key(self._keys, store_hash, run_id)
        with unavailable_on_redis_error("hold_run"):
            return bool(self._redis.set(key, holder, nx=True, ex=max(seconds, 1)))

    def release_run(self, store_hash: str, run_id: str, holder: str) -> None:
        """Give the run's lease back, if `holder` still holds it (it may have expired and been
        taken by another copy)."""
        key = RUNNING.key(self._keys, store_hash, run_id)

        def release(pipe: Pipeline) -> None:
            held = pipe.get(key)
            pipe.multi()
            if held is not None and (held if isinstance(held, str) else held.decode()) == holder:
                pipe.delete(key)

        with unavailable_on_redis_error("release_run"):
            transaction(self._redis, release, key)
