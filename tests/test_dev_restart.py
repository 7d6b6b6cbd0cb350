"""`bcapp dev` restarted: a new order from the simulator still runs the app's handler (issue 27,
acceptance 4). Before, the simulator's event counter started again at 1 after a restart, so a
new order's payload repeated an earlier event's and the worker dropped it as a duplicate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.servers import free_port, wait_until_serving
from tests.test_dev import BCAPP, bcapp_dev, clean_env, eventually

pytestmark = pytest.mark.slow
STORE, OWNER = "demo1234", 1001  # the simulator's seeded store and its owner

SHOP = '''
from flask import Flask

import bcapp
from bcapp import webhooks

ORDERS = {orders!r}


@webhooks.on("store/order/created")
def order_created(event: webhooks.Event) -> None:
    """Write down each order the handler ran for."""
    with open(ORDERS, "a") as written:
        written.write(f"{{event.data['id']}} {{event.hash}}\\n")


app = Flask(__name__)
bcapp.init_app(app)
'''


def install(simulator: str) -> None:
    """Install the app on the seeded store as the panel's button does: the panel frames the
    app's auth callback, which a browser then opens."""
    framed = requests.post(
        f"{simulator}/stores/{STORE}/install", data={"user_id": OWNER},
        headers={"Origin": simulator}, timeout=10,
    )
    framed.raise_for_status()
    [callback] = re.findall(r'<iframe[^>]*src="([^"]+)"', framed.text)
    answer = requests.get(callback.replace("&amp;", "&"), allow_redirects=False, timeout=20)
    assert answer.status_code == 302, answer.text[:300]


def answers(url: str) -> bool:
    """Whether `url` answers 2xx yet."""
    try:
        return requests.get(url, timeout=5).ok
    except requests.ConnectionError:
        return False


def new_order(project: Path) -> str:
    """`bcapp simulator event store/order/created` once the store has a hook for it."""
    fired = ""

    def sent_to_a_hook() -> bool:
        nonlocal fired
        result = subprocess.run(
            [BCAPP, "simulator", "event", "store/order/created", "--store", STORE],
            cwd=project, env=clean_env(), capture_output=True, text=True, timeout=30,
            check=False,
        )
        fired = result.stdout + result.stderr
        return "sent to 1 hook(s)" in result.stdout

    assert eventually(sent_to_a_hook, within=15), fired
    return fired


def test_after_a_restart_a_new_order_runs_the_handler(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    orders = project / "orders.txt"
    (project / "shop.py").write_text(SHOP.format(orders=str(orders)))
    port = free_port(twin=1)
    (project / ".env").write_text(
        f"BCAPP_APP=shop:app\nPORT={port}\nBCAPP_INSTANCE_DIR={project / 'instance'}\n"
    )
    url, simulator = f"http://127.0.0.1:{port}", f"http://localhost:{port + 1}"

    def handled() -> list[str]:
        return orders.read_text().splitlines() if orders.exists() else []

    for run in (1, 2):
        with bcapp_dev(project, tmp_path / f"dev{run}.log") as dev:
            wait_until_serving(url, dev)
            assert eventually(lambda: answers(simulator))
            if run == 1:
                install(simulator)
            new_order(project)
            assert eventually(lambda run=run: len(handled()) == run, within=15), (
                (tmp_path / f"dev{run}.log").read_text()[-3000:]
            )
            os.killpg(dev.pid, signal.SIGINT)
            dev.wait(timeout=10)
    first, second = (line.split() for line in handled())
    assert first[0] != second[0], "a new order id"
    assert first[1] != second[1], "a new event hash"
