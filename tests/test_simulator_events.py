"""The simulator's store events (issue 18, Build 6): the panel's buttons deliver Standard
Webhooks to the app's hooks of the scope, duplicates as a knob, BigCommerce's retries (in
compressed time) and the deactivation of a hook whose deliveries all fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bcapp import webhooks
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.state import SimHook
from tests.conftest import service_of
from tests.helpers import install
from tests.servers import app_beside_simulator, free_port
from tests.workers import running_worker, wait_until


@pytest.fixture
def orders_seen() -> list[int]:
    seen: list[int] = []

    def order_created(event: webhooks.Event) -> None:
        seen.append(event.data["id"])

    webhooks.on("store/order/created")(order_created)  # forgotten after the test (conftest.py)
    return seen


@pytest.fixture
def world(settings: Settings, sim: SimulatorState) -> Iterator[dict[str, Any]]:
    """The app and the simulator, each served over HTTP, the app installed."""
    with app_beside_simulator(settings, sim) as (app, panel_url):
        assert install(app.test_client(), sim).status_code == 302
        yield {"app": app, "panel": panel_url}


def test_create_an_order_reaches_the_handler_once_even_when_delivered_twice(
    world: dict[str, Any], sim: SimulatorState, orders_seen: list[int]
) -> None:
    with running_worker(service_of(world["app"])):
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 2, what="the subscriptions")
        page = requests.get(world["panel"] + "/", timeout=10).text
        assert "store/order/created</code>" in page and 'data-hook-state="active"' in page
        assert requests.post(world["panel"] + "/stores/abc123/events/order", timeout=10).ok
        wait_until(lambda: orders_seen == [126], what="the handler (the order it created)")
        assert [order["id"] for order in sim.stores["abc123"].orders] == [126]
        for duplicates in ("same-id", "new-id"):
            knobs = {"duplicates": duplicates, "clock_skew": "0", "app_scopes": sim.app_scopes}
            assert requests.post(world["panel"] + "/settings", data=knobs, timeout=10).ok
            requests.post(world["panel"] + "/stores/abc123/events/order", timeout=10)
        wait_until(lambda: len(sim.deliveries) == 5, what="five deliveries")
        wait_until(lambda: sorted(orders_seen) == [126, 127, 128], what="one run per event")
    assert sorted(delivery.status for delivery in sim.deliveries) == [200] * 5


def test_a_hook_whose_deliveries_all_fail_is_retried_then_deactivated(
    world: dict[str, Any], sim: SimulatorState
) -> None:
    sim.webhook_time_scale = 0.000005  # BigCommerce's 48 h of retries in under a second
    store = sim.stores["abc123"]
    dead_end = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens there
    store.hooks.append(
        SimHook(77, "store/product/updated", dead_end, True, store.access_token or "")
    )
    assert requests.post(world["panel"] + "/stores/abc123/events/product", timeout=10).ok
    wait_until(lambda: not store.hooks[-1].is_active, what="the deactivation")
    attempts = [each.status for each in sim.deliveries if each.destination == dead_end]
    assert attempts == [0] * 12, "the first delivery and BigCommerce's eleven retries"
    page = requests.get(world["panel"] + "/", timeout=10).text
    assert 'data-hook-state="deactivated"' in page


def test_a_hook_deactivated_in_the_panel_is_active_again_after_reconcile(
    world: dict[str, Any], sim: SimulatorState
) -> None:
    service = service_of(world["app"])
    with running_worker(service):
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 1, what="the subscription")
    [hook] = sim.stores["abc123"].hooks
    page = requests.get(world["panel"] + "/", timeout=10).text
    assert f'data-deactivate="{hook.id}"' in page
    deactivate = f"{world['panel']}/stores/abc123/hooks/{hook.id}/deactivate"
    assert requests.post(deactivate, timeout=10).ok and not hook.is_active
    assert 'data-hook-state="deactivated"' in requests.get(world["panel"] + "/", timeout=10).text
    report = service.operations.reconcile(only="abc123")
    assert report.hooks == ["store abc123: re-activated store/app/uninstalled"]
    assert [h.is_active for h in sim.stores["abc123"].hooks] == [True], "no duplicate"
