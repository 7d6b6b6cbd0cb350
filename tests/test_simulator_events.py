"""The simulator's store events (issue 18, Build 6): the panel's buttons deliver Standard
Webhooks to the app's hooks of the scope, duplicates as a knob, BigCommerce's retries (in
compressed time) and the deactivation of a hook whose deliveries all fail. Issue 27, Build 8:
no event repeats an earlier run's after a restart; the panel lists each delivery's answer and
time and sends one again."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bcapp import webhooks
from bcapp.settings import Settings
from bcapp.simulator import ServedApp, SimulatorState, events, persistence
from bcapp.simulator.state import SimDelivery, SimHook
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


# --- issue 27, Build 8: no false duplicates after a restart; the delivery log and its resend --


def restarted(sim: SimulatorState, kept: Path) -> SimulatorState:
    """The simulator as `make run` starts it again: a new process reading the kept world."""
    persistence.save(sim, kept)
    again = SimulatorState(sim.client_id, sim.client_secret, sim.redirect_uri, sim.app_url)
    assert persistence.load(again, kept)
    return again


def test_event_hashes_and_ids_never_repeat_across_restarts(
    sim: SimulatorState, tmp_path: Path
) -> None:
    """After a restart the counter began at 1 again: the same `hash` (the intake's duplicate
    key) and the same record ids as the first run's events."""
    first = events.payload(sim, "abc123", "store/product/updated", "product")
    first_order, _ = events.fire(sim, "abc123", "store/order/created")
    again = restarted(sim, tmp_path / "simulator.json")
    second = events.payload(again, "abc123", "store/product/updated", "product")
    second_order, _ = events.fire(again, "abc123", "store/order/created")
    assert second["hash"] != first["hash"]
    assert second["data"]["id"] > first["data"]["id"] and second_order > first_order

    forgotten = SimulatorState(sim.client_id, sim.client_secret)  # its file deleted meanwhile
    forgotten.add_store("abc123")
    fresh = events.payload(forgotten, "abc123", "store/product/updated", "product")
    assert fresh["data"]["id"] == first["data"]["id"], "numbering starts over, as asked"
    assert fresh["hash"] != first["hash"], "but the hash is this boot's own"


def test_a_restarted_simulators_new_order_runs_the_handler(
    world: dict[str, Any], sim: SimulatorState, orders_seen: list[int], tmp_path: Path
) -> None:
    with running_worker(service_of(world["app"])):
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 2, what="the subscriptions")
        assert requests.post(world["panel"] + "/stores/abc123/events/order", timeout=10).ok
        wait_until(lambda: orders_seen == [126], what="the first run's order")
        again = restarted(sim, tmp_path / "simulator.json")
        assert events.fire(again, "abc123", "store/order/created") == (127, 1)
        wait_until(lambda: orders_seen == [126, 127], what="the restarted simulator's order")
    assert [delivery.status for delivery in again.deliveries] == [200]


def test_the_panel_lists_each_delivery_and_sends_one_again(
    world: dict[str, Any], sim: SimulatorState, orders_seen: list[int]
) -> None:
    panel = world["panel"]
    with running_worker(service_of(world["app"])):
        wait_until(lambda: len(sim.stores["abc123"].hooks) == 2, what="the subscriptions")
        assert requests.post(panel + "/stores/abc123/events/order", timeout=10).ok
        wait_until(lambda: orders_seen == [126], what="the handler")
        # The simulator records a delivery once its POST returns, which may be after the
        # worker ran the handler the answer queued.
        wait_until(lambda: sim.deliveries, what="the delivery in the simulator's log")
        [first] = sim.deliveries
        page = requests.get(panel + "/", timeout=10).text
        row = re.search(r'<tr data-delivery="1">(.*?)</tr>', page, re.S)
        assert row is not None, page
        sent_at = time.strftime("%H:%M:%S", time.gmtime(first.at))
        for shown in (sent_at, "store/order/created", first.webhook_id, 'data-answer="200"'):
            assert shown in row.group(1)

        resent = requests.post(panel + "/deliveries/1/resend", timeout=10)
        assert resent.status_code == 200 and "sent again: app answered 200" in resent.text
        assert len(sim.deliveries) == 2
        again = sim.deliveries[1]
        assert (again.webhook_id, again.body, again.status) == (first.webhook_id, first.body, 200)
        assert 'data-delivery="2"' in resent.text
    assert orders_seen == [126], "the intake took it as that delivery again: handled once"


@pytest.mark.parametrize(
    ("path", "headers", "status", "says"),
    [
        ("/deliveries/9/resend", {}, 404, "no webhook delivery #9"),
        ("/deliveries/1/resend", {"Origin": "http://evil.example"}, 403, "its own pages only"),
        ("/stores/abc123/uninstall", {"Origin": "http://evil.example"}, 403, "its own pages only"),
        ("/stores/abc123/events/order", {"Origin": "null"}, 403, "its own pages only"),
    ],
)
def test_a_resend_of_nothing_or_a_post_from_another_origin_changes_nothing(
    bigcommerce: ServedApp,
    sim: SimulatorState,
    path: str,
    headers: dict[str, str],
    status: int,
    says: str,
) -> None:
    token = sim.grant_token("abc123", "store_v2_information_read_only")
    sim.deliveries.append(SimDelivery(1, "http://127.0.0.1:9/hooks", 500, 0, "msg_1", "{}"))
    form = {"user_id": "1"}
    refused = requests.post(bigcommerce.url + path, data=form, headers=headers, timeout=10)
    assert refused.status_code == status and says in refused.text
    assert "Back to the control panel" in refused.text
    assert len(sim.deliveries) == 1 and sim.stores["abc123"].access_token == token
    assert sim.stores["abc123"].orders == [] and sim.event_counter == 0


def test_the_panels_own_pages_may_post(bigcommerce: ServedApp, sim: SimulatorState) -> None:
    own = {"Origin": bigcommerce.url}
    url = bigcommerce.url + "/stores/abc123/events/order"
    answer = requests.post(url, headers=own, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert [order["id"] for order in sim.stores["abc123"].orders] == [126]
