"""Unified Billing's configuration: the partner account's Account API credentials.

`BC_PARTNER_ACCOUNT_UUID`, `BC_ACCOUNT_API_TOKEN` (an account-level API account of the account
that owns the app: never logged, never shown) and `BC_APP_ID` (the app's id in the Developer
Portal) turn billing on together; with none of them billing is off. In development against the
local simulator they are made up and kept under instance/ like the client secret, so the
example's plans page works in `make run`. The Account API allows 70 requests an hour for the
whole app: bcapp keeps below `BCAPP_BILLING_HOURLY_BUDGET` (60), of which the periodic sweep
may use all but `BCAPP_BILLING_INTERACTIVE_RESERVE` (20): checkouts, cancels and confirmations.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bcapp.envvars import as_int, kept_secret
from bcapp.errors import ConfigurationError

NAMES = ("BC_PARTNER_ACCOUNT_UUID", "BC_ACCOUNT_API_TOKEN", "BC_APP_ID")
DEVELOPMENT_APP_ID = 1234
ACCOUNT_API_LIMIT = 70  # requests an hour for every endpoint under /accounts
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{8,1024}")


@dataclass(frozen=True)
class BillingSettings:
    """The Account API's credentials and how much of its hourly limit bcapp spends."""

    partner_account_uuid: str
    account_api_token: str = field(repr=False)
    app_id: int
    hourly_budget: int = 60
    interactive_reserve: int = 20
    sweep_seconds: int = 600  # how often beat runs the sweep

    @property
    def product_id(self) -> str:
        """The app as the Account API names it."""
        return f"bc/account/product/{self.app_id}"

    def endpoint(self, api_url: str) -> str:
        """`{BC_API_URL}/accounts/{partner uuid}/graphql`."""
        return f"{api_url.rstrip('/')}/accounts/{self.partner_account_uuid}/graphql"


def billing_from(
    env: Mapping[str, str], instance_dir: Path, simulated: bool
) -> BillingSettings | None:
    """Billing's settings, None when off; ConfigurationError naming the variable."""
    given = [name for name in NAMES if env.get(name, "").strip()]
    if not given and not simulated:
        return None
    if given and len(given) < len(NAMES):
        missing = ", ".join(name for name in NAMES if name not in given)
        raise ConfigurationError(
            f"Unified Billing needs {', '.join(NAMES)} together: {missing} unset"
        )
    if given:
        partner = env["BC_PARTNER_ACCOUNT_UUID"].strip().lower()
        token = env["BC_ACCOUNT_API_TOKEN"].strip()
        app_id_text = env["BC_APP_ID"].strip()
    else:  # the local simulator: made up once, kept, and seeded into the simulator
        partner = kept_secret(instance_dir, "partner_account_uuid", lambda: str(uuid.uuid4()))
        token = kept_secret(instance_dir, "account_api_token")
        app_id_text = str(DEVELOPMENT_APP_ID)
    if not _UUID.fullmatch(partner):
        raise ConfigurationError("BC_PARTNER_ACCOUNT_UUID must be the partner account's UUID")
    if not _TOKEN.fullmatch(token):
        raise ConfigurationError("BC_ACCOUNT_API_TOKEN is not an account-level API token")
    if not (app_id_text.isascii() and app_id_text.isdigit()) or not 0 < int(app_id_text) < 10**12:
        raise ConfigurationError("BC_APP_ID must be the app's numeric id (Developer Portal)")
    budget = as_int(env, "BCAPP_BILLING_HOURLY_BUDGET", 60, low=2, high=ACCOUNT_API_LIMIT - 1)
    reserve = as_int(env, "BCAPP_BILLING_INTERACTIVE_RESERVE", 20, low=1, high=budget - 1)
    sweep = as_int(env, "BCAPP_BILLING_SWEEP_SECONDS", 600, low=60, high=86400)
    return BillingSettings(partner, token, int(app_id_text), budget, reserve, sweep)


def simulator_seed(config: BillingSettings | None) -> dict[str, Any]:
    """What the local simulator must know to play the partner's Account API for this app
    (`seeded_state`'s keyword arguments): nothing when billing is off."""
    if config is None:
        return {}
    return {
        "app_id": config.app_id,
        "account_api_token": config.account_api_token,
        "account_uuid": config.partner_account_uuid,
    }
