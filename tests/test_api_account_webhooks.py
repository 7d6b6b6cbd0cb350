"""Webhooks and App Extensions of a store kept through its own API account (fourth review, M2
and M3), against the simulator over HTTP.

The account's token is the merchant's and often shared with other tools: bcapp moves, deletes
or rewrites only what it created. Hooks made with that token belong to the account, so
BigCommerce (and the simulator) signs their deliveries with the account's client secret: the
intake verifies them with that secret, kept sealed, and an account stored without its secret
is not subscribed at all, which `stores show`, `stores add` and reconcile say.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from bcapp import extensions, webhooks
from bcapp.cli import main
from bcapp.service.api_accounts import credentials
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.control_panel import credentials_text
from bcapp.simulator.signing import standard_webhook_headers
from bcapp.simulator.state import SimApiAccount, SimHook
from tests.conftest import service_of
from tests.servers import app_beside_simulator
from tests.test_cli import cli_env
from tests.test_simulator_events import orders_seen
from tests.workers import running_worker, wait_until

SCOPES = "store_v2_information_read_only store_v2_products_read_only store_app_extensions_manage"
TOOL_AT_BCAPPS_PATH = "https://other-tool.example/bigcommerce/webhooks"
OLD = "https://old.example/bigcommerce/webhooks"
__all__ = ["orders_seen"]  # the fixture, used below
NEW = "https://new.example/bigcommerce/webhooks"


def keep_account(service: Bcapp, sim: SimulatorState, with_secret: bool = True) -> SimApiAccount:
    """Create an API account in the simulated store and keep it as `bcapp stores add` does."""
    account = sim.create_api_account("abc123", "Shared", SCOPES)
    api_path = f"{service.settings.api_url}/stores/abc123/v3/"
    secret = account.client_secret if with_secret else None
    taken = credentials(api_path, account.access_token, account.client_id, secret, "Shared")
    missing = service.operations.check_api_account(taken)
    service.operations.store_api_account(taken, missing)
    return account


def hooks(sim: SimulatorState) -> list[tuple[int, str, str, bool]]:
    return sorted((h.id, h.scope, h.destination, h.is_active) for h in sim.stores["abc123"].hooks)


@pytest.fixture
def world(settings: Settings, sim: SimulatorState) -> Iterator[dict[str, Any]]:
    """The app and the simulator, each served over HTTP."""
    with app_beside_simulator(settings, sim) as (app, panel_url):
        yield {"app": app, "panel": panel_url, "service": service_of(app)}


def test_deliveries_for_an_api_account_store_are_verified_with_its_own_secret(
    world: dict[str, Any], sim: SimulatorState, orders_seen: list[int]
) -> None:
    """M3: the simulator signs each hook's deliveries with its owner's secret (the account's
    here); the intake, which knew only the app's secrets, answered every one 401."""
    service: Bcapp = world["service"]
    keep_account(service, sim)
    report = service.operations.reconcile(only="abc123")
    assert report.hooks == ["store abc123: created store/app/uninstalled, store/order/created"]
    with running_worker(service):
        assert requests.post(world["panel"] + "/stores/abc123/events/order", timeout=10).ok
        wait_until(lambda: orders_seen == [126], what="the handler of the account's delivery")
    assert [delivery.status for delivery in sim.deliveries] == [200]


def test_an_account_secret_vouches_for_its_own_store_only(
    world: dict[str, Any], sim: SimulatorState
) -> None:
    """A delivery signed with store abc123's account secret but naming another store is
    refused (401), as one naming abc123 and signed with a stranger's secret is."""
    service: Bcapp = world["service"]
    account = keep_account(service, sim)
    client = world["app"].test_client()
    now = int(service.clock.now())

    def post(store_hash: str, secret: str) -> int:
        body = json.dumps(
            {"scope": "store/order/created", "producer": f"stores/{store_hash}",
             "data": {"type": "order", "id": 5}, "hash": f"h-{store_hash}-{secret[:4]}",
             "created_at": now}
        )
        headers = standard_webhook_headers(secret, f"msg_{store_hash}{secret[:6]}", now, body)
        return int(client.post("/bigcommerce/webhooks", data=body, headers=headers).status_code)

    assert post("other1", account.client_secret) == 401
    assert post("abc123", "a-stranger-secret-of-enough-length") == 401
    assert post("abc123", account.client_secret) == 200


def test_an_account_kept_without_its_secret_is_not_subscribed_and_says_so(
    world: dict[str, Any], sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    service: Bcapp = world["service"]
    account = sim.create_api_account("abc123", "No secret", SCOPES)
    text = credentials_text(account, f"{service.settings.api_url}/stores/abc123/v3/")
    text = "\n".join(line for line in text.splitlines() if "CLIENT SECRET" not in line)
    env = cli_env(settings, tmp_path) | {"BC_API_URL": service.settings.api_url}
    added = CliRunner().invoke(main, ["stores", "add", "--from-file", "-"], input=text, env=env)
    assert added.exit_code == 0, added.output
    assert "webhooks not subscribed: the API account's client secret was not given" in added.output
    reconciled = CliRunner().invoke(main, ["reconcile", "--store", "abc123"], env=env)
    assert reconciled.exit_code == 0, reconciled.output
    assert "not subscribed: the API account's client secret was not given" in reconciled.output
    assert sim.stores["abc123"].hooks == [], "nothing subscribed"
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=env).output
    assert "webhooks: not subscribed" in shown
    assert account.access_token not in added.output + reconciled.output + shown


def test_with_a_shared_token_only_what_bcapp_created_is_moved_or_deleted(
    make_service: Any, sim: SimulatorState
) -> None:
    """M2: with a store-level account's token, another tool's hooks (at bcapp's path on its
    own host, or at bcapp's former destination) and App Extensions are left alone; bcapp's own
    are kept true: moved from the former APP_URL, deleted when no longer declared."""
    extensions.add(model="ORDERS", context="PANEL", url="/orders/${id}", label="Labels")

    def product_updated(event: webhooks.Event) -> None:
        pass

    webhooks.on("store/product/updated")(product_updated)
    old = make_service(app_url="https://old.example")
    account = keep_account(old, sim)
    store = sim.stores["abc123"]
    token = account.access_token
    # Another tool on the same token: a hook at bcapp's path on its own host, an extension.
    store.hooks.append(SimHook(901, "store/app/uninstalled", TOOL_AT_BCAPPS_PATH, True, token))
    store.app_extensions.append(
        {"id": "bc/store/appExtension/900", "token": token, "context": "LINK",
         "model": "PRODUCTS", "url": "/tool/${id}",
         "label": {"defaultValue": "Tool", "locales": []}}
    )
    made = old.operations.reconcile(only="abc123")
    assert made.hooks == [
        "store abc123: created store/app/uninstalled, store/product/updated; "
        "App Extensions created ORDERS /orders/${id}"
    ]
    # The tool subscribes at bcapp's (soon former) destination too.
    store.hooks.append(SimHook(902, "store/customer/created", OLD, True, token))

    extensions._declared.clear()  # the new release declares neither the extension ...
    webhooks.withdraw(webhooks.name_of(product_updated))  # ... nor the product handler
    new = make_service(app_url="https://new.example", previous_app_urls=("https://old.example",))
    report = new.operations.reconcile(only="abc123")
    assert report.hooks == [
        "store abc123: moved store/app/uninstalled; deleted store/product/updated; "
        f"left alone (not created by bcapp) store/customer/created at {OLD}; "
        "App Extensions deleted ORDERS /orders/${id}"
    ]
    assert hooks(sim)[-2:] == [
        (901, "store/app/uninstalled", TOOL_AT_BCAPPS_PATH, True),
        (902, "store/customer/created", OLD, True),
    ], "the other tool's hooks neither moved nor deleted"
    assert [hook[1:3] for hook in hooks(sim)[:-2]] == [("store/app/uninstalled", NEW)]
    assert [e["id"] for e in store.app_extensions] == ["bc/store/appExtension/900"], (
        "the other tool's App Extension untouched; bcapp's own undeclared one deleted"
    )
    again = new.operations.reconcile(only="abc123")
    assert again.hooks == [
        f"store abc123: left alone (not created by bcapp) store/customer/created at {OLD}"
    ]
