"""Webhook handlers through gunicorn and `bcapp worker` processes, as deployed (issue 18,
acceptance 1 and 3): each event runs once, duplicates run nothing, the 2xx never waits for a
handler, and a worker SIGKILLed inside a handler leaves the event to a new worker once the
visibility timeout has passed.

The handlers live in a module of the test's own (`BCAPP_RECEIVERS`) and write what they do to
files, which the test reads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import standard_webhook_headers
from tests.conftest import CLIENT_SECRET
from tests.helpers import auth_query, installation_of
from tests.servers import REPO, environment_for, free_port, gunicorn
from tests.workers import wait_until

pytestmark = pytest.mark.slow

RECEIVERS = """
import os, time
from pathlib import Path
from bcapp import webhooks

OUT = Path(os.environ["EVENTS_OUT"])

@webhooks.on("store/order/created")
def order_created(event):
    with (OUT / "orders").open("a") as runs:
        runs.write(f"{event.data['id']} {event.attempt} {event.api.get('v2/store')['id']}\\n")

@webhooks.on("store/customer/updated")
def customer_updated(event):
    time.sleep(5)  # a slow handler
    (OUT / "customer-done").touch()

@webhooks.on("store/product/updated")
def product_updated(event):
    (OUT / f"started-{os.getpid()}").touch()
    if not (OUT / "slow-once").exists():
        (OUT / "slow-once").touch()
        time.sleep(60)  # the first run is killed in here
    (OUT / "products-done").write_text(str(event.data["id"]))
"""


@pytest.fixture
def deployment(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment of gunicorn and the workers: the test's settings and receivers."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "handlers_under_test.py").write_text(RECEIVERS)
    out = tmp_path / "out"
    out.mkdir()
    return environment_for(settings) | {
        "BCAPP_RECEIVERS": "handlers_under_test",
        "PYTHONPATH": f"{tmp_path / 'pkg'}{os.pathsep}{REPO}",
        "EVENTS_OUT": str(out),
        "BCAPP_TASK_VISIBILITY_TIMEOUT": "2",
        "BCAPP_TASK_RETRY_BASE": "0.1",
    }


@contextmanager
def worker_process(
    env: dict[str, str], log: Path, *options: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`bcapp worker` as the Procfile runs it; stopped (or already killed) at the end."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("BC")} | env
    with log.open("a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bcapp.cli", "worker", "--concurrency", "2", *options],
            cwd=REPO,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


_MADE: dict[str, int] = {}  # each event's time: a retry of it (the same hash) keeps it


def delivery(
    scope: str, number: int, webhook_id: str, event_hash: str
) -> tuple[bytes, dict[str, str]]:
    now = int(time.time())
    made = _MADE.setdefault(event_hash, now)
    body = json.dumps(
        {
            "scope": scope,
            "store_id": "1",
            "data": {"type": scope.split("/")[1], "id": number},
            "hash": event_hash,
            "created_at": made,
            "producer": "stores/abc123",
        }
    )
    return body.encode(), standard_webhook_headers(CLIENT_SECRET, webhook_id, now, body)


def post(url: str, message: tuple[bytes, dict[str, str]]) -> requests.Response:
    return requests.post(
        url + "/bigcommerce/webhooks", data=message[0], headers=message[1], timeout=10
    )


def test_each_event_runs_once_through_gunicorn_and_a_worker_process(
    deployment: dict[str, str], sim: SimulatorState, tmp_path: Path
) -> None:
    out = Path(deployment["EVENTS_OUT"])
    metrics_port = free_port()
    with (
        gunicorn(deployment, tmp_path / "g.log") as url,
        worker_process(
            deployment, tmp_path / "w.log", "--metrics-address", f"127.0.0.1:{metrics_port}"
        ),
    ):
        installed = requests.get(
            url + "/bigcommerce/auth?" + auth_query(sim), allow_redirects=False, timeout=10
        )
        assert installed.status_code == 302
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 4, timeout=30, what="subscriptions")
        slow = post(url, delivery("store/customer/updated", 5, "msg_s", "s" * 40))
        assert slow.json() == {"status": "queued"}
        assert not (out / "customer-done").exists(), "answered while the 5 s handler runs"
        first = delivery("store/order/created", 7, "msg_a", "a" * 40)
        started = time.monotonic()
        assert post(url, first).json() == {"status": "queued"}
        assert post(url, first).json() == {"status": "duplicate"}
        assert post(url, delivery("store/order/created", 7, "msg_b", "a" * 40)).json() == {
            "status": "duplicate"
        }
        assert post(url, delivery("store/order/created", 8, "msg_c", "c" * 40)).status_code == 200
        wait_until(
            lambda: (
                (out / "orders").exists() and len((out / "orders").read_text().split("\n")) == 3
            ),
            timeout=30,
            what="two handler runs",
        )
        took = time.monotonic() - started
        time.sleep(0.5)  # room for a wrong third run
        exposed = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    runs = sorted((out / "orders").read_text().splitlines())
    assert runs == ["7 1 abc123", "8 1 abc123"], runs
    assert (out / "customer-done").exists(), "the slow handler ran to its end meanwhile"
    assert sorted(hook.scope for hook in sim.stores["abc123"].hooks) == [
        "store/app/uninstalled",
        "store/customer/updated",
        "store/order/created",
        "store/product/updated",
    ]
    assert took < 30
    handled = 'bcapp_webhooks_total{outcome="handled",scope="store/order/created"} 2.0'
    assert handled in exposed, "the worker's own metrics endpoint counts its runs"
    logs = (tmp_path / "g.log").read_text() + (tmp_path / "w.log").read_text()
    assert '"data"' not in logs and "a" * 40 not in logs, "no payload in any log"


def test_a_worker_killed_inside_a_handler_leaves_the_event_to_the_next_worker(
    deployment: dict[str, str], sim: SimulatorState, tmp_path: Path
) -> None:
    out = Path(deployment["EVENTS_OUT"])
    with gunicorn(deployment, tmp_path / "g.log") as url:
        requests.get(
            url + "/bigcommerce/auth?" + auth_query(sim), allow_redirects=False, timeout=10
        )
        message = delivery("store/product/updated", 42, f"msg_{uuid.uuid4().hex}", "p" * 40)
        with worker_process(deployment, tmp_path / "w1.log") as first:
            assert post(url, message).json() == {"status": "queued"}
            wait_until(lambda: (out / "slow-once").exists(), timeout=30, what="the first run")
            os.kill(first.pid, signal.SIGKILL)  # mid-handler, no goodbye
            first.wait(timeout=10)
        assert not (out / "products-done").exists()
        with worker_process(deployment, tmp_path / "w2.log") as second:
            wait_until(lambda: (out / "products-done").exists(), timeout=40, what="the rerun")
            assert (out / f"started-{second.pid}").exists(), "the new worker ran it"
    assert (out / "products-done").read_text() == "42"


def test_worker_beat_runs_reconcile_on_its_schedule(
    settings: Settings, sim: SimulatorState, make_app: Any, tmp_path: Path
) -> None:
    """`bcapp worker --beat` (issue 18, Build 5): reconcile runs from Celery beat, and ends a
    store whose token BigCommerce revoked without an uninstall callback."""
    app = make_app()
    assert app.test_client().get("/bigcommerce/auth?" + auth_query(sim)).status_code == 302
    sim.revoke("abc123")  # uninstalled, and the callback never came
    env = environment_for(settings) | {"BCAPP_RECEIVERS": ""}
    with worker_process(env, tmp_path / "beat.log", "--beat", "--reconcile-every", "1"):
        wait_until(
            lambda: getattr(installation_of(app), "uninstall", None) is not None,
            timeout=40,
            what="reconcile from beat",
        )
    stored = installation_of(app)
    assert stored is not None and stored.uninstall is not None
    assert stored.uninstall.source == "reconcile"
