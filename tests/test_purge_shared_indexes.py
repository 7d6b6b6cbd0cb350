"""A purged store leaves the indexes every store shares: its storefront origins (so no CORS
preflight is answered for it any more) and Unified Billing's statuses and pending ends; only the
record that it once subscribed stays (no second trial after a reinstall)."""

from __future__ import annotations

from collections.abc import Callable

from bcapp.billing.config import BillingSettings
from bcapp.clock import ManualClock
from bcapp.service.wiring import Bcapp
from bcapp.simulator import SimulatorState
from bcapp.simulator import billing as sim_billing
from tests.helpers import DEFAULT_SCOPE
from tests.service.test_lifecycle import GRACE, payload
from tests.service.test_lifecycle import install as install_service
from tests.test_billing import checkout_input

ORIGIN = "https://abc123.mybigcommerce.example"


def test_a_purge_forgets_the_store_in_the_shared_indexes(
    make_service: Callable[..., Bcapp], sim: SimulatorState, clock: ManualClock
) -> None:
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id)
    service = make_service(uninstall_grace_seconds=GRACE, billing=config)
    install_service(service, sim, scope=f"{DEFAULT_SCOPE} store_v2_information")
    assert ORIGIN in service.storefront.learn_origins(service.stores.client("abc123"))
    bought = sim_billing.create_checkout(sim, checkout_input(sim, "Pro"), clock.now())
    sim_billing.approve(sim, bought.id)
    billing = service.billing
    assert billing is not None and billing.sweep().changed == 1
    billing.cancel("abc123")  # waits in `ends` for its period's end
    records = billing.records
    assert records.count_by_status() == {"CANCELLED": 1}
    assert records.due_ends(clock.now() + 40 * 86400) == ["abc123"]
    assert service.storefront.allowed_origin(ORIGIN) == ORIGIN

    sim.revoke("abc123")
    service.callbacks.uninstall(service.callbacks.verify(payload(clock), None, "uninstall"))
    clock.advance(GRACE)
    assert service.operations.reconcile().purged == 1
    assert service.storefront.allowed_origin(ORIGIN) is None, "no preflight for a purged store"
    assert records.count_by_status() == {}
    assert records.due_ends(clock.now() + 40 * 86400) == []
    assert records.ever_subscribed("abc123"), "a reinstall is offered no second trial"
