"""The Redis stores of one deployment, wired together."""

from __future__ import annotations

import redis

from bcapp.clock import Clock
from bcapp.crypto import TokenCipher
from bcapp.store.connection import Keyspace
from bcapp.store.ephemeral import RedisShortLivedRecords
from bcapp.store.installations import RedisInstallationStore
from bcapp.store.lifecycle import RedisLifecycle


def redis_stores(
    client: redis.Redis, cipher: TokenCipher, prefix: str, clock: Clock
) -> tuple[RedisInstallationStore, RedisShortLivedRecords, RedisLifecycle]:
    """The installation store, short-lived records and lifecycle of one deployment."""
    keys = Keyspace(prefix)
    short_lived = RedisShortLivedRecords(client, keys, clock)
    store = RedisInstallationStore(client, cipher, keys, clock, short_lived)
    return store, short_lived, RedisLifecycle(client, cipher, keys)
