"""bcapp's test kit as pytest fixtures (the `pytest11` entry point; bcapp/testing/__init__.py
says what each gives)."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bcapp.testing.world import CLIENT_ID, Delivery, SimulatedStore, World

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from bcapp.clock import ManualClock
    from bcapp.service.wiring import Bcapp
    from bcapp.simulator.state import SimulatorState


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
    from bcapp.billing.config import simulator_seed
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
            # Unified Billing against the simulator's Account API (bcapp/billing/).
            "BC_PARTNER_ACCOUNT_UUID": str(uuid.uuid4()),
            "BC_ACCOUNT_API_TOKEN": secrets.token_urlsafe(24),
            "BC_APP_ID": "1234",
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
            for name, value in simulator_seed(settings.billing).items():
                setattr(sim, name, value)
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
