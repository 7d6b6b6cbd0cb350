"""What the workers keep in Redis: handlers that finished an event, and dead letters.

A handler's event is marked handled when it returns, so a redelivery (a worker lost after the
handler finished, before the broker heard of it) runs nothing again. An event whose handler
used every attempt is kept as a dead letter, in its store's slot, for the grace period:
`bcapp webhooks failed` lists them and `bcapp webhooks replay` queues them again.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.keys import DEAD, HANDLED

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

    def keep_dead(self, store_hash: str, run_id: str, letter: dict[str, Any]) -> None:
        """Keep a run that used every attempt, with what is needed to run it again."""
        key = DEAD.key(self._keys, store_hash, run_id)
        with unavailable_on_redis_error("keep_dead"):
            self._redis.set(key, json.dumps(letter, sort_keys=True), ex=self._dead_seconds)

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead letter of every store, oldest failure first."""
        pattern = self._keys.pattern(DEAD.name + ":*")
        letters = []
        with unavailable_on_redis_error("dead_letters"):
            for key in self._redis.scan_iter(match=pattern, count=500):
                raw = self._redis.get(key)
                if raw is not None:
                    letters.append(json.loads(raw))
        return sorted(letters, key=lambda letter: (letter.get("failed_at", 0), letter["run_id"]))

    def take_dead(self, store_hash: str, run_id: str) -> bool:
        """Remove one dead letter (it was queued again); False when it was gone already."""
        with unavailable_on_redis_error("take_dead"):
            return bool(self._redis.delete(DEAD.key(self._keys, store_hash, run_id)))
