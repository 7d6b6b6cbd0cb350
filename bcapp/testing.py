"""bcapp's test kit: a pytest plugin for testing your own app against a simulated BigCommerce.

Installed with bcapp (the `pytest11` entry point), it adds these fixtures to your tests:

- `bc_simulator`: an in-process BigCommerce (bcapp/simulator/), served over real HTTP on
  loopback, that installs, opens and calls your app as BigCommerce does;
- `bc_app`: your Flask app, built by your factory (BCAPP_APP, e.g. `shop:create_app`) for
  this test: a Redis of its own (embedded, or REDIS_URL's under a fresh prefix), fresh keys
  and secrets, and the simulator as BigCommerce;
- `bc_store`: a store with your app installed through the real OAuth flow, granted exactly
  the scopes your app declares, its post-install work (webhook subscriptions, App Extensions)
  done; the owner is user 1, a staff user is user 2;
- `bc_open(user_id=None, store=None, path="/")`: a Flask test client opened into your app
  through a signed load, as that user sees it in the control panel; `bc_client` is the owner's;
- `bc_deliver(scope, data, store=None)`: a signed webhook delivery through the real intake;
  your handlers run (in a Celery worker thread of the test) before it returns a `Delivery`;
  a failing handler is a dead letter at once (no retries in tests), its traceback kept;
- `bc_clock`: the clock your app and the simulator share; `bc_clock.advance(seconds)`.

Define a `bc_app_factory` fixture returning a callable to build the app some other way.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from bcapp.clock import ManualClock
    from bcapp.service.wiring import Bcapp
    from bcapp.simulator.state import SimulatorState

__all__ = ["Delivery", "SimulatedStore", "World"]

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

        def finished(sender: Any = None, kwargs: Any = None, retval: Any = None, **_: Any) -> None:
            if sender is not None and sender.app is celery:
                with self._lock:
                    self._finished.append((sender.name, dict(kwargs or {}), retval))
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


def _app_factory_from_environment() -> Callable[[], Flask]:
    """BCAPP_APP's factory (`module:create_app`), or its module's `create_app` when it names
    an app; the kit builds a fresh app for each test."""
    import importlib

    from dotenv import dotenv_values

    from bcapp.app_spec import app_spec, load_app

    spec = app_spec({**dotenv_values(".env"), **os.environ})  # type: ignore[dict-item]
    if spec is None:
        raise pytest.UsageError(
            "bcapp's test kit needs your app: set BCAPP_APP=module:create_app (in .env or "
            "the environment), or define a bc_app_factory fixture"
        )
    module = importlib.import_module(spec.partition(":")[0])
    factory = getattr(module, "create_app", None)
    if callable(factory):
        return factory  # type: ignore[no-any-return]
    return lambda: load_app(spec)  # type: ignore[no-any-return,unused-ignore]


@pytest.fixture(scope="session")
def bc_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set, else an embedded Redis for the session (bcapp/store/embedded.py)."""
    from bcapp.store import embedded

    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    folder = tmp_path_factory.mktemp("bcapp-redis")
    yield embedded.ensure_running(folder)
    embedded.stop(folder)


@pytest.fixture
def bc_app_factory() -> Callable[[], Flask]:
    """What builds your app for a test: BCAPP_APP's factory unless you define this fixture."""
    return _app_factory_from_environment()


@pytest.fixture
def bc_world(
    bc_redis_url: str,
    bc_app_factory: Callable[[], Flask],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """Your app and a simulated BigCommerce for one test, over real HTTP on loopback."""
    from bcapp import clock as clocks
    from bcapp.clock import ManualClock
    from bcapp.crypto import new_key_entry
    from bcapp.simulator import ServedApp, SimulatorState, create_simulator
    from bcapp.web.context import EXTENSION

    holders: dict[str, Any] = {}
    manual = ManualClock(start=float(int(time.time())))
    prefix = f"bctest{uuid.uuid4().hex[:12]}"
    with (
        ServedApp(lambda env, start: holders["app"](env, start)) as app_server,
        ServedApp(lambda env, start: holders["sim"](env, start)) as sim_server,
    ):
        secret = secrets.token_urlsafe(32)
        for name, value in {
            "BCAPP_ENV": "development",
            "BC_CLIENT_ID": CLIENT_ID,
            "BC_CLIENT_SECRET": secret,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "TOKEN_ENCRYPTION_KEYS": new_key_entry(),
            "REDIS_URL": bc_redis_url,
            "BCAPP_REDIS_PREFIX": prefix,
            "BC_LOGIN_URL": sim_server.url,
            "BC_API_URL": sim_server.url,
            "APP_URL": app_server.url,
            "BCAPP_INSTANCE_DIR": str(tmp_path / "instance"),
            "BCAPP_TASK_MAX_ATTEMPTS": "1",  # a failing handler is a dead letter at once
        }.items():
            monkeypatch.setenv(name, value)
        if "BCAPP_EXAMPLE_PAGES" not in os.environ:  # bcapp's own example is not your app
            monkeypatch.setenv("BCAPP_EXAMPLE_PAGES", "false")
        clocks.set_default(manual)
        try:
            app = bc_app_factory()
            service: Bcapp = app.extensions[EXTENSION]
            settings = service.settings
            sim = SimulatorState(
                client_id=CLIENT_ID,
                client_secret=secret,
                redirect_uri=settings.auth_callback_url,
                app_url=settings.app_url,
                app_scopes=str(settings.required_scopes),
            )
            sim.clock = manual.now
            holders["app"], holders["sim"] = app, create_simulator(sim)
            world = World(app, service, sim, manual)
            try:
                yield world
            finally:
                world.close()
                _forget(bc_redis_url, prefix)
        finally:
            clocks.set_default(None)


def _forget(redis_url: str, prefix: str) -> None:
    """Delete the test's keys (its prefix) from a Redis the session may share."""
    from bcapp.store.connection import connect

    client = connect(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def bc_simulator(bc_world: World) -> SimulatorState:
    """The simulated BigCommerce your app talks to in this test."""
    return bc_world.sim


@pytest.fixture
def bc_app(bc_world: World) -> Flask:
    """Your app, built for this test against the simulator."""
    return bc_world.app


@pytest.fixture
def bc_clock(bc_world: World) -> ManualClock:
    """The time of your app and the simulator: it moves only when the test says so."""
    return bc_world.clock


@pytest.fixture
def bc_store(bc_world: World) -> SimulatedStore:
    """A store with your app installed, granted the scopes it declares."""
    return bc_world.install()


@pytest.fixture
def bc_open(
    bc_world: World, bc_store: SimulatedStore
) -> Callable[..., FlaskClient]:
    """`bc_open(user_id=None, store=None, path="/")`: a client opened into your app as that
    user (default: the owner of `bc_store`) through a signed load."""

    def open_as(
        user_id: int | None = None, store: SimulatedStore | None = None, path: str = "/"
    ) -> FlaskClient:
        return bc_world.open(store or bc_store, user_id, path)

    return open_as


@pytest.fixture
def bc_client(bc_open: Callable[..., FlaskClient]) -> FlaskClient:
    """A client opened into your app as the owner of `bc_store`."""
    return bc_open()


@pytest.fixture
def bc_deliver(bc_world: World, bc_store: SimulatedStore) -> Callable[..., Delivery]:
    """`bc_deliver(scope, data=None, store=None)`: a signed webhook delivery through your app's
    intake; returns when your handlers have run."""

    def deliver(
        scope: str, data: dict[str, Any] | None = None, store: SimulatedStore | None = None
    ) -> Delivery:
        return bc_world.deliver(store or bc_store, scope, data)

    return deliver
