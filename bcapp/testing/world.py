"""One test's world for bcapp's test kit: the developer's app, the simulator, a shared clock and
a Celery worker thread, with the steps the fixtures take (install, open, deliver)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from bcapp.clock import ManualClock
    from bcapp.service.wiring import Bcapp
    from bcapp.simulator.state import SimulatorState

CLIENT_ID = "bcapp-test-client"
OWNER_ID, STAFF_ID = 1, 2
STORE_HASH = "teststore1"
TASK_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class SimulatedStore:
    """A store of the simulator with the app installed."""

    hash: str
    owner_id: int = OWNER_ID
    staff_id: int = STAFF_ID


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery and what became of it: the intake's answer and each handler's run
    (`handled`, `dead` for a handler that raised, `skipped: not installed`, ...)."""

    status: int
    webhook_id: str
    outcomes: tuple[str, ...]


@dataclass
class World:
    """One test's app, simulator, clock and task worker; the fixtures are views of it."""

    app: Flask
    service: Bcapp
    sim: SimulatorState
    clock: ManualClock
    _finished: list[tuple[str, dict[str, Any], object]] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _worker: Any = None
    _receiver: Any = None

    def install(self, store_hash: str = STORE_HASH) -> SimulatedStore:
        """Install the app on a new store as its owner, and run the post-install task."""
        from bcapp.broker import SYNC_STORE
        from bcapp.simulator import driver

        self.sim.add_store(store_hash, owner_id=OWNER_ID, owner_email=f"owner@{store_hash}.test")
        self.sim.add_user(store_hash, STAFF_ID, f"staff@{store_hash}.test")
        self._start_worker()
        response = self.app.test_client().get(
            _path_of(driver.install_url(self.sim, store_hash, OWNER_ID)), follow_redirects=True
        )
        if response.status_code != 200:
            raise AssertionError(f"the install of {store_hash} answered {response.status_code}")
        self._wait(lambda name, kwargs: name == SYNC_STORE and kwargs["store_hash"] == store_hash,
                   1, f"the post-install task of {store_hash}")
        return SimulatedStore(store_hash)

    def open(
        self, store: SimulatedStore, user_id: int | None = None, path: str = "/"
    ) -> FlaskClient:
        """A test client whose session was opened by a signed load of `path` as `user_id`."""
        from bcapp.simulator import driver

        user = store.owner_id if user_id is None else user_id
        if user not in self.sim.stores[store.hash].users:
            self.sim.add_user(store.hash, user, f"user{user}@{store.hash}.test")
        client = self.app.test_client()
        response = client.get(_path_of(driver.open_url(self.sim, store.hash, user, path)))
        if response.status_code not in (200, 302, 303):
            raise AssertionError(f"the load as user {user} answered {response.status_code}")
        return client

    def deliver(
        self, store: SimulatedStore, scope: str, data: dict[str, Any] | None = None
    ) -> Delivery:
        """POST one signed delivery of `scope` to the app's intake and wait for its handlers."""
        from bcapp import webhooks
        from bcapp.simulator import driver

        now = int(self.clock.now())
        body = json.dumps({
            "scope": scope,
            "store_id": "1000",
            "data": data or {},
            "hash": uuid.uuid4().hex + uuid.uuid4().hex[:8],
            "created_at": now,
            "producer": f"stores/{store.hash}",
        })
        webhook_id = f"msg_{uuid.uuid4().hex}"
        self._start_worker()
        answer = driver.deliver(
            self.sim, self.service.settings.webhook_destination, body, now, webhook_id
        )
        expected = len(webhooks.handlers_for(scope)) if 200 <= answer.status < 300 else 0
        runs = self._wait(
            lambda name, kwargs: kwargs.get("event", {}).get("id") == webhook_id,
            expected, f"the handlers of {scope}",
        )
        return Delivery(answer.status, webhook_id, tuple(str(outcome) for outcome in runs))

    def _start_worker(self) -> None:
        """Celery's own in-process worker (threads) on the app's broker queue, once."""
        if self._worker is not None:
            return
        from celery.contrib.testing.worker import start_worker
        from celery.signals import task_postrun

        from bcapp.worker import application

        celery = application(self.service)
        celery.conf.broker_transport_options["polling_interval"] = 0.1

        def finished(
            sender: Any = None, kwargs: Any = None, retval: Any = None, state: Any = None, **_: Any
        ) -> None:
            if sender is None or sender.app is not celery or state == "RETRY":
                return  # a retry runs again: its run is not over
            outcome = "dead" if state == "FAILURE" else retval  # kept as a dead letter
            with self._lock:
                self._finished.append((sender.name, dict(kwargs or {}), outcome))
                self._lock.notify_all()

        task_postrun.connect(finished, weak=False)
        self._receiver = finished
        self._worker = start_worker(
            celery, pool="threads", concurrency=2, perform_ping_check=False,
            shutdown_timeout=10.0, loglevel="WARNING",
        )
        self._worker.__enter__()

    def _wait(
        self, match: Callable[[str, dict[str, Any]], bool], count: int, what: str
    ) -> list[object]:
        """The results of the first `count` finished tasks `match` accepts, waiting for them."""
        deadline = time.monotonic() + TASK_WAIT_SECONDS
        with self._lock:
            while True:
                found = [result for name, kwargs, result in self._finished if match(name, kwargs)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: {len(found)} of {count} ran within "
                                         f"{TASK_WAIT_SECONDS:.0f} s")
                self._lock.wait(left)

    def close(self) -> None:
        """Stop the worker and close the app's connections."""
        if self._worker is not None:
            from celery.signals import task_postrun

            self._worker.__exit__(None, None, None)
            task_postrun.disconnect(self._receiver)
        self.service.close()


def _path_of(url: str) -> str:
    """The path and query of `url`: a test client's requests all name one host (`localhost`),
    so the session cookie a load sets goes with the test's next requests."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
