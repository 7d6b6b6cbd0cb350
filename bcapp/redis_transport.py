"""kombu's Redis transport (and its Sentinel form), with a message taken off the queue and
recorded as unacknowledged in one step: bcapp's Redis brokers use it (bcapp/broker.py).

kombu takes a message with BRPOP and records it (its `unacked` hash and index) with a second
command. In between the message is only in Redis's answer or in the worker's memory, and a
broker that went away there lost it: a SIGTERMed Redis serves the commands of its last turn
and exits without sending their answers, or the answer arrives and the record finds the broker
gone (tests/test_redis_broker_take.py, benchmarks/drills; kombu's maintainers point to
RabbitMQ). Here the worker waits with BLMOVE from the queue's tail to its tail (Redis 6.2: the
message stays where it was; the answer only says one is there), then one script takes the
tail and records it: at every instant the message is in the queue or recorded, and a recorded
message its worker never acknowledges comes back after the visibility timeout, as kombu does.
The cost: a message left in place wakes every worker process waiting on the queue (BRPOP wakes
one); all but one find the tail taken and wait again, a BLMOVE and a script each, so a
deployment of many worker processes on one Redis broker pays that per message
(docs/operations.md, "Choosing the broker").

What stays as kombu has it: a channel that consumes several queues or priorities, or whose
server refuses BLMOVE (before Redis 6.2), waits with BRPOP; a broker over a unix socket
(`redis+socket://`, the embedded development Redis) gets kombu's own transport, whose URL
form names it. A message recorded and never run waits out the visibility timeout.

A publish may carry a script (`Carried`, set by bcapp/broker.py `TaskQueue.publish`): the
channel runs it in place of its LPUSH, the queue first in its KEYS and the message last in its
ARGV, and the script pushes or not. The webhook intake's claim rides on its first task's push
so (bcapp/store/ephemeral.py `CLAIM`): one round trip, and claimed and queued together or not
at all, when the broker is the app's own Redis.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from queue import Empty
from time import monotonic, time
from typing import Any
from urllib.parse import urlsplit

import redis
from kombu.transport import redis as typed_redis
from kombu.utils import json as kombu_json

# kombu's classes and functions carry no types: subclassed and called as Any.
kombu_redis: Any = typed_redis
loads: Any = kombu_json.loads
dumps: Any = kombu_json.dumps

log = logging.getLogger(__name__)

WAIT = "BLMOVE"

# KEYS: the queue, kombu's unacked index and hash; ARGV: the time (kombu's score). Answers the
# message and 1 once recorded as kombu records it, `[message, exchange, routing_key]`. Out of
# memory, Redis refuses a script's first write only if it would grow memory, never a later
# one: the pop goes first. A message that is not kombu's JSON is taken unrecorded (0), as
# BRPOP takes it (unreadable to the worker either way).
TAKE = """
local message = redis.call('RPOP', KEYS[1])
if not message then return false end
local read, decoded = pcall(cjson.decode, message)
local properties = read and type(decoded) == 'table' and decoded['properties']
local tag = type(properties) == 'table' and properties['delivery_tag']
local delivery = type(properties) == 'table' and properties['delivery_info']
if type(tag) ~= 'string' or type(delivery) ~= 'table' then return {message, 0} end
redis.call('ZADD', KEYS[2], ARGV[1], tag)
redis.call('HSET', KEYS[3], tag, '[' .. message .. ', ' .. cjson.encode(delivery['exchange'])
  .. ', ' .. cjson.encode(delivery['routing_key']) .. ']')
return {message, 1}
"""


@dataclass
class Carried:
    """A script a publish carries (see above), and its answer once the push ran it."""

    script: str
    keys: list[str]
    args: list[int | str]
    answer: str | None = None


# The script the publish in progress on this thread (or task) carries.
CARRIED: ContextVar[Carried | None] = ContextVar("bcapp_carried_script", default=None)


class QoS(kombu_redis.QoS):  # type: ignore[misc]
    """kombu's unacknowledged-message keeping, for messages the take already recorded."""

    def append(self, message: Any, delivery_tag: str) -> None:
        recorded: set[str] = self.channel.recorded
        if delivery_tag in recorded:
            recorded.discard(delivery_tag)
            super(kombu_redis.QoS, self).append(message, delivery_tag)  # kombu's bookkeeping
        else:
            super().append(message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        self._reachable()
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self._reachable()
        super().reject(delivery_tag, requeue)

    def restore_unacked(self, client: Any = None) -> None:
        if self._closed():
            self._delivered.clear()  # recorded: they come back after the visibility timeout
            return
        super().restore_unacked(client)

    def _reachable(self) -> None:
        if self._closed():
            raise redis.ConnectionError("the channel's broker connection was closed")

    def _closed(self) -> bool:
        """Whether kombu would need the connection's details this channel no longer has: Celery
        closes a lost connection's channels after detaching its transport (celery's Consumer
        `on_connection_error_after_connected`: collect, then close), and a channel that was
        waiting for a message closes only the second time, its pool gone; a task that ends later
        acknowledges on it. kombu died there building a new pool (AttributeError 'hostname' or
        'client'), which stopped the worker: a lost connection's error is what Celery expects."""
        transport = self.channel.connection
        return self.channel._pool is None and (transport is None or transport.client is None)


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    """kombu's Redis channel, waiting with BLMOVE and taking with TAKE when it consumes a
    single queue and priority (bcapp's worker: bcapp/broker.py)."""

    QoS = QoS
    _waits_on: str | None = None  # the queue of the BLMOVE in flight (None: kombu's BRPOP)
    _blmove: bool = True  # False once the server refused BLMOVE: kombu's BRPOP from then on

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.recorded: set[str] = set()  # delivery tags the take recorded, for QoS.append
        self._carried_scripts: dict[str, Any] = {}  # a carried script's text: redis-py's Script
        super().__init__(*args, **kwargs)

    def _brpop_start(self, timeout: float | None = None) -> None:
        queues, steps = self.active_queues, self.priority_steps
        if not self._blmove or len(queues) != 1 or len(steps) != 1:
            self._waits_on = None
            super()._brpop_start(timeout)
            return
        self._waits_on = queues[0]
        key = self.global_keyprefix + self._q_for_pri(queues[0], steps[0])
        connection = self.client.connection
        self._in_poll, self._brpop_sent_at = connection, monotonic()
        wait = self.brpop_timeout if timeout is None else timeout
        connection.send_command(WAIT, key, key, "RIGHT", "RIGHT", wait or 0)

    def _brpop_read(self, **options: Any) -> bool:
        queue = self._waits_on
        if queue is None:
            return bool(super()._brpop_read(**options))
        try:
            try:
                waiting = self.client.parse_response(self.client.connection, WAIT, **options)
            except self.connection_errors:
                self.client.connection.disconnect()  # the next turn reconnects, as kombu's
                raise
            except self.ResponseError as refused:  # before Redis 6.2, or no right to BLMOVE
                log.warning("the broker refused BLMOVE (%s): waiting with BRPOP", refused)
                self._blmove = False
                raise Empty() from refused
            # Nothing was taken yet: a channel closing leaves the message where it is.
            taken = self._take(queue) if waiting is not None and not self._closing else None
            if taken is None:
                raise Empty()  # or another worker took it first
            raw, recorded = taken
            message = loads(raw)
            if recorded:
                self.recorded.add(message["properties"]["delivery_tag"])
            self.connection._deliver(message, queue)
            return True
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _take(self, queue: str) -> tuple[bytes, int] | None:
        """The queue's tail, taken by TAKE, and whether it recorded it (None: the queue was
        empty)."""
        # kombu's client prefixes the first key of an EVALSHA only (as kombu's own scripts do).
        prefixed = [self.global_keyprefix + key for key in (self.unacked_index_key,
                                                              self.unacked_key)]
        keys = [self._q_for_pri(queue, self.priority_steps[0]), *prefixed]
        with self.conn_or_acquire() as client:
            taken = self._take_script(keys=keys, args=[time()], client=client)
        return None if taken is None else (bytes(taken[0]), int(taken[1]))

    @cached_property
    def _take_script(self) -> Any:
        return self._create_client().register_script(TAKE)

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:
        carried = CARRIED.get()
        if carried is None or carried.answer is not None:
            super()._put(queue, message, **kwargs)  # kombu's LPUSH
            return
        priority = self._get_message_priority(message, reverse=False)
        # The queue first: kombu's client prefixes the first key of an EVALSHA only.
        keys = [self._q_for_pri(queue, priority), *carried.keys]
        with self.conn_or_acquire() as client:
            script = self._carried_scripts.get(carried.script)
            if script is None:
                script = self._carried_scripts[carried.script] = client.register_script(
                    carried.script
                )
            answer = script(keys=keys, args=[*carried.args, dumps(message)], client=client)
        carried.answer = answer.decode() if isinstance(answer, bytes) else str(answer)

    def _poll_error(self, type: str, **options: Any) -> Any:
        if type == "BRPOP" and self._waits_on is not None:
            return self.client.parse_response(self.client.connection, WAIT)
        return super()._poll_error(type, **options)


class SentinelChannel(Channel, kombu_redis.SentinelChannel):  # type: ignore[misc]
    """kombu's Sentinel channel, taking as Channel does."""


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    """`redis://` and `rediss://` brokers."""

    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):  # type: ignore[misc]
    """`sentinel://` brokers."""

    Channel = SentinelChannel


TRANSPORTS = {
    "redis://": f"{__name__}:Transport",
    "rediss://": f"{__name__}:Transport",
    "sentinel://": f"{__name__}:SentinelTransport",
}


def celery_settings(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Celery's settings and transport options that give a broker at `url` (as Celery
    writes it: bcapp/broker_urls.py) these transports; none for another broker."""
    transport = next((name for scheme, name in TRANSPORTS.items() if url.startswith(scheme)), "")
    if not transport:
        return {}, {}
    settings: dict[str, Any] = {"broker_transport": transport}
    if url.startswith("sentinel://"):
        settings["broker_failover_strategy"] = same_sentinels
    # One key per queue, so a worker waits with BLMOVE (bcapp sets no priorities).
    return settings, {"priority_steps": [0]}


REPLICATED_KEY = "replicated"  # written before a WAIT (`replicas_holding`)
REPLICA_WAIT_MS = 1000  # as an install waits (bcapp/store/connection.py `wait_for_replicas`)


def replicas_holding(client: Any, replicas: int) -> int:
    """How many replicas hold the task just pushed on kombu's `client` (Redis WAIT, for at
    most REPLICA_WAIT_MS for `replicas` of them).

    WAIT counts the writes of the connection it is sent on, and kombu's channel may push on
    one pooled connection and answer on another (tests/test_sentinel.py): so a write of its
    own goes first on WAIT's connection. Replication is one ordered stream, and that write
    follows the push, so a replica that holds it holds the task."""
    with client.pipeline(transaction=False) as pipe:
        pipe.set(REPLICATED_KEY, "1")  # under the broker's key prefix (kombu's client)
        pipe.wait(replicas, REPLICA_WAIT_MS)
        return int(pipe.execute()[-1])


def carries_scripts(transport: object) -> bool:
    """Whether a publish on kombu's `transport` runs a `Carried` script (these transports)."""
    return isinstance(transport, Transport | SentinelTransport)


def same_sentinels(alternates: list[str]) -> Iterator[str]:
    """kombu's failover for a Sentinel URL list: the same sentinels again.

    kombu's Sentinel channel asks every sentinel of the list itself (`Connection.alt`), so
    moving on to the "next" URL gains nothing, and `Connection.switch` to a URL would read its
    scheme again and leave SentinelTransport for kombu's own. A host without a scheme keeps
    the connection as it was made."""
    return itertools.repeat(urlsplit(alternates[0]).hostname or "")
