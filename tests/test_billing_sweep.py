"""The billing sweep within the Account API's budget (issue 28, acceptance 2): 300 stores with
subscriptions cost one call per 50; sweeps started at once by two workers and the CLI stay
within bcapp's share of the hour (counted by the simulator), one sweeping and the others
skipping, and the reserve leaves room for a merchant's checkout."""

from __future__ import annotations

import threading
from collections.abc import Callable

from click.testing import CliRunner

from bcapp import billing
from bcapp.billing.config import BillingSettings
from bcapp.billing.service import SweepReport
from bcapp.cli import main
from bcapp.clock import ManualClock
from bcapp.models import Installation, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator import billing as sim_billing
from tests.test_billing import checkout_input
from tests.test_cli import cli_env

STORES = 300


def subscribed_stores(service: Bcapp, sim: SimulatorState, clock: ManualClock, count: int) -> None:
    """`count` installed stores, each with a subscription (made in process in the simulator,
    as many merchants would over time)."""
    installations = service._installations  # bcapp's own write path, as an install uses it
    for number in range(count):
        store_hash = f"s{number:04d}"
        sim.add_store(store_hash)
        record = Installation(store_hash, f"token-{number}", ScopeSet(frozenset()), 1, "o@x.io")
        installations.save_installation(record, StoreUser(1, "o@x.io"))
        sim.stores[store_hash].access_token = f"token-{number}"
        sim.stores[store_hash].scopes = "store_v2_information"
        clock.advance(1)
        checkout = sim_billing.create_checkout(sim, checkout_input(sim, "Pro", store_hash),
                                               clock.now())
        sim_billing.approve(sim, checkout.id)


def test_one_sweep_of_300_stores_costs_seven_calls_at_most_and_the_next_one(
    make_service: Callable[..., Bcapp], sim: SimulatorState, clock: ManualClock
) -> None:
    billing.plan("pro", level="Pro", price="9.00", interval="MONTH")
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id)
    service = make_service(billing=config)
    subscribed_stores(service, sim, clock, STORES)
    assert service.billing is not None
    report = service.billing.sweep()
    assert (report.read, report.changed, report.complete) == (STORES, STORES, True)
    assert report.calls == sim.account_api_calls <= 7
    kept = service.billing.status("s0123").subscription
    assert kept is not None and kept.level == "Pro" and kept.status == "ACTIVE"
    clock.advance(60)
    again = service.billing.sweep()
    assert (again.calls, again.changed) == (1, 0), "from the watermark: one call, nothing new"


def test_concurrent_sweeps_stay_within_the_budget_and_leave_the_reserve(
    make_service: Callable[..., Bcapp],
    sim: SimulatorState,
    clock: ManualClock,
    settings: Settings,
    tmp_path: object,
) -> None:
    billing.plan("pro", level="Pro", price="9.00", interval="MONTH")
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id,
                             hourly_budget=6, interactive_reserve=2)
    workers = [make_service(billing=config) for _ in range(2)]
    subscribed_stores(workers[0], sim, clock, STORES)  # 6 pages: more than the sweep's share
    reports: list[SweepReport] = []
    start = threading.Barrier(3)

    def sweep(service: Bcapp) -> None:
        start.wait()
        assert service.billing is not None
        reports.append(service.billing.sweep())

    threads = [threading.Thread(target=sweep, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    start.wait()
    env = cli_env(settings, tmp_path) | {  # type: ignore[arg-type]
        "BC_PARTNER_ACCOUNT_UUID": sim.account_uuid, "BC_ACCOUNT_API_TOKEN": sim.account_api_token,
        "BC_APP_ID": str(sim.app_id), "BCAPP_BILLING_HOURLY_BUDGET": "6",
        "BCAPP_BILLING_INTERACTIVE_RESERVE": "2",
    }
    cli = CliRunner().invoke(main, ["billing", "sync"], env=env)
    for thread in threads:
        thread.join(30)
    assert cli.exit_code == 0, cli.output
    ran = [report for report in reports if not report.skipped]
    assert len(ran) + ("skipped" not in cli.output) == 1, "one sweep at a time"
    assert sim.account_api_calls <= 4, "the sweep's share: the budget less the reserve"
    assert workers[1].billing is not None
    url = workers[1].billing.checkout_url("s0007", "pro")
    assert url.startswith("http"), "the reserve leaves room for a merchant's checkout"
    assert sim.account_api_calls <= 6
