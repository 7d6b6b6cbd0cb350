"""Which broker Celery is given (issue 18, Build 4): the app's Redis in each of its forms, a
named broker, and a Cluster refused; and webhook handlers running over a real Sentinel."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from bcapp import webhooks
from bcapp.broker_urls import broker_url
from bcapp.errors import ConfigurationError
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import install
from tests.servers import REPO, environment_for, free_port, redis_server
from tests.test_webhook_intake import deliver, order_event
from tests.topologies import Topology
from tests.workers import running_worker, wait_until


def test_the_broker_is_the_apps_redis_in_celerys_spelling(settings: Settings) -> None:
    assert broker_url(settings, "unix:///tmp/r/redis.sock") == (
        "redis+socket:///tmp/r/redis.sock",
        {},
    )
    assert broker_url(settings, "rediss://:pw@cache.example:6380/2") == (
        "rediss://:pw@cache.example:6380/2",
        {},
    )
    url, options = broker_url(settings, "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/main/3")
    assert url == "sentinel://:pw@10.0.0.1:26379/3;sentinel://:pw@10.0.0.2:26380/3"
    assert options == {"master_name": "main", "sentinel_kwargs": {"password": "pw"}}
    named = replace(settings, broker_url="amqp://guest:guest@127.0.0.1:5672//")
    assert broker_url(named, "redis+cluster://127.0.0.1:7000") == (
        "amqp://guest:guest@127.0.0.1:5672//",
        {},
    )
    with pytest.raises(ConfigurationError, match="BCAPP_BROKER_URL"):
        broker_url(settings, "redis+cluster://127.0.0.1:7000")


def test_a_broker_that_restarts_is_503_while_down_and_queues_again_once_back(
    make_app: Callable[..., Flask], sim: SimulatorState, tmp_path: Path, prefix: str
) -> None:
    """Each web thread keeps its producer (bcapp/broker.py): a broker that went away fails the
    delivery (BigCommerce retries), and the one after its return is queued on a new
    connection."""

    @webhooks.on("store/order/created")
    def order_created(event: webhooks.Event) -> None:
        pass

    port = free_port()
    with redis_server(tmp_path, port=port) as broker:
        client = make_app(broker_url=broker).test_client()
        install(client, sim)
        assert deliver(client, *order_event()).json == {"status": "queued"}
    refused = deliver(client, *order_event())
    assert refused.status_code == 503
    started = time.monotonic()  # the next one connects afresh, and is refused as fast
    assert deliver(client, *order_event()).status_code == 503
    assert time.monotonic() - started < 3
    with redis_server(tmp_path, port=port) as broker:  # a fresh, empty broker
        assert deliver(client, *order_event()).json == {"status": "queued"}
        assert redis.Redis.from_url(broker).llen(f"{prefix}:broker:bcapp") == 1


def test_while_the_broker_is_down_each_delivery_is_refused_at_once(
    make_app: Callable[..., Flask], sim: SimulatorState, tmp_path: Path
) -> None:
    """One connection attempt per publish: kombu's own retry made each refusal wait 2 s, and
    a broker outage held every web thread, loads included (benchmarks/drills)."""

    @webhooks.on("store/order/created")
    def order_created(event: webhooks.Event) -> None:
        pass

    with redis_server(tmp_path) as broker:
        client = make_app(broker_url=broker).test_client()
        install(client, sim)
    for _ in range(3):
        started = time.monotonic()
        assert deliver(client, *order_event()).status_code == 503
        assert time.monotonic() - started < 1


def test_a_broker_url_celery_cannot_reach_stops_start_up() -> None:
    with pytest.raises(ConfigurationError, match="BCAPP_BROKER_URL must be a broker URL"):
        Settings.from_env({"BCAPP_BROKER_URL": "kafka://127.0.0.1:9092"})


@pytest.fixture
def declared_handler() -> list[int]:
    runs: list[int] = []

    def count_orders(event: webhooks.Event) -> None:
        runs.append(event.data["id"])

    webhooks.on("store/order/created")(count_orders)  # forgotten after the test (conftest.py)
    return runs


@pytest.mark.slow
def test_handlers_run_with_a_sentinel_deployment_as_the_broker(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    sentinel_topology: Topology,
    declared_handler: list[Any],
) -> None:
    app = make_app(redis_url=sentinel_topology.url)
    client = app.test_client()
    install(client, sim)
    with running_worker(service_of(app)):
        assert deliver(client, *order_event()).json == {"status": "queued"}
        wait_until(lambda: declared_handler == [250], timeout=20, what="the handler over Sentinel")


def test_more_publishing_threads_than_kombus_pool_all_publish_and_close_closes_them_all(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """Each thread keeps its producer for its life (a gunicorn thread, a worker thread): with
    more threads than kombu's pool holds (10), the later ones must still publish, not wait
    forever for a pooled connection (with GUNICORN_THREADS=16, six threads of every gunicorn
    worker would hang at their first publish); and the service's close closes every
    thread's connection."""
    with redis_server(tmp_path) as broker_url:
        broker = redis.Redis.from_url(broker_url)
        queue = service_of(make_app(broker_url=broker_url)).queue
        before = connected_clients(broker)
        threads = 14
        published: list[int] = []
        all_done = threading.Event()
        started = threading.Barrier(threads)

        def publish(number: int) -> None:
            started.wait()
            queue.publish("bcapp.handle_event", {"event": {"id": number}})
            published.append(number)
            all_done.wait(10)  # the thread lives on, holding its producer, as a web thread does

        workers = [threading.Thread(target=publish, args=(n,), daemon=True) for n in range(threads)]
        for worker in workers:
            worker.start()
        wait_until(lambda: len(published) == threads, timeout=8, what="every thread's publish")
        assert connected_clients(broker) >= before + threads
        queue.close()
        assert connected_clients(broker) <= before + 1
        all_done.set()
        for worker in workers:
            worker.join(5)
        prefix = queue.app.conf.broker_transport_options["global_keyprefix"]
        assert broker.llen(f"{prefix}bcapp") == threads


def connected_clients(broker: redis.Redis) -> int:
    """Clients the broker has (after collecting what ended threads left)."""
    gc.collect()
    return int(broker.info("clients")["connected_clients"])


def test_a_thread_that_ends_leaves_no_broker_connection_open(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """A server that starts a thread per request (Werkzeug's development server) publishes
    from threads that end: their connections must not pile up on the broker."""
    with redis_server(tmp_path) as broker_url:
        broker = redis.Redis.from_url(broker_url)
        queue = service_of(make_app(broker_url=broker_url)).queue

        before = connected_clients(broker)
        for number in range(6):
            thread = threading.Thread(
                target=queue.publish, args=("bcapp.handle_event", {"event": {"id": number}})
            )
            thread.start()
            thread.join(5)
        prefix = queue.app.conf.broker_transport_options["global_keyprefix"]
        assert broker.llen(f"{prefix}bcapp") == 6
        wait_until(
            lambda: connected_clients(broker) <= before + 1, timeout=5, what="closed sockets"
        )


# A `bcapp worker` killed at the wrong instant: it has taken the tasks queued (the install's
# and the delivery's; kombu records them as unacknowledged) and holds kombu's lock for giving
# abandoned tasks back (kombu/transport/redis.py `restore_visible`, `Mutex`), with the expiry
# its configuration gives that lock.
KILLED_HOLDING_THE_LOCK = """
import os, signal
from bcapp.broker import QUEUE, celery_app
from bcapp.settings import Settings
app = celery_app(Settings.from_env(dotenv=""), os.environ["REDIS_URL"])
channel = app.connection_for_read().default_channel
while channel.basic_get(QUEUE, no_ack=False) is not None:
    pass
lock = channel.client.lock(channel.unacked_mutex_key, timeout=channel.unacked_mutex_expire)
assert lock.acquire(blocking=False)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_worker_killed_holding_the_give_back_lock_delays_its_task_a_visibility_timeout(
    make_app: Callable[..., Flask], sim: SimulatorState, declared_handler: list[Any]
) -> None:
    """The task a killed worker held runs once the visibility timeout has passed, even when it
    died holding the lock every worker needs to give such tasks back: kombu's lock lasted
    300 s, and the task waited that long (the worker drill, docs/operations.md)."""
    app = make_app(task_visibility_timeout=1)
    client = app.test_client()
    install(client, sim)
    assert deliver(client, *order_event()).json == {"status": "queued"}
    service = service_of(app)
    env = {**os.environ, **environment_for(service.settings), "BCAPP_TASK_VISIBILITY_TIMEOUT": "1"}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_HOLDING_THE_LOCK], env=env, cwd=REPO, timeout=30,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    with running_worker(service):
        wait_until(lambda: declared_handler == [250], timeout=6, what="the abandoned task")
