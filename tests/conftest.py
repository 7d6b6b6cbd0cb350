"""Fixtures: a real Redis, the simulator served over real HTTP, settings, app and client."""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bcapp.clock import Clock, ManualClock
from bcapp.crypto import new_key_entry, parse_keys
from bcapp.scopes import ScopeSet, required_scopes
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.simulator import ServedApp, SimulatorState, create_simulator
from bcapp.store import embedded
from bcapp.store.connection import connect
from bcapp.web import create_app
from bcapp.web.context import EXTENSION
from tests.helpers import redis_snapshot
from tests.topologies import Topology, redis_cluster, sentinel_deployment

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-0123456789"
APP_URL = "http://127.0.0.1:8000"
CALLBACK_URL = APP_URL + "/bigcommerce/auth"


def pytest_collection_finish(session: pytest.Session) -> None:
    """No test module may declare at import: a handler, scope, App Extension, plan, script or
    task receiver declared while the suite is collected is in every test of that process (the
    per-test restore below keeps what was there before the test), so another test's event
    queues a task for it. (tests/test_drill.py once imported the drill's handler this way.)"""
    from bcapp import extensions, scopes, signals, webhooks
    from bcapp.billing import plans
    from bcapp.storefront import scripts as storefront_scripts

    leaked = {
        "webhook handlers": list(webhooks._declared),
        "scopes": list(scopes._declared),
        "App Extensions": list(extensions._declared),
        "task receivers": [name for found in signals._task_receivers.values() for name in found],
        "plans": list(plans._declared),
        "storefront scripts": list(storefront_scripts._declared),
    }
    named = {kind: names for kind, names in leaked.items() if names}
    if named:
        raise pytest.UsageError(f"a test module declares at import (move it into a test): {named}")


def pytest_report_header() -> list[str]:
    """Say up front which Redis and whether the browser tests run."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    return [
        f"redis: {'REDIS_URL' if os.environ.get('REDIS_URL') else 'embedded redis-server'}",
        f"browser tests: chromium at {chromium}"
        if chromium
        else "browser tests: *** SKIPPED: no chromium installed (apt-get install chromium) ***",
    ]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set, else an embedded redis-server for the whole session."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    instance = tmp_path_factory.mktemp("redis")
    url = embedded.ensure_running(instance)
    yield url
    embedded.stop(instance)


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-master Redis Cluster shared by the session (tests use their own prefixes)."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as url:
        yield url


@pytest.fixture(scope="session")
def sentinel_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """A Sentinel deployment shared by the session; a test that kills a server starts its own."""
    with sentinel_deployment(tmp_path_factory.mktemp("sentinel")) as deployment:
        yield deployment


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests never see each other's keys."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def redis_client(redis_url: str, prefix: str) -> Iterator[redis.Redis]:
    """A client on the test Redis; this test's keys are deleted afterwards."""
    yield from client_cleaning_up(redis_url, prefix)


def client_cleaning_up(url: str, prefix: str) -> Iterator[redis.Redis]:
    """A client of `url` for one test; the keys under `prefix` are deleted when it ends."""
    client = connect(url)
    yield client
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def sim() -> SimulatorState:
    """A simulated BigCommerce with one store (owner 1) and a staff user (2)."""
    state = SimulatorState(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=CALLBACK_URL
    )
    state.add_store("abc123", owner_id=1, owner_email="owner@example.com")
    state.add_user("abc123", 2, "staff@example.com")
    return state


@pytest.fixture
def clock(sim: SimulatorState) -> ManualClock:
    """The present, stopped, shared with the simulator: time moves only when a test says so
    (or when something waits on it), for the app and the simulated BigCommerce alike."""
    manual = ManualClock(start=float(int(time.time())))
    sim.clock = manual.now
    return manual


@pytest.fixture(scope="session")
def served_simulator() -> Iterator[tuple[Flask, ServedApp]]:
    """One simulator app and server per test process (building the app is a tenth of a typical
    test's setup); each test puts its own world in it (`bigcommerce`)."""
    simulator = create_simulator(_empty_world())
    with ServedApp(simulator) as served:
        yield simulator, served


@pytest.fixture
def bigcommerce(
    sim: SimulatorState, served_simulator: tuple[Flask, ServedApp]
) -> Iterator[ServedApp]:
    """The simulator served over real HTTP, playing this test's `sim` (every view reads its
    world from the app, bcapp/simulator/login.py); an empty world again after the test."""
    simulator, served = served_simulator
    simulator.extensions["bcapp_simulator"] = sim
    yield served
    simulator.extensions["bcapp_simulator"] = _empty_world()


def _empty_world() -> SimulatorState:
    """A simulator with no store: what the shared simulator plays between tests."""
    return SimulatorState(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri="")


@pytest.fixture
def settings(
    redis_url: str,
    prefix: str,
    bigcommerce: ServedApp,
    tmp_path: Path,
    redis_client: redis.Redis,
) -> Settings:
    """Settings pointing at the test Redis and the simulator (this test's keys are cleaned)."""
    return Settings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret_key="s" * 48,
        token_keys=parse_keys(new_key_entry()),
        app_url=APP_URL,
        redis_url=redis_url,
        redis_prefix=prefix,
        login_url=bigcommerce.url,
        api_url=bigcommerce.url,
        instance_dir=tmp_path,
        token_exchange_deadline=3.0,
        http_read_timeout=2.0,
        example_pages=True,  # the tests drive the bundled example as `make run` shows it
        # ... with the scopes it declares (bcapp/example_events.py), without importing its
        # webhook handlers and App Extension into every test
        required_scopes=ScopeSet(required_scopes().names | {"store_v2_products_read_only"}),
    )


@pytest.fixture
def make_app(settings: Settings, redis_client: redis.Redis) -> Iterator[Callable[..., Flask]]:
    """A factory of bcapp apps on `settings` with overrides; their Redis pools are closed after."""
    made: list[Flask] = []

    def make(clock: Clock | None = None, **overrides: Any) -> Flask:
        made.append(create_app(replace(settings, **overrides), clock=clock))
        return made[-1]

    yield make
    for app in made:
        service_of(app).close()


@pytest.fixture
def make_service(settings: Settings, clock: ManualClock) -> Iterator[Callable[..., Bcapp]]:
    """A factory of bcapp's services on `settings` with overrides (no Flask), on the test's
    manual clock; each is closed after the test."""
    made: list[Bcapp] = []

    def make(**overrides: Any) -> Bcapp:
        made.append(build(replace(settings, **overrides), clock))
        return made[-1]

    yield make
    for service in made:
        service.close()


@pytest.fixture
def service(make_service: Callable[..., Bcapp]) -> Bcapp:
    """bcapp's services on the test settings."""
    return make_service()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The bcapp Flask app under test."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def installed(client: FlaskClient, sim: SimulatorState) -> FlaskClient:
    """A test client of the app after the owner of abc123 installed it (holding its session)."""
    from tests.helpers import install

    assert install(client, sim).status_code == 302
    return client


@pytest.fixture
def snapshot(redis_client: redis.Redis, prefix: str) -> object:
    """A callable returning every key and value of this test's namespace."""
    return lambda: redis_snapshot(redis_client, prefix)


@pytest.fixture(autouse=True)
def declared_handlers_stay_with_their_test() -> Iterator[None]:
    """Webhook handlers, task receivers, App Extensions and scopes a test declares (or a module it
    imports, e.g. the example's through a development `Settings.from_env()`) are forgotten when
    it ends: the registries are process-wide, and another test must not queue work for them."""
    from bcapp import extensions, scopes, signals, webhooks
    from bcapp.billing import plans
    from bcapp.storefront import scripts as storefront_scripts

    before = dict(webhooks._declared)
    plans_before = dict(plans._declared)
    scripts_before = dict(storefront_scripts._declared)
    shoppers_before = list(storefront_scripts._serves_shoppers)
    extensions_before = list(extensions._declared)
    scopes_before = dict(scopes._declared)
    declaring = ("bcapp.example_events", "tests.example_scopes")
    imported_before = {name for name in declaring if name in sys.modules}
    receivers_before = {name: dict(found) for name, found in signals._task_receivers.items()}
    yield
    webhooks._declared.clear()
    webhooks._declared.update(before)
    signals._task_receivers.clear()
    signals._task_receivers.update(receivers_before)
    extensions._declared[:] = extensions_before
    scopes._declared.clear()
    scopes._declared.update(scopes_before)
    plans._declared.clear()
    plans._declared.update(plans_before)
    storefront_scripts._declared.clear()
    storefront_scripts._declared.update(scripts_before)
    storefront_scripts._serves_shoppers[:] = shoppers_before
    for name in set(declaring) - imported_before:  # the next test to import it declares anew
        sys.modules.pop(name, None)


@pytest.fixture(autouse=True)
def no_secret_in_logs(sim: SimulatorState, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: no client secret, auth code or access token in any log record."""
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text
    assert CLIENT_SECRET not in text
    for secret in sim.issued_secrets:
        assert secret not in text


def service_of(app: Flask) -> Bcapp:
    """The bcapp wired into `app`."""
    value = app.extensions[EXTENSION]
    assert isinstance(value, Bcapp)
    return value
