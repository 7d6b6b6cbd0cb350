"""The load callback in one Redis round trip: count, spend, read and open in one Lua script.

A returning user opening the app is bcapp's hottest request. One script, run atomically on the
store's node, counts the request against the abuse limits, burns the payload's nonce, reads the
installation record and the user, and, when both show an installed store and a user with
access, starts the session's idle timer and stores its one-time handoff. Every key is the
store's (one Cluster slot), except the client address's counter: on a single server or
Sentinel the script counts it too, first, so an address over its limit spends nothing; on a
Cluster it lives on another node and is counted in a round trip of its own before the script.

The script decides only whether the common case applies; the service re-reads both records
with the same rules as every other reader and undoes the session (`undo`) when it disagrees,
for example when the grant misses a scope that has been required since (docs/architecture.md,
"The load path").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import redis
from redis.cluster import RedisCluster

from bcapp.store import HitCounters
from bcapp.store.connection import Keyspace, unavailable_on_redis_error
from bcapp.store.ephemeral import handoff_key, nonce_key, session_key
from bcapp.store.keys import INSTALLATION, USERS

# KEYS: store hits, nonce, installation, users, session, handoff[, address hits]
# ARGV: store limit, window, nonce ttl, user id, idle seconds, handoff seconds, store hash,
#       session id[, address limit]
SCRIPT = """
local function over(key, limit, window)
  redis.call('SET', key, 0, 'EX', window, 'NX')
  return redis.call('INCR', key) > limit
end
local function text(value)
  return type(value) == 'string' and value ~= ''
end
if KEYS[7] and over(KEYS[7], tonumber(ARGV[9]), ARGV[2]) then
  return {'address'}
end
local store_limit = tonumber(ARGV[1])
if store_limit > 0 and over(KEYS[1], store_limit, ARGV[2]) then
  return {'store'}
end
if not redis.call('SET', KEYS[2], '1', 'EX', ARGV[3], 'NX') then
  return {'replayed'}
end
local record = redis.call('GET', KEYS[3])
local user = redis.call('HGET', KEYS[4], ARGV[4])
if not (record and user) then
  return {'spent', record or '', user or ''}
end
local ok_record, installation = pcall(cjson.decode, record)
local ok_user, access = pcall(cjson.decode, user)
if not (ok_record and ok_user and type(installation) == 'table' and type(access) == 'table')
    or (installation.uninstall ~= nil and installation.uninstall ~= cjson.null)
    or not text(installation.install_id) or not text(access.access_id) then
  return {'spent', record, user}
end
redis.call('SET', KEYS[5], '1', 'EX', ARGV[5])
local reference = '[' .. cjson.encode(ARGV[7]) .. ',' .. ARGV[4] .. ',' ..
  cjson.encode(installation.install_id) .. ',' .. cjson.encode(access.access_id) .. ',' ..
  cjson.encode(ARGV[8]) .. ']'
redis.call('SET', KEYS[6], reference, 'EX', ARGV[6])
return {'opened', record, user}
"""


class LoadStatus(enum.Enum):
    """What the script did."""

    ADDRESS_LIMITED = "address"  # nothing counted for the store, nothing spent
    STORE_LIMITED = "store"  # the payload stays unspent
    REPLAYED = "replayed"
    SPENT = "spent"  # the nonce is burned; the rest is left to the service (uncommon case)
    OPENED = "opened"  # spent, and the session and its handoff exist


@dataclass(frozen=True)
class LoadAttempt:
    """One verified load: whose it is, and the limits and lifetimes that apply."""

    store_hash: str
    user_id: int
    nonce: str
    nonce_seconds: int
    address_subject: str | None  # `addr:<digest>`, or None when the address limit is off
    per_address: int
    per_store: int
    window_seconds: int
    window: int  # the current fixed window's number
    session_id: str
    idle_seconds: int
    handoff_token: str
    handoff_seconds: int


@dataclass(frozen=True)
class LoadReply:
    """The script's answer, with the raw records it read (when it got that far)."""

    status: LoadStatus
    record: str | None = None
    user: str | None = None


class RedisLoadPath:
    """Runs the load script; `undo` removes the session and handoff it started."""

    def __init__(
        self, client: redis.Redis, keys: Keyspace, counters: HitCounters
    ) -> None:
        self._redis = client
        self._keys = keys
        self._counters = counters  # a Cluster counts the address apart
        self._script = client.register_script(SCRIPT)
        self._cluster = isinstance(client, RedisCluster)

    def open(self, attempt: LoadAttempt) -> LoadReply:
        """Run the script for `attempt` (on a Cluster, count the address first)."""
        store_hash = attempt.store_hash
        keys = [
            self._keys.hits(store_hash, "load", attempt.window),
            nonce_key(self._keys, store_hash, attempt.nonce),
            INSTALLATION.key(self._keys, store_hash),
            USERS.key(self._keys, store_hash),
            session_key(self._keys, store_hash, attempt.session_id),
            handoff_key(self._keys, store_hash, attempt.handoff_token),
        ]
        arguments: list[str | int] = [
            attempt.per_store,
            max(attempt.window_seconds, 1),
            max(attempt.nonce_seconds, 1),
            attempt.user_id,
            max(attempt.idle_seconds, 1),
            max(attempt.handoff_seconds, 1),
            store_hash,
            attempt.session_id,
        ]
        subject = attempt.address_subject
        with unavailable_on_redis_error("load"):
            if subject is not None and self._cluster:
                hits = self._counters.count_hit(subject, "load", attempt.window_seconds)
                if hits > attempt.per_address:
                    return LoadReply(LoadStatus.ADDRESS_LIMITED)
            elif subject is not None:
                keys.append(self._keys.hits(subject, "load", attempt.window))
                arguments.append(attempt.per_address)
            reply = self._script(keys=keys, args=arguments)
        status = LoadStatus(reply[0])
        if len(reply) == 1:
            return LoadReply(status)
        return LoadReply(status, reply[1] or None, reply[2] or None)

    def undo(self, store_hash: str, session_id: str, handoff_token: str) -> None:
        """Delete a session the script started and its handoff (the load was refused after all)."""
        timer = session_key(self._keys, store_hash, session_id)
        with unavailable_on_redis_error("load_undo"):
            self._redis.delete(timer, handoff_key(self._keys, store_hash, handoff_token))
