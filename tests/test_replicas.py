"""BCAPP_REDIS_MIN_REPLICAS: an install is acknowledged only once replicas hold it (WAIT)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask import Flask

from bcapp import signals
from bcapp.errors import StoreUnavailable
from bcapp.simulator import SimulatorState
from bcapp.store.connection import Keyspace, wait_for_replicas
from tests.conftest import service_of
from tests.helpers import install
from tests.servers import redis_server

pytestmark = pytest.mark.slow


def wait_for_replica(master_url: str) -> None:
    """Poll until the master reports its replica online; fail the test if it never does."""
    client = redis.Redis.from_url(master_url, decode_responses=True)
    try:
        for _ in range(200):
            info = client.info("replication")
            slave = info.get("slave0", {})
            if info.get("connected_slaves") == 1 and slave.get("state") == "online":
                return
            time.sleep(0.05)
        pytest.fail(f"the replica never came online: {info}")
    finally:
        client.close()


def test_an_install_waits_for_its_replica_and_is_refused_without_enough(
    make_app: Callable[..., Flask], sim: SimulatorState, tmp_path: Path, prefix: str
) -> None:
    with redis_server(tmp_path) as master:
        port = master.rsplit(":", 1)[1].split("/")[0]
        with redis_server(tmp_path, "--replicaof", "127.0.0.1", port) as replica:
            wait_for_replica(master)
            app = make_app(redis_url=master, redis_min_replicas=1)
            assert install(app.test_client(), sim).status_code == 302
            copy = redis.Redis.from_url(replica, decode_responses=True)
            assert copy.exists(f"{prefix}:{{abc123}}:installation"), "the replica holds it"
            copy.close()

            demanding = make_app(redis_url=master, redis_min_replicas=2)
            announced: list[str] = []
            with signals.app_installed.connected_to(lambda sender, **_: announced.append(sender)):
                response = install(demanding.test_client(), sim)
            assert announced == [], "no receiver acts on an install the merchant sees fail"
            assert response.status_code == 503
            assert "temporarily unavailable" in response.get_data(as_text=True)
            assert "Set-Cookie" not in response.headers
            for made in (app, demanding):
                service_of(made).close()


def test_the_wait_counts_the_install_whichever_pooled_connection_it_is_sent_on(
    tmp_path: Path,
) -> None:
    """WAIT counts the writes of its own connection: sent on a pooled connection other than
    the install's (another thread holds that one) whose own last write the replica already
    has, a bare WAIT answered "replicated" at once while the replica did not hold the install.
    With the marker written first on WAIT's own connection, a replica that has not caught up
    is a refusal."""
    with redis_server(tmp_path) as master:
        port = master.rsplit(":", 1)[1].split("/")[0]
        with redis_server(tmp_path, "--replicaof", "127.0.0.1", port) as replica:
            wait_for_replica(master)
            client = redis.Redis.from_url(master)
            earlier = client.connection_pool.get_connection()  # the connection WAIT will get
            earlier.send_command("SET", "earlier", "1")
            assert earlier.read_response()
            wait_for_replicas(client, Keyspace("t"), 1)  # the replica holds the earlier write
            lagging = redis.Redis.from_url(replica)
            sleeper = threading.Thread(target=lambda: lagging.execute_command("DEBUG", "SLEEP", 1))
            sleeper.start()  # the replica takes nothing in for a second
            time.sleep(0.2)
            client.set("installation", "written")  # on another pooled connection
            client.connection_pool.release(earlier)  # WAIT gets it back
            try:
                with pytest.raises(StoreUnavailable):
                    wait_for_replicas(client, Keyspace("t"), 1, timeout_ms=300)
            finally:
                sleeper.join()
                lagging.close()
            wait_for_replicas(client, Keyspace("t"), 1)  # caught up: it passes
            client.close()
