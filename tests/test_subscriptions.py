"""Webhook subscriptions kept true per store (issue 18, acceptance 4 and 5), against the
simulator over HTTP: created by a task after the install (the install does not wait for them),
re-activated after BigCommerce deactivated one, deleted when no longer declared, moved after an
APP_URL change named in APP_URL_PREVIOUS (and from nowhere else), and a hook of another
destination never touched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bcapp import webhooks
from bcapp.cli import main
from bcapp.errors import ConfigurationError
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.state import SimHook
from tests.service.test_lifecycle import install
from tests.test_cli import cli_env
from tests.workers import running_worker, wait_until

DESTINATION = "http://127.0.0.1:8000/bigcommerce/webhooks"


@pytest.fixture
def declared() -> Callable[[str], str]:
    """Declare a handler of a scope (forgotten after the test: conftest.py); its name."""

    def declare(scope: str) -> str:
        def handler(event: webhooks.Event) -> None:
            pass

        handler.__qualname__ = f"handler_of_{scope.replace('/', '_').replace('*', 'all')}"
        webhooks.on(scope)(handler)
        return webhooks.name_of(handler)

    return declare


def hooks_of(sim: SimulatorState) -> list[tuple[str, str, bool]]:
    store = sim.stores["abc123"]
    return sorted(
        (hook.scope, hook.destination, hook.is_active)
        for hook in store.hooks
        if hook.token == store.access_token
    )


def test_the_install_leaves_subscriptions_to_a_task_and_reconcile_keeps_them_true(
    service: Bcapp,
    sim: SimulatorState,
    declared: Callable[[str], str],
    settings: Settings,
    tmp_path: Path,
) -> None:
    declared("store/order/created")
    product = declared("store/product/*")
    install(service, sim)
    assert sim.stores["abc123"].hooks == [], "the install answered without subscribing"
    with running_worker(service):
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 3, what="the subscription task")
    assert hooks_of(sim) == [
        ("store/app/uninstalled", DESTINATION, True),
        ("store/order/created", DESTINATION, True),
        ("store/product/*", DESTINATION, True),
    ]
    store = sim.stores["abc123"]
    foreign = SimHook(
        900, "store/product/*", "https://elsewhere.example/hooks", True, store.access_token or ""
    )
    store.hooks.append(foreign)  # the app's own hook outside bcapp
    [order_hook] = [hook for hook in store.hooks if hook.scope == "store/order/created"]
    order_hook.is_active = False  # BigCommerce gave up after 48 h of failures
    webhooks.withdraw(product)  # the app no longer handles products

    env = cli_env(settings, tmp_path) | {"APP_URL": settings.app_url}
    result = CliRunner().invoke(main, ["reconcile", "--store", "abc123"], env=env)
    assert result.exit_code == 0, result.output
    assert "re-activated store/order/created" in result.output
    assert "deleted store/product/*" in result.output
    assert hooks_of(sim) == [
        ("store/app/uninstalled", DESTINATION, True),
        ("store/order/created", DESTINATION, True),
        ("store/product/*", "https://elsewhere.example/hooks", True),
    ], "re-activated without a duplicate; the product hook deleted; the foreign one kept"
    again = service.operations.reconcile(only="abc123")
    assert again.hooks == [] and len(store.hooks) == 3, "a second run changes nothing"


def test_hooks_on_a_former_app_url_move_to_the_new_one(
    make_service: Callable[..., Bcapp], sim: SimulatorState, declared: Callable[[str], str]
) -> None:
    declared("store/customer/updated")
    old = make_service(app_url="https://old.example")
    install(old, sim)
    with running_worker(old):
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 2, what="the first subscriptions")
    new = make_service(app_url="https://new.example", previous_app_urls=("https://old.example",))
    moved = new.operations.reconcile(only="abc123")
    assert moved.hooks == [
        "store abc123: moved store/app/uninstalled, store/customer/updated"
    ]
    assert {hook.destination for hook in sim.stores["abc123"].hooks} == {
        "https://new.example/bigcommerce/webhooks"
    }


def test_a_hook_at_bcapps_path_on_a_host_not_named_former_is_never_taken(
    make_service: Callable[..., Bcapp], sim: SimulatorState, declared: Callable[[str], str]
) -> None:
    """Fourth review, M2: any hook at `/bigcommerce/webhooks` on another host was taken for a
    former APP_URL of this app and re-pointed. Now only APP_URL_PREVIOUS's hosts are."""
    declared("store/customer/updated")
    install(make_service(app_url="https://other-system.example"), sim)
    store = sim.stores["abc123"]
    token = store.access_token or ""
    elsewhere = "https://other-system.example/bigcommerce/webhooks"
    store.hooks.append(SimHook(901, "store/customer/updated", elsewhere, True, token))
    new = make_service(app_url="https://new.example", previous_app_urls=("https://old.example",))
    report = new.operations.reconcile(only="abc123")
    assert report.hooks == [
        "store abc123: created store/app/uninstalled, store/customer/updated"
    ]
    assert sorted((hook.scope, hook.destination) for hook in store.hooks) == [
        ("store/app/uninstalled", "https://new.example/bigcommerce/webhooks"),
        ("store/customer/updated", "https://new.example/bigcommerce/webhooks"),
        ("store/customer/updated", elsewhere),
    ], "the other host's hook kept where it was"


def test_a_former_app_url_must_be_an_absolute_url(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="APP_URL_PREVIOUS must be an absolute"):
        Settings.from_env(cli_env(settings, tmp_path) | {"APP_URL_PREVIOUS": "old.example"})


def test_reconcile_names_the_domains_bigcommerce_blocks(
    service: Bcapp, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    install(service, sim)
    sim.blocked_domains.add("https://app.example.com")
    result = CliRunner().invoke(
        main, ["reconcile", "--store", "abc123"], env=cli_env(settings, tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "BigCommerce blocks webhooks to https://app.example.com for now" in result.output
