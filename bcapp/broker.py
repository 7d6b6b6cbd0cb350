"""Celery for bcapp: the application object, its broker, and publishing tasks by name.

Web processes only publish (`TaskQueue`): they never import the task bodies, which live in
the worker (bcapp/worker.py). The broker is `BCAPP_BROKER_URL`, else the app's own Redis:
a single server or unix socket as it is, Sentinel in Celery's `sentinel://` form, the embedded
development Redis over its socket; a Redis Cluster must name a broker (Celery's Redis transport
cannot use one). Broker keys start with `<BCAPP_REDIS_PREFIX>:broker:`, so deployments (and
tests) sharing a Redis do not share queues.

Delivery is at least once: a task is acknowledged when it ends (`acks_late`), and a task a
lost worker held runs again once `BCAPP_TASK_VISIBILITY_TIMEOUT` has passed (on RabbitMQ, as
soon as its connection closes). On RabbitMQ (`amqp://`) each publish waits for the broker's
confirm: AMQP's publish is asynchronous, and a delivery answered 2xx on a publish the broker
never received would be lost (tests/test_rabbitmq.py). How tasks are
retried is Celery's own options, set per deployment here (bcapp/task_retries.py `retry_policy`,
as task annotations) for the tasks bcapp/worker.py defines once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, cast

from amqp.exceptions import ChannelError
from celery import Celery
from kombu.exceptions import KombuError, OperationalError
from kombu.messaging import Producer
from kombu.utils.uuid import uuid

from bcapp import redis_transport
from bcapp.broker_urls import broker_tls, broker_url
from bcapp.errors import StoreUnavailable
from bcapp.redis_transport import Carried
from bcapp.settings import Settings
from bcapp.task_retries import retry_policy

log = logging.getLogger(__name__)

QUEUE = "bcapp"
HANDLE_EVENT = "bcapp.handle_event"
SYNC_STORE = "bcapp.sync_store"
RUN_SIGNAL = "bcapp.run_signal"
RECONCILE = "bcapp.reconcile"
BILLING_SWEEP = "bcapp.billing_sweep"
PUBLISH_TIMEOUT_SECONDS = 2.0
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
RETRIED = (HANDLE_EVENT, RUN_SIGNAL, SYNC_STORE)  # the tasks retried by `retry_policy`
MIN_REPLICAS = "bcapp_min_replicas"  # the Celery app's attribute: replicas a publish waits for
SHARES_REDIS = "bcapp_shares_redis"  # the Celery app's attribute: the broker is the app's Redis


class BrokerUnavailable(StoreUnavailable):
    """The broker refused or did not answer: the caller answers 503 (BigCommerce retries)."""


def celery_app(settings: Settings, redis_url: str) -> Celery:
    """The Celery application of one deployment (the worker binds bcapp's tasks to it)."""
    url, extra = broker_url(settings, redis_url)
    app = Celery("bcapp", broker=url, set_as_current=False)
    # A Redis broker's worker takes a message and records it in one step (no event is lost to
    # a broker stopped in between: bcapp/redis_transport.py).
    redis_settings, redis_options = redis_transport.celery_settings(url)
    visibility = settings.task_visibility_timeout
    transport: dict[str, Any] = {
        "visibility_timeout": visibility,
        "global_keyprefix": f"{settings.redis_prefix}:broker:",
        "socket_connect_timeout": PUBLISH_TIMEOUT_SECONDS,
        "socket_timeout": 10.0,
        # Look for abandoned tasks often enough to honour a short visibility timeout.
        "unacked_restore_interval": max(1, min(10, visibility // 4)),
        "unacked_restore_throttle": 1,
        # The lock a worker holds while it gives abandoned tasks back: a worker killed holding it
        # kept every other from doing so for kombu's 300 s, past the visibility timeout
        # (benchmarks/drills). Each task's own give-back is a Redis transaction, so two workers
        # that overlap still queue it once.
        "unacked_mutex_expire": min(300, visibility),
        **redis_options,
        **extra,
    }
    if url.startswith(AMQP_SCHEMES):
        transport["confirm_publish"] = True  # a publish returns once RabbitMQ has it
    use_ssl = broker_tls(settings, url)
    # A Redis replicates asynchronously: a task on the app's Redis is acknowledged only once
    # BCAPP_REDIS_MIN_REPLICAS replicas hold it, as an install is (a failover to a replica lost
    # a task pushed at the instant the master died: benchmarks/drills, docs/operations.md).
    shares_redis = not settings.broker_url and not url.startswith(AMQP_SCHEMES)
    setattr(app, MIN_REPLICAS, settings.redis_min_replicas if shares_redis else 0)
    setattr(app, SHARES_REDIS, shares_redis)
    app.conf.update(
        **redis_settings,
        broker_transport_options=transport,
        broker_connection_timeout=PUBLISH_TIMEOUT_SECONDS,
        broker_connection_retry_on_startup=True,
        broker_use_ssl=use_ssl,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Read by each task as it is bound to this app (Celery's task annotations).
        task_annotations={name: retry_policy(settings) for name in RETRIED},
        worker_prefetch_multiplier=1,
        # Celery 5.7 lowers the prefetch count when a connection is lost and raises it back from
        # the thread that acknowledges each task: with the threads pool that is a synchronous
        # `basic.qos` from several threads on the AMQP connection the event loop reads, and two
        # threads waited for one reply: the worker consumed nothing more and held its tasks
        # (benchmarks/drills, tests/test_rabbitmq.py). A worker that fetches up to its prefetch
        # count right after a reconnect is the lesser cost.
        worker_enable_prefetch_count_reduction=False,
        # On a lost connection a task still running goes on (Celery's default today, said out
        # loud: Celery 6 will cancel it): its message comes back to another worker, whose copy
        # waits for this one's run lease (bcapp/service/tasks.py `run_once`), never beside it.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # A publish fails fast: the intake answers 503 and BigCommerce retries the delivery.
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0.1,
            "interval_step": 0.2,
            "interval_max": 0.3,
        },
    )
    return app


class _ThreadLife:
    """Held by one thread's locals only: it goes when the thread ends."""


def _drop(connection: Any, pid: int) -> None:
    """Close `connection` without a word to the broker, unless this is a fork of the process
    that opened it (a parent's connection is the parent's to close)."""
    if os.getpid() == pid:
        connection.collect()


class TaskQueue:
    """Publishes bcapp's tasks by name (the web side never imports their bodies).

    Each thread keeps one producer on a broker connection of its own for as long as it lives
    (as a gunicorn or worker thread does), with bcapp's queue declared once on it, and
    publishes through Celery's message layer (`create_task_message`, `send_task_message`): the
    same messages and signals as `send_task`, without its per-call routing, pool round trip
    and declaration (benchmarks/webhook_intake.py). The connection is not taken from Celery's
    pool: held for a thread's life, pooled ones ran out past `broker_pool_limit` (10) threads,
    and the next thread waited forever for one.

    Nor with kombu's publish retry: a failed publish is a 503 that BigCommerce retries, and the
    failing producer's connection is dropped (`_let_go`), so the next publish connects afresh
    (the retry's wrapper cost about a tenth of the served intake's throughput).
    """

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._held = threading.local()
        self._lock = threading.Lock()
        self._replicas: int = getattr(app, MIN_REPLICAS, 0)
        # Every live thread's kombu Connection and the process that opened it, for `close`;
        # weakly held: a thread that ends (a dev server's per-request thread) closes its own
        # as its locals go (`_producer`).
        self._connections: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        # What the transport raises, as kombu names it (no connection is made to learn it).
        with app.connection_for_write() as transport:
            self._failures: tuple[type[BaseException], ...] = (
                KombuError,
                OperationalError,
                OSError,
                ChannelError,
                *transport.connection_errors,
                *transport.channel_errors,
            )
            self._carries = getattr(app, SHARES_REDIS, False) and redis_transport.carries_scripts(
                transport.transport
            )

    def carrier(
        self, task: str, kwargs: dict[str, Any], task_id: str
    ) -> Callable[[str, list[str], list[int | str]], str] | None:
        """A function queueing `task` in a push that runs a script (text, KEYS, ARGV; it pushes
        or not, "replay" saying not: bcapp/redis_transport.py `Carried`) and gives its answer.
        None unless the broker is the app's Redis (not another server, RabbitMQ, a socket)."""
        if not self._carries:
            return None

        def carry(script: str, keys: list[str], args: list[int | str]) -> str:
            carried = Carried(script, keys, args)
            self.publish(task, kwargs, task_id, carried)
            if carried.answer is None:  # kombu's own push ran: the task is queued unclaimed
                log.error("broker publish of %s carried no script (not bcapp's transport)", task)
                raise BrokerUnavailable("broker_carried_nothing")
            return carried.answer

        return carry

    def publish(
        self, task: str, kwargs: dict[str, Any], task_id: str | None = None,
        carrying: Carried | None = None,
    ) -> None:
        """Queue `task` with JSON `kwargs` (and `queued_at`, for the wait metric), in a push
        that runs `carrying` (`carrier`); BrokerUnavailable (503) when the broker fails."""
        sent = {**kwargs, "queued_at": time.time()}
        amqp = self.app.amqp
        # No repr of the arguments in the message: Celery's events and monitors (Flower)
        # would otherwise show the event's data.
        message = amqp.create_task_message(
            task_id or uuid(), task, (), sent, argsrepr="", kwargsrepr=""
        )
        try:
            producer = self._producer()
            carried = redis_transport.CARRIED.set(carrying)
            try:
                # The confirm's wait is bounded as a connection is (RabbitMQ only).
                amqp.send_task_message(
                    producer, task, message, queue=QUEUE, declare=[], retry=False,
                    confirm_timeout=PUBLISH_TIMEOUT_SECONDS,
                )
            finally:
                redis_transport.CARRIED.reset(carried)
            if self._replicas and (carrying is None or carrying.answer != "replay"):
                held = redis_transport.replicas_holding(producer.channel.client, self._replicas)
                if held < self._replicas:
                    log.error("broker publish of %s: %s of %s replicas hold it",
                              task, held, self._replicas)
                    raise BrokerUnavailable("broker_not_replicated")
        except self._failures as exc:
            self._let_go(broken=True)  # the next publish starts from a fresh connection
            log.error("broker publish of %s failed: %s", task, type(exc).__name__)
            raise BrokerUnavailable("broker_unavailable") from exc

    def _producer(self) -> Producer:
        """This thread's producer (a new one after a fork: the parent's is not this process's)."""
        held = getattr(self._held, "producer", None)
        if held is not None and self._held.pid == os.getpid():
            return cast(Producer, held)
        # One connection attempt: kombu's default retries for the length of the connect
        # timeout (2 s), and while the broker is down every web thread would wait that long on
        # each delivery, leaving none for loads (benchmarks/drills, docs/operations.md).
        connection = self.app.connection_for_write(transport_options={"max_retries": 0})
        try:
            producer = self.app.amqp.Producer(connection)  # kombu's, as Celery's pool makes it
            producer.maybe_declare(self.app.amqp.queues[QUEUE])
        except BaseException:
            connection.collect()
            raise
        with self._lock:
            self._connections[connection] = os.getpid()
        self._held.producer, self._held.pid = producer, os.getpid()
        # Dropped when the thread ends, with its locals. Left to the collector, the connection's
        # sockets were closed as the last of a reference cycle, some with a ResourceWarning.
        self._held.life = _ThreadLife()
        self._held.ending = weakref.finalize(self._held.life, _drop, connection, os.getpid())
        self._held.ending.atexit = False  # the process's end closes them
        return cast(Producer, producer)

    def _let_go(self, broken: bool = False) -> None:
        """Close this thread's connection (dropped without a word to the broker if `broken`);
        the thread's next publish opens a new one."""
        held = getattr(self._held, "producer", None)
        self._held.producer = None
        if held is None or self._held.pid != os.getpid():
            return
        self._held.ending.detach()
        connection = held.connection
        with self._lock:
            self._connections.pop(connection, None)
        if broken:
            connection.collect()
        else:
            connection.release()

    def depth(self) -> int | None:
        """Tasks waiting in bcapp's queue (None when the broker cannot say)."""
        queue = self.app.amqp.queues[QUEUE]  # declared as Celery declares it (same arguments)
        try:
            with self.app.pool.acquire(block=True, timeout=PUBLISH_TIMEOUT_SECONDS) as connection:
                # Not passive: kombu's Redis transport answers "no such queue" to a passive
                # declaration under a global key prefix (its EXISTS is not prefixed).
                declared = queue.bind(connection.default_channel).queue_declare()
                return int(declared.message_count)
        except self._failures as exc:
            log.warning("broker queue depth unavailable: %s", type(exc).__name__)
            return None

    def close(self) -> None:
        """Close the broker connections of this process (every thread's)."""
        self._let_go()
        with self._lock:
            owned = [made for made, pid in self._connections.items() if pid == os.getpid()]
            self._connections.clear()  # a parent's, after a fork, are the parent's to close
        for connection in owned:
            connection.release()
        self.app.close()
