"""`bcapp simulator event SCOPE --store HASH` fires one event at the running simulator over
HTTP (issue 27, Build 8); `bcapp simulator [--port N]` still runs it."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from bcapp.cli import main
from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.control_api import EVENTS_PATH
from bcapp.simulator.state import SimHook
from tests.servers import free_port
from tests.workers import wait_until

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def received() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An app's webhook endpoint over HTTP that answers 200 and keeps each payload."""
    payloads: list[dict[str, Any]] = []

    def receiver(environ: dict[str, Any], start: Any) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        payloads.append(json.loads(environ["wsgi.input"].read(size)))
        start("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    with ServedApp(receiver) as served:
        yield served.url + "/bigcommerce/webhooks", payloads


def fire(url: str, tmp_path: Path, *args: str, **env: str | None) -> Result:
    """`bcapp simulator event ARGS` in development without credentials, the simulator at `url`."""
    environment = {
        "BCAPP_ENV": "development",
        "BC_CLIENT_ID": None,
        "BC_CLIENT_SECRET": None,
        "BCAPP_INSTANCE_DIR": str(tmp_path / "instance"),
        "BCAPP_SIMULATOR_URL": url,
        "BCAPP_RECEIVERS": "",
    } | env
    return CliRunner().invoke(main, ["simulator", "event", *args], env=environment)


def test_an_event_fired_from_the_command_line_reaches_the_stores_hooks(
    bigcommerce: ServedApp,
    sim: SimulatorState,
    received: tuple[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    destination, payloads = received
    token = sim.grant_token("abc123", "store_v2_information_read_only")
    sim.stores["abc123"].hooks.append(SimHook(1, "store/order/*", destination, True, token))
    result = fire(bigcommerce.url, tmp_path, "store/order/created", "--store", "abc123")
    assert result.exit_code == 0, result.output
    assert result.output == "store/order/created #126 on abc123: sent to 1 hook(s)\n"
    assert [order["id"] for order in sim.stores["abc123"].orders] == [126], "the order exists"
    wait_until(lambda: payloads, what="the delivery")
    [payload] = payloads
    assert payload["scope"] == "store/order/created" and payload["data"] == {
        "type": "order",
        "id": 126,
    }

    updated = fire(bigcommerce.url, tmp_path, "store/order/statusUpdated", "--store", "abc123")
    assert updated.exit_code == 0 and "#126" in updated.output, "the newest order"
    quiet = fire(bigcommerce.url, tmp_path, "store/customer/created", "--store", "abc123")
    assert quiet.exit_code == 0 and "sent to 0 hook(s)" in quiet.output
    assert "no active hook of that scope" in quiet.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("store/order/creatd", "--store", "abc123"), "unknown event scope 'store/order/creatd'"),
        (("store/order/created", "--store", "nothere"), "no store 'nothere' in the simulator"),
    ],
)
def test_an_unknown_scope_or_store_exits_1_and_fires_nothing(
    bigcommerce: ServedApp, sim: SimulatorState, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    result = fire(bigcommerce.url, tmp_path, *args)
    assert result.exit_code == 1
    assert says in result.output and result.output.count("\n") == 1, result.output
    assert sim.event_counter == 0 and sim.stores["abc123"].orders == [] and sim.deliveries == []


def test_no_simulator_running_or_configured_exits_1_with_a_line_saying_so(
    tmp_path: Path,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = fire(nobody, tmp_path, "store/order/created", "--store", "abc123")
    assert result.exit_code == 1
    assert result.output == (
        f"error: no simulator answers at {nobody}: start it with `make run` or `bcapp simulator`\n"
    )
    credentials = {"BC_CLIENT_ID": "real-client-id", "BC_CLIENT_SECRET": "real-client-secret"}
    args = ("store/order/created", "--store", "abc123")
    with_credentials = fire(nobody, tmp_path, *args, **credentials)
    assert with_credentials.exit_code == 1 and with_credentials.output.count("\n") == 1
    assert "no simulator in this configuration" in with_credentials.output
    assert "real-client-secret" not in with_credentials.output


@pytest.mark.parametrize(
    ("headers", "data", "status"),
    [
        ({"Content-Type": "text/plain"}, '{"scope": "store/order/created"}', 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "scope=store/order/created", 415),
        ({"Origin": "http://evil.example"}, None, 403),
        ({}, "[]", 400),
    ],
)
def test_the_endpoint_refuses_what_a_web_page_could_send(
    bigcommerce: ServedApp,
    sim: SimulatorState,
    headers: dict[str, str],
    data: str | None,
    status: int,
) -> None:
    """A page the developer opens could post to the loopback simulator: a form cannot send
    JSON, and a script's JSON post carries its Origin."""
    url = bigcommerce.url + EVENTS_PATH
    if data is None:
        event = {"scope": "store/order/created", "store": "abc123"}
        answer = requests.post(url, json=event, headers=headers, timeout=5)
    else:
        sent = {"Content-Type": "application/json"} | headers
        answer = requests.post(url, data=data, headers=sent, timeout=5)
    assert answer.status_code == status and answer.json()["error"]
    assert sim.event_counter == 0 and sim.stores["abc123"].orders == []


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/", timeout=2).ok
    except requests.ConnectionError:
        return False


def test_bcapp_simulator_still_runs_the_simulator_and_event_reaches_it(tmp_path: Path) -> None:
    """The command became a group: without a subcommand it serves, as `make run` starts it."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "BCAPP_ENV": "development",
        "BCAPP_INSTANCE_DIR": str(tmp_path),
        "BCAPP_RECEIVERS": "",
        "PORT": str(port - 1),
    }
    command = [sys.executable, "-m", "bcapp.cli", "simulator", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://localhost:{port}"
        wait_until(lambda: process.poll() is not None or _answers(url), timeout=30, what="it")
        assert "demo1234" in requests.get(url + "/", timeout=5).text
        result = fire(url, tmp_path, "store/product/updated", "--store", "demo1234")
        assert result.exit_code == 0, result.output
        assert result.output.startswith("store/product/updated #1 on demo1234: sent to 0 hook(s)")
        kept = json.loads((tmp_path / "simulator.json").read_text())
        assert kept["event_counter"] == 1, "kept for the next run"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_help_and_the_docs_name_exactly_the_scopes_it_fires() -> None:
    from bcapp.simulator.events import FIRED

    def named(text: str) -> set[str]:
        found: set[str] = set()
        for token in re.findall(r"store/[\w/{},]+", text):
            parts = re.split(r"(\{[^}]*\})", token)
            options = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
            found |= {"".join(choice) for choice in itertools.product(*options)}
        return found

    shown = CliRunner().invoke(main, ["simulator", "event", "--help"]).output
    scopes_part = shown.split("SCOPE is", 1)[1].split("The event", 1)[0]
    assert named(scopes_part) == set(FIRED)
    docs = (REPO / "docs/simulator.md").read_text()
    assert named(docs.split("fires these scopes:", 1)[1].split("\n\n", 1)[0]) == set(FIRED)
