"""The machine's RabbitMQ for tests and drills: does it answer, and a vhost of one run's own.

A vhost is made with `rabbitmqctl` when it is on the PATH (it needs the node's Erlang cookie:
root or the rabbitmq user), else through the management API on port 15672; with neither, the
caller says RabbitMQ's part did not run. A vhost is also what keeps deployments sharing one
RabbitMQ apart: bcapp's queue is named `bcapp` in every deployment (docs/operations.md).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote

HOST, PORT = "127.0.0.1", 5672
MANAGEMENT = "http://127.0.0.1:15672/api"
USER, PASSWORD = "guest", "guest"


class VhostUnavailable(RuntimeError):
    """No way to make a vhost here (the message says what was tried)."""


def answers(host: str = HOST, port: int = PORT, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def url(vhost: str, port: int = PORT) -> str:
    """The broker URL of `vhost` (through `port`: a proxy in front of the server)."""
    return f"amqp://{USER}:{PASSWORD}@{HOST}:{port}/{quote(vhost, safe='')}"


def create_vhost(prefix: str = "bcapp") -> str:
    """A new vhost (`prefix-<random>`) that guest may use fully; its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    if shutil.which("rabbitmqctl"):
        _ctl("add_vhost", name)
        _ctl("set_permissions", "-p", name, USER, ".*", ".*", ".*")
        return name
    if answers(port=15672):
        _api("PUT", f"/vhosts/{quote(name, safe='')}", b"{}")
        permissions = b'{"configure": ".*", "write": ".*", "read": ".*"}'
        _api("PUT", f"/permissions/{quote(name, safe='')}/{USER}", permissions)
        return name
    raise VhostUnavailable("neither rabbitmqctl nor the management API (port 15672) is here")


def delete_vhost(name: str) -> None:
    """Delete `name` and everything in it (best effort: a failure is only left behind)."""
    try:
        if shutil.which("rabbitmqctl"):
            _ctl("delete_vhost", name)
        else:
            _api("DELETE", f"/vhosts/{quote(name, safe='')}", None)
    except VhostUnavailable:
        pass


def _ctl(*arguments: str) -> None:
    command = [shutil.which("rabbitmqctl") or "rabbitmqctl", "--quiet", *arguments]
    done = subprocess.run(  # noqa: S603 - rabbitmqctl with fixed arguments
        command, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise VhostUnavailable(f"rabbitmqctl {arguments[0]}: {done.stderr.strip()[:300]}")


def _api(method: str, path: str, body: bytes | None) -> None:
    request = urllib.request.Request(MANAGEMENT + path, data=body, method=method)  # noqa: S310
    credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {credentials}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
            return
    except (urllib.error.URLError, OSError) as exc:
        raise VhostUnavailable(f"the management API refused {method} {path}: {exc}") from exc
