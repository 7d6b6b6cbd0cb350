"""The README's Python blocks against a running `make run` (issue 20, acceptance 1).

`make run` (bcapp's own app) is started with the README's `myapp` package joined to it, as
docs/building.md ("Or keep bcapp's own app") says: its page (`BCAPP_BLUEPRINTS=myapp.views:bp`),
its webhook handler, script, App Extension and the signal receivers of docs/building.md
(`BCAPP_RECEIVERS`). The store is installed through the simulator over HTTP, granted the scopes
the package declares; the page is read with the session, the catalogue script runs as a
separate process against make run's instance, "Create an order" reaches the handler in make
run's task worker, the receivers log what they heard, and the extension shows in the
simulator's order rows. The README's kit tests run against `myapp:create_app` in
tests/architecture/test_readme_examples.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import requests

from tests.architecture.test_readme_examples import (
    RECEIVERS_DOC,
    block,
    with_body,
    write_readme_app,
)
from tests.servers import REPO, free_port
from tests.workers import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`make run` with the README's myapp package; its URLs, instance and log."""
    package = write_readme_app(tmp_path / "pkg")
    (package / "receivers.py").write_text(block("python", "# myapp/receivers.py", RECEIVERS_DOC))
    catalog = with_body(block("python", "# myapp/catalog.py"), "print(product['name'])")
    (package / "catalog.py").write_text(catalog)
    port = free_port(twin=1)
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC", "REDIS_URL", "APP_URL"))}
    env |= {
        "PORT": str(port),
        "BCAPP_INSTANCE_DIR": str(instance),
        "WEB_CONCURRENCY": "2",
        "PYTHONPATH": str(tmp_path / "pkg"),
        "BCAPP_BLUEPRINTS": "myapp.views:bp",
        "BCAPP_RECEIVERS": "myapp.events,myapp.receivers,myapp.extensions,myapp.catalog",
    }
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"PYTHON={sys.executable}"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        app_url, panel_url = f"http://127.0.0.1:{port}", f"http://localhost:{port + 1}"
        wait_until(lambda: _answers(app_url + "/healthz") and _answers(panel_url + "/"),
                   timeout=60, what="make run and its simulator")
        yield {"app": app_url, "panel": panel_url, "instance": str(instance),
               "log": str(log_path), "pythonpath": env["PYTHONPATH"]}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except (requests.ConnectionError, requests.Timeout):  # not listening, or booting
        return False


def test_every_readme_python_block_runs_against_make_run(running: dict[str, str]) -> None:
    panel, app = running["panel"], running["app"]
    frame = requests.post(panel + "/stores/demo1234/install", data={"user_id": "1001"}, timeout=10)
    source = re.search(r'<iframe id="app"[^>]*src="([^"]+)"', frame.text)
    assert source is not None, frame.text
    installed = requests.get(unescape(source.group(1)), allow_redirects=False, timeout=20)
    assert installed.status_code == 302, installed.text
    cookie = {"Cookie": installed.headers["Set-Cookie"].split(";")[0]}

    page = requests.get(app + "/orders", headers=cookie, timeout=10)  # myapp/views.py
    assert page.status_code == 200 and "Orders of demo1234" in page.text, page.text

    command = block("python", "# myapp/catalog.py").splitlines()[0].split("— ", 1)[1]
    worker = subprocess.run(  # the catalogue script, a process of its own beside make run
        shlex.split(command.replace("python", sys.executable, 1)),
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PORT": app.rsplit(":", 1)[1],
             "BCAPP_INSTANCE_DIR": running["instance"], "BCAPP_RECEIVERS": "",
             "PYTHONPATH": running["pythonpath"]},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert worker.returncode == 0, worker.stderr
    assert "Sample product 1" in worker.stdout.splitlines()

    wait_until(lambda: "store/order/created" in requests.get(panel + "/", timeout=5).text,
               timeout=30, what="the subscription from make run's worker")
    assert requests.post(panel + "/stores/demo1234/events/order", timeout=10).ok
    kept = Path(running["instance"]) / "simulator.json"

    def order_noted() -> bool:
        stores = json.loads(kept.read_text())["stores"]
        orders = next(store for store in stores if store["hash"] == "demo1234")["orders"]
        return bool(orders) and orders[-1]["staff_notes"] == "seen by my app"

    wait_until(order_noted, timeout=30, what="myapp/events.py writing the order's notes")

    log = Path(running["log"]).read_text()
    assert "welcome owner@demo1234.example to demo1234" in log  # myapp/receivers.py
    banner = block("", "  Open http://localhost:8001/").strip()  # the quick start's one URL
    assert banner.replace("http://localhost:8001", panel) in log

    def extension_registered() -> bool:  # myapp/extensions.py, by the install's sync task
        panel_page = requests.get(panel + "/", timeout=5).text
        return 'data-records="ORDERS"' in panel_page and "Print labels" in panel_page

    # The same task made the subscriptions first: under load it may still be on its GraphQL
    # calls when the order's handler has already run.
    wait_until(extension_registered, timeout=30, what="the App Extension in the panel")
