"""The store client apps build on: shared budget, 429s, retries, 401 marking, paging, workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

import bcapp
from bcapp import signals
from bcapp.clock import ManualClock
from bcapp.errors import NotInstalled, RateLimited, TokenRejected
from bcapp.service.install import InstallRequest
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.helpers import DEFAULT_SCOPE
from tests.servers import REPO, environment_for


@pytest.fixture
def service(make_service: Callable[..., Bcapp], sim: SimulatorState) -> Bcapp:
    """Services with abc123 installed."""
    made = make_service()
    code = sim.issue_code("abc123", 1, DEFAULT_SCOPE)
    made.callbacks.install(InstallRequest.parse(code, DEFAULT_SCOPE, "stores/abc123"))
    return made


def test_paging_helpers_walk_every_page(service: Bcapp) -> None:
    client = service.stores.client("abc123")
    products = list(client.pages_v3("v3/catalog/products", limit=5))
    assert [product["id"] for product in products] == list(range(1, 24))


def test_two_services_share_one_budget_and_wait_instead_of_earning_a_429(
    settings: Settings,
    service: Bcapp,
    sim: SimulatorState,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    """Real time here: the shared budget lives in Redis, whose TTLs follow Redis's own clock."""
    sim.clock = time.time
    sim.rate_limit_quota, sim.rate_limit_window_ms = 4, 500
    sim.stores["abc123"].window_started_ms = 0  # the next call opens a fresh window
    redis_client.delete(f"{prefix}:{{abc123}}:budget")
    first, second = build(settings), build(settings)
    for _ in range(6):
        first.stores.client("abc123").get("v2/time")
        second.stores.client("abc123").get("v2/time")
    first.close()
    second.close()
    assert sim.stores["abc123"].rejected == 0, "12 calls, 4 per window, and never a 429"
    assert 0 < redis_client.pttl(f"{prefix}:{{abc123}}:budget") <= 500


def test_a_429_without_rate_limit_headers_backs_off_with_jitter(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    sim.platform_429s = 2
    assert service.stores.client("abc123").get("v2/time")["time"] > 0
    assert len(clock.slept) == 2 and 0.25 <= clock.slept[0] <= 0.5 <= clock.slept[1] <= 1.0


def test_a_429_that_outlasts_the_budget_is_rate_limited(
    service: Bcapp, sim: SimulatorState
) -> None:
    sim.platform_429s = 10
    with pytest.raises(RateLimited):
        service.stores.client("abc123").get("v2/time")


def test_a_401_flags_the_store_once_until_the_next_install(
    service: Bcapp, sim: SimulatorState
) -> None:
    heard: list[str] = []

    def receive(store_hash: str, **extra: Any) -> None:
        heard.append(store_hash)

    signals.store_needs_reauthorization.connect(receive)
    client = service.stores.client("abc123")
    sim.grant_token("abc123", DEFAULT_SCOPE)  # the token changed behind bcapp's back
    for _ in range(2):
        with pytest.raises(TokenRejected):
            client.get("v2/time")
    signals.store_needs_reauthorization.disconnect(receive)
    assert heard == ["abc123"]
    details = service.operations.show_store("abc123")
    assert details is not None and details.installation.token_rejected_at is not None
    code = sim.issue_code("abc123", 1, DEFAULT_SCOPE)
    service.callbacks.install(InstallRequest.parse(code, DEFAULT_SCOPE, "stores/abc123"))
    details = service.operations.show_store("abc123")
    assert details is not None and details.installation.token_rejected_at is None


def test_an_uninstalled_store_has_no_client(
    service: Bcapp, settings: Settings, clock: ManualClock
) -> None:
    with pytest.raises(NotInstalled):
        service.stores.client("nothere1")


TWO_PROCESSES = textwrap.dedent(
    """
    import sys, bcapp
    client = bcapp.connect().stores.client("abc123")
    for _ in range(int(sys.argv[1])):
        client.get("v2/time")
    """
)


@pytest.mark.slow
def test_two_processes_never_exceed_the_stores_quota(
    settings: Settings,
    service: Bcapp,
    sim: SimulatorState,
    tmp_path: Path,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    sim.clock = time.time
    sim.rate_limit_quota, sim.rate_limit_window_ms = 10, 1000
    store = sim.stores["abc123"]
    store.window_started_ms, store.requests_left = 0, 10  # the next call opens a fresh window
    redis_client.delete(f"{prefix}:{{abc123}}:budget")  # and the install's window is forgotten
    env = {"PATH": "/usr/bin:/bin"} | environment_for(settings)
    runs = [
        subprocess.Popen([sys.executable, "-c", TWO_PROCESSES, "25"], cwd=REPO, env=env)
        for _ in range(2)
    ]
    assert [run.wait(timeout=60) for run in runs] == [0, 0]
    assert sim.stores["abc123"].rejected == 0, "50 calls over 10 per second, and no 429"


def test_the_worker_example_prints_a_stores_products(
    settings: Settings, service: Bcapp, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin"} | environment_for(replace(settings))
    result = subprocess.run(
        [sys.executable, "examples/worker.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "abc123\t1\tSample product 1\t10.5" and len(lines) == 23


def test_a_worker_builds_only_what_it_uses_and_lists_stores_without_decrypting(
    settings: Settings, service: Bcapp, redis_client: redis.Redis, prefix: str
) -> None:
    with bcapp.connect(settings) as worker:
        assert worker.stores.installed() == ["abc123"]
        assert worker.stores.client("abc123").get("v2/store")["id"] == "abc123"
        built = set(vars(worker))
        assert {"callbacks", "sessions", "operations"}.isdisjoint(built), "no load path, no script"

    key = f"{prefix}:{{abc123}}:installation"
    record = json.loads(redis_client.get(key) or "{}")
    sealed = record["access_token"]
    record["access_token"] = sealed[:-6] + ("AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB")
    redis_client.set(key, json.dumps(record))
    with bcapp.connect(settings) as worker:
        assert worker.stores.installed() == ["abc123"], "listed from the record: nothing decrypted"
        with pytest.raises(NotInstalled):
            worker.stores.client("abc123")  # the one decryption, at use, finds the damage
