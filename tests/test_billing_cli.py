"""`bcapp billing` and the refusals around Unified Billing: off without its settings, a token
BigCommerce refuses, a budget spent (the purchase then shows as being confirmed), partial
settings, and never the token in any output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from prometheus_client import REGISTRY

from bcapp import billing
from bcapp.billing.account_api import BudgetSpent
from bcapp.billing.config import BillingSettings
from bcapp.cli import main
from bcapp.clock import ManualClock
from bcapp.errors import ConfigurationError
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator import billing as sim_billing
from tests.service.test_lifecycle import DEFAULT_SCOPE, install
from tests.test_billing import checkout_input
from tests.test_cli import cli_env


@pytest.fixture(autouse=True)
def declared_plans() -> None:
    billing.plan("pro", level="Pro", price="29.99", interval="MONTH", trial_days=14)


def run(settings: Settings, tmp_path: Path, sim: SimulatorState, *args: str, **env: str) -> Result:
    billing_env = {
        "BC_PARTNER_ACCOUNT_UUID": sim.account_uuid,
        "BC_ACCOUNT_API_TOKEN": sim.account_api_token,
        "BC_APP_ID": str(sim.app_id),
    }
    given = cli_env(settings, tmp_path) | billing_env | env
    result = CliRunner().invoke(main, ["billing", *args], env=given)
    assert sim.account_api_token not in result.output
    return result


def test_check_lists_the_plans_and_proves_the_token(
    settings: Settings, tmp_path: Path, sim: SimulatorState
) -> None:
    result = run(settings, tmp_path, sim, "check")
    assert result.exit_code == 0, result.output
    assert "plan pro: level 'Pro', 29.99 USD / MONTH, 14-day trial" in result.output
    assert "the Account API answered" in result.output
    assert sim.account_api_calls == 1
    wrong = run(settings, tmp_path, sim, "check", BC_ACCOUNT_API_TOKEN="not-the-token-1234")
    assert wrong.exit_code == 1
    assert "You do not have permission to do this operation." in wrong.output


def test_billing_off_or_half_configured_is_refused_by_name(
    settings: Settings, tmp_path: Path, sim: SimulatorState
) -> None:
    off = CliRunner().invoke(main, ["billing", "sync"], env=cli_env(settings, tmp_path))
    assert off.exit_code == 1 and "Unified Billing is off" in off.output
    half = run(settings, tmp_path, sim, "sync", BC_APP_ID="")
    assert half.exit_code == 1 and "BC_APP_ID unset" in half.output
    with pytest.raises(ConfigurationError, match="BC_PARTNER_ACCOUNT_UUID must be"):
        Settings.from_env(cli_env(settings, tmp_path) | {
            "BC_PARTNER_ACCOUNT_UUID": "partner", "BC_ACCOUNT_API_TOKEN": "t" * 20,
            "BC_APP_ID": "1"})
    assert sim.account_api_calls == 0


def test_status_and_cancel_from_the_command_line(
    make_service: Callable[..., Bcapp],
    settings: Settings,
    tmp_path: Path,
    sim: SimulatorState,
    clock: ManualClock,
) -> None:
    service = make_service()
    install(service, sim, scope=f"{DEFAULT_SCOPE} store_v2_information")
    none = run(settings, tmp_path, sim, "status", "abc123")
    assert none.exit_code == 0 and "abc123: no subscription" in none.output
    refused = run(settings, tmp_path, sim, "cancel", "abc123")
    assert refused.exit_code == 1 and "The store has no active plan." in refused.output
    assert run(settings, tmp_path, sim, "status", "ABC!").exit_code == 1
    bought = sim_billing.create_checkout(sim, checkout_input(sim, "Pro"), clock.now())
    sim_billing.approve(sim, bought.id)
    synced = run(settings, tmp_path, sim, "sync")
    assert synced.exit_code == 0 and "1 changed" in synced.output, synced.output
    assert "abc123: Pro ACTIVE, 9.00 USD / MONTH" in run(settings, tmp_path, sim, "status").output
    cancelled = run(settings, tmp_path, sim, "cancel", "abc123")
    assert cancelled.exit_code == 0 and "abc123: Pro CANCELLED" in cancelled.output
    status = 'bcapp_subscriptions{status="ACTIVE"} 1.0'
    assert status in _metrics()


def test_a_return_over_budget_is_being_confirmed_and_the_sweep_finishes_it(
    make_service: Callable[..., Bcapp], sim: SimulatorState, clock: ManualClock
) -> None:
    config = BillingSettings(sim.account_uuid, sim.account_api_token, sim.app_id,
                             hourly_budget=3, interactive_reserve=1)
    service = make_service(billing=config)
    install(service, sim, scope=f"{DEFAULT_SCOPE} store_v2_information")
    assert service.billing is not None
    service.billing.checkout_url("abc123", "pro")  # 1 call
    [checkout] = sim.checkouts.values()
    sim_billing.approve(sim, checkout.id)
    service.billing.probe()
    service.billing.probe()  # the hour's three calls are spent
    with pytest.raises(BudgetSpent) as spent:
        service.billing.probe()
    assert spent.value.status == 503 and spent.value.retry_after is not None
    calls = sim.account_api_calls
    status = service.billing.status("abc123")
    assert status.confirming and status.subscription is None
    assert sim.account_api_calls == calls, "over budget: nothing sent"
    assert "bcapp_account_api_calls_total{outcome=\"over_budget\"}" in _metrics()
    clock.advance(3601)
    assert service.billing.sweep().changed == 1
    done = service.billing.status("abc123")
    assert not done.confirming and done.subscription is not None
    assert done.subscription.level == "Pro"


def _metrics() -> str:
    from prometheus_client import generate_latest

    return generate_latest(REGISTRY).decode()


def test_check_says_whether_billing_is_on_without_its_token(
    settings: Settings, tmp_path: Path, sim: SimulatorState
) -> None:
    env = cli_env(settings, tmp_path) | {
        "BC_PARTNER_ACCOUNT_UUID": sim.account_uuid,
        "BC_ACCOUNT_API_TOKEN": sim.account_api_token,
        "BC_APP_ID": str(sim.app_id),
    }
    on = CliRunner().invoke(main, ["check"], env=env)
    assert f"unified billing: app {sim.app_id}, partner account {sim.account_uuid}" in on.output
    assert sim.account_api_token not in on.output
    off = CliRunner().invoke(main, ["check"], env=cli_env(settings, tmp_path))
    assert "unified billing: off" in off.output
