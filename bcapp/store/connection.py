"""Reaching Redis: a client by URL with explicit timeouts, the key layout, and error mapping.

Keys are namespaced and hash-tagged per store, ``<prefix>:{<store_hash>}:<kind>``, so one
store's keys share a Redis Cluster slot and change together in one WATCH/MULTI/EXEC
transaction (docs/architecture.md, "Redis layout").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

import redis
from redis.client import Pipeline
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

from bcapp.errors import ConfigurationError, StoreUnavailable
from bcapp.metrics import REDIS_ERRORS
from bcapp.redis_tls import TLS_SCHEMES, RedisTls
from bcapp.validation import STORE_HASH

log = logging.getLogger(__name__)
T = TypeVar("T")
_SUBJECT = re.compile(r"[a-z0-9:-]{1,80}")

CONNECT_TIMEOUT_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 2.0


def connect(url: str, max_connections: int = 32, tls: RedisTls | None = None) -> redis.Redis:
    """A Redis client for `url` with explicit timeouts and a bounded pool (docs/security.md R6).

    ``rediss://`` verifies the server certificate (redis-py's default, never turned off here),
    against `tls.ca_file` when given, presenting `tls`'s client certificate when given.
    ``redis+sentinel://[user:password@]host:port[,host:port…]/service[/db]`` (and
    ``rediss+sentinel://``) asks the sentinels for the service's master and follows failovers.
    ``redis+cluster://[user:password@]host:port[,host:port…]`` (and ``rediss+cluster://``) is
    a Redis Cluster: every key of a store shares one hash slot, so every transaction and script
    stays on one node. Their ``rediss+`` forms use TLS to every server, sentinels included.
    """
    options: dict[str, Any] = tls.connection_options() if tls is not None else {}
    if url.startswith(TLS_SCHEMES):
        options["ssl_check_hostname"] = True  # redis-py before 6 did not check it by default
    if url.startswith(("redis+sentinel://", "rediss+sentinel://")):
        return _sentinel_master(url, max_connections, options)
    if url.startswith(("redis+cluster://", "rediss+cluster://")):
        return _cluster(url, max_connections, options)
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
        max_connections=max_connections,
        decode_responses=True,
        **options,
    )


def _hosts(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for address in netloc.rpartition("@")[2].split(","):
        host, _, port = address.rpartition(":")
        hosts.append((host.strip("[]"), int(port or default_port)))
    return hosts


def _cluster(url: str, max_connections: int, tls_options: dict[str, Any]) -> redis.Redis:
    """A Redis Cluster client (typed as redis.Redis: bcapp uses only commands both offer)."""
    parts = urlsplit(url)
    nodes = [ClusterNode(host, port) for host, port in _hosts(parts.netloc, 6379)]  # type: ignore[no-untyped-call]
    client = RedisCluster(
        startup_nodes=nodes,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        decode_responses=True,
        max_connections=max_connections,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme.startswith("rediss"),
        **tls_options,
    )
    return cast(redis.Redis, client)


def _sentinel_master(url: str, max_connections: int, tls_options: dict[str, Any]) -> redis.Redis:
    """A client of the Sentinel service's current master (it reconnects after a failover)."""
    parts = urlsplit(url)
    hosts = _hosts(parts.netloc, 26379)
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2 or not hosts:
        raise ConfigurationError(
            "REDIS_URL for Sentinel: redis+sentinel://[user:password@]host:port[,host:port]/"
            "service[/db]"
        )
    secure: dict[str, Any] = {}
    if parts.scheme == "rediss+sentinel":
        secure = {"ssl": True, **tls_options}
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "decode_responses": True,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "db": int(path[1]) if len(path) == 2 else 0,
        **secure,
    }
    sentinel_options = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        **secure,
    }
    sentinel = Sentinel(hosts, sentinel_kwargs=sentinel_options, **options)  # type: ignore[no-untyped-call, unused-ignore]
    master: redis.Redis = sentinel.master_for(path[0], max_connections=max_connections)  # type: ignore[no-untyped-call, unused-ignore]
    return master


@contextmanager
def unavailable_on_redis_error(operation: str) -> Iterator[None]:
    """Turn any Redis failure into StoreUnavailable (503) with a log line and no secrets."""
    try:
        yield
    except redis.RedisError as exc:
        log.error("redis %s failed: %s", operation, type(exc).__name__)
        REDIS_ERRORS.labels(operation).inc()
        raise StoreUnavailable("redis_" + operation) from exc


def transaction(client: redis.Redis, body: Callable[[Pipeline], T], *watched: str) -> T:
    """Run `body` under WATCH of `watched` keys until EXEC succeeds; return what `body` returns.

    `body` reads with the pipeline in immediate mode, calls `pipe.multi()`, queues its writes and
    returns its result; a concurrent change of a watched key re-runs it on fresh data.
    """
    run = cast(Callable[..., Any], client.transaction)
    return cast(T, run(body, *watched, value_from_callable=True))


class Keyspace:
    """Names the keys of one deployment (`prefix`) and one store."""

    def __init__(self, prefix: str = "bcapp") -> None:
        self.prefix = prefix

    def key(self, store_hash: str, kind: str) -> str:
        """The namespaced, hash-tagged key of one store's `kind` record."""
        if not STORE_HASH.fullmatch(store_hash):  # callers validate; this keeps keys unforgeable
            raise ValueError("not a store hash")
        return f"{self.prefix}:{{{store_hash}}}:{kind}"

    @property
    def replicated(self) -> str:
        """The deployment's key written before a WAIT (`wait_for_replicas`)."""
        return f"{self.prefix}:replicated"

    def pattern(self, kind: str) -> str:
        """A SCAN pattern matching `kind` records of every store."""
        return f"{self.prefix}:{{*}}:{kind}"

    def hits(self, subject: str, route: str, window: int) -> str:
        """The abuse-limit counter of `subject` (a store hash, or `addr:<digest>`) on `route`.

        Hash-tagged by subject, like every key of a store, so a Cluster keeps it in one slot.
        """
        if not _SUBJECT.fullmatch(subject) or not _SUBJECT.fullmatch(route):
            raise ValueError("not a rate-limit subject")
        return f"{self.prefix}:{{{subject}}}:hits:{route}:{window}"

    @staticmethod
    def store_hash_of(key: str) -> str:
        """The store hash inside a key made by `key`."""
        return key.split("{", 1)[1].split("}", 1)[0]


def server_policy(client: redis.Redis) -> dict[str, str]:
    """Persistence and eviction settings (`appendonly`, `save`, `maxmemory-policy`).

    redis.RedisError propagates: CONFIG may be denied by an ACL, which callers report.
    """
    found = client.config_get("appendonly") | client.config_get("save")
    found |= client.config_get("maxmemory-policy")
    return {str(key): str(value) for key, value in found.items()}


def wait_for_replicas(
    client: redis.Redis, keys: Keyspace, replicas: int, timeout_ms: int = 1000
) -> None:
    """Return once `replicas` replicas hold every write so far; StoreUnavailable otherwise.

    After an install, so that an acknowledged install survives a failover to a replica. WAIT
    counts the writes of the connection it is sent on, and a pooled client may send it on
    another connection than the install's (gunicorn's threads share the pool): one with no
    write counts nothing and answers at once. So a write of its own (`Keyspace.replicated`)
    goes first on WAIT's connection, in one pipeline: replication is one ordered
    stream, and a replica that holds the marker holds the install written before it. A Redis
    Cluster routes a keyless WAIT to any node: there it is sent alone, as before.
    """
    if replicas <= 0:
        return
    with unavailable_on_redis_error("wait_for_replicas"):
        if isinstance(client, RedisCluster):
            acknowledged = int(client.wait(replicas, timeout_ms))
        else:
            with client.pipeline(transaction=False) as pipe:
                pipe.set(keys.replicated, "1", ex=60)
                pipe.wait(replicas, timeout_ms)
                acknowledged = int(pipe.execute()[-1])
    if acknowledged < replicas:
        log.error("redis: %s of %s replicas acknowledged the install", acknowledged, replicas)
        REDIS_ERRORS.labels("wait_for_replicas").inc()
        raise StoreUnavailable("redis_not_replicated")
