"""`bcapp billing`: Unified Billing from the command line (docs/billing.md). The Account API's
token is never printed; each command says how many of the hour's calls it may spend."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import click

from bcapp.billing.model import Subscription
from bcapp.billing.plans import declared
from bcapp.cli.common import echo, fail, moment, or_fail, service_or_exit
from bcapp.errors import BcappError
from bcapp.validation import STORE_HASH

if TYPE_CHECKING:
    from bcapp.billing.service import Billing
    from bcapp.service.wiring import Bcapp


@click.group()
def billing() -> None:
    """Unified Billing: plans, the Account API, the stores' subscriptions."""


def _deployment() -> tuple[Bcapp, Billing]:
    service = service_or_exit()
    if service.billing is None:
        fail("Unified Billing is off: set BC_PARTNER_ACCOUNT_UUID, BC_ACCOUNT_API_TOKEN and "
             "BC_APP_ID (docs/billing.md)")
    return service, service.billing


def _billing() -> Billing:
    return _deployment()[1]


@billing.command("check")
def billing_check() -> None:
    """Check the plans and the configuration, and prove the token with one Account API call."""
    service = _billing()
    plans = declared()
    if not plans:
        echo("warning: no plan is declared (billing.plan(...) in your app's module)")
    for plan in plans:
        trial = f", {plan.trial_days}-day trial" if plan.trial_days else ""
        echo(f"plan {plan.name}: level {plan.level!r}, {plan.price_text} USD / {plan.interval}"
             f"{trial}")
    config = service.settings
    echo(f"partner account: {config.partner_account_uuid}; app: {config.product_id}")
    echo(f"budget: {config.hourly_budget} Account API calls an hour (BigCommerce allows 70), "
         f"{config.interactive_reserve} kept for checkouts, cancels and confirmations")
    try:
        or_fail(service.probe)
    except BcappError as exc:
        fail(f"the Account API refused the check: {exc.detail}")
    echo("the Account API answered: the token, its account and its scopes work")


@billing.command("sync")
def billing_sync() -> None:
    """Read the subscriptions changed since the last sweep (one sweep at a time)."""
    report = or_fail(_billing().sweep)
    echo(report.summary())


@billing.command("status")
@click.argument("store_hash", required=False)
def billing_status(store_hash: str | None) -> None:
    """The kept subscription of one store, or of every store (no Account API call)."""
    service, found = _deployment()
    hashes = [_checked(store_hash)] if store_hash else or_fail(service.operations.list_stores)
    for each in hashes:
        kept = or_fail(functools.partial(found.records.get, each)).subscription
        echo(f"{each}: {_describe(kept)}")


@billing.command("cancel")
@click.argument("store_hash")
def billing_cancel(store_hash: str) -> None:
    """Cancel a store's subscription (access stays until its paid period's end)."""
    found = _billing()
    try:
        cancelled = or_fail(lambda: found.cancel(_checked(store_hash)))
    except BcappError as exc:
        fail(exc.detail)
    echo(f"{store_hash}: {_describe(cancelled)}")


def _checked(store_hash: str) -> str:
    if not STORE_HASH.fullmatch(store_hash):
        fail("a store hash holds only lowercase letters and digits")
    return store_hash


def _describe(kept: Subscription | None) -> str:
    if kept is None:
        return "no subscription"
    return (f"{kept.level} {kept.status}, {kept.price} USD / {kept.interval}, period ends "
            f"{moment(kept.current_period_end)}")
