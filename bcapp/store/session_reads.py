"""Resuming a session in one Redis round trip: its idle timer, the installation and the user.

Every request of an app page checks its session against Redis (docs/security.md R3): the idle
timer is restarted (`EXPIRE`; gone means the session idled out) and the installation and the
user are read (`GET`, `HGET`); on the first page after an open, the handoff the cookie made
unnecessary is deleted too (`DEL`). The commands touch one store's keys, so they go in one
pipeline: one round trip, on one node of a Cluster too. The records are read with every
reader's rules (bcapp/store/records.py), each stored value parsed once per process
(bcapp/store/remembered.py).
"""

from __future__ import annotations

import redis

from bcapp.crypto import TokenCipher
from bcapp.models import Installation, StoreUser
from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.ephemeral import handoff_key, session_key
from bcapp.store.keys import INSTALLATION, USERS
from bcapp.store.remembered import read_installation, read_user


class RedisSessionReads:
    """SessionReads on a redis-py client."""

    def __init__(self, client: redis.Redis, cipher: TokenCipher, keys: Keyspace) -> None:
        self._redis = client
        self._cipher = cipher
        self._keys = keys

    def resume(
        self,
        store_hash: str,
        session_id: str,
        user_id: int,
        idle_seconds: int,
        spend_handoff: str | None = None,
    ) -> tuple[Installation | None, StoreUser | None] | None:
        """Restart the idle timer and read both records; None when the session idled out.

        `spend_handoff` (a handoff token of this store) is deleted in the same round trip.
        """
        pipe = self._redis.pipeline(transaction=False)
        pipe.expire(session_key(self._keys, store_hash, session_id), max(idle_seconds, 1))
        pipe.get(INSTALLATION.key(self._keys, store_hash))
        pipe.hget(USERS.key(self._keys, store_hash), str(user_id))
        if spend_handoff is not None:
            pipe.delete(handoff_key(self._keys, store_hash, spend_handoff))
        with unavailable_on_redis_error("resume_session"):
            alive, record, user, *_ = pipe.execute()
        if not alive:
            return None
        return read_installation(store_hash, record, self._cipher), read_user(store_hash, user)
