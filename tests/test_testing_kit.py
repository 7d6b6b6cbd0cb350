"""bcapp's test kit (bcapp/testing/) used as a developer uses it, on tests/kit/shop.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bcapp.clock import ManualClock
from bcapp.simulator.state import SimulatorState
from bcapp.testing import Delivery, SimulatedStore
from tests.kit import shop


@pytest.fixture
def bc_app_factory() -> Callable[[], Flask]:
    """The developer's factory (what BCAPP_APP names in their project)."""
    shop.seen_orders.clear()
    return shop.create_app


def test_the_store_is_installed_with_exactly_the_declared_scopes(
    bc_store: SimulatedStore, bc_simulator: SimulatorState
) -> None:
    granted = set(bc_simulator.stores[bc_store.hash].scopes.split())
    assert granted == {"store_v2_information_read_only", "store_v2_orders_read_only"}


def test_a_client_opened_as_the_owner_sees_an_app_page(bc_client: FlaskClient) -> None:
    response = bc_client.get("/orders/summary")
    assert response.status_code == 200
    assert "hello owner@teststore1.test" in response.get_data(as_text=True)


def test_a_client_opened_as_staff_is_that_user(bc_open: Callable[..., FlaskClient]) -> None:
    response = bc_open(user_id=2).get("/orders/summary")
    assert "hello staff@teststore1.test" in response.get_data(as_text=True)


def test_a_page_without_a_session_is_refused(bc_app: Flask) -> None:
    assert bc_app.test_client().get("/orders/summary").status_code == 401
    assert bc_app.test_client().get("/plain").get_data(as_text=True) == "no session needed"


def test_a_delivery_runs_the_handler_which_reads_the_store(
    bc_deliver: Callable[..., Delivery],
) -> None:
    delivery = bc_deliver("store/order/created", {"type": "order", "id": 101})
    assert delivery.status == 200
    assert delivery.outcomes == ("handled",)
    assert [order["id"] for order in shop.seen_orders] == [101]


def test_a_failing_handler_is_a_dead_letter_at_once(
    bc_deliver: Callable[..., Delivery], bc_app: Flask
) -> None:
    from bcapp.web.context import EXTENSION

    delivery = bc_deliver("store/product/updated", {"type": "product", "id": 7})
    assert delivery.outcomes == ("dead",)
    [letter] = bc_app.extensions[EXTENSION].dead_letters.failed()
    assert "cannot handle product 7" in letter.error


def test_a_scope_nobody_handles_runs_nothing(bc_deliver: Callable[..., Delivery]) -> None:
    assert bc_deliver("store/customer/updated", {"type": "customer", "id": 1}).outcomes == ()


def test_the_clock_moves_the_app_and_the_simulator_together(
    bc_deliver: Callable[..., Delivery],
    bc_clock: ManualClock,
    bc_simulator: SimulatorState,
    bc_app: Flask,
) -> None:
    """Three days on, a delivery signed by the simulator's time still passes the app's
    five-minute timestamp check: both read the test's clock."""
    from bcapp.web.context import EXTENSION

    before = bc_simulator.clock()
    bc_clock.advance(3 * 86400)
    assert bc_simulator.clock() == before + 3 * 86400
    assert bc_app.extensions[EXTENSION].clock.now() == bc_clock.now()
    assert bc_deliver("store/order/created", {"type": "order", "id": 102}).outcomes == (
        "handled",
    )


def test_the_simulator_refuses_a_call_outside_the_granted_scopes(
    bc_store: SimulatedStore, bc_app: Flask
) -> None:
    from bcapp.errors import ApiError
    from bcapp.web.context import EXTENSION

    api = bc_app.extensions[EXTENSION].stores.client(bc_store.hash)
    assert api.get(f"v2/orders/{101}")["id"] == 101  # declared: store_v2_orders_read_only
    with pytest.raises(ApiError, match="status_403"):
        api.get("v3/catalog/products")  # never declared, never granted


def test_a_page_calling_outside_its_scopes_names_the_cause(bc_client: FlaskClient) -> None:
    page = bc_client.get("/products")
    assert page.status_code == 502
    html = page.get_data(as_text=True)
    assert "BigCommerce refused the app this request" in html
    assert "bcapp.scopes.require" in html
