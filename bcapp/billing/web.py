"""Unified Billing in the app's own pages: the gate, and the calls a view makes.

```python
@bp.get("/reports")
@app_page
@billing.requires_plan("pro", otherwise="/plans")
def reports(ctx: billing.PaidContext) -> str:
    return render_template("reports.html", plan=ctx.plan, subscription=ctx.subscription)
```

The gate reads the store's kept subscription (one Redis read; no Account API call on a page
view, except the one confirmation after a checkout, service.py) and lets the page through when
it allows one of the named plans (`ACTIVE`; `CANCELLED` until the paid period's end; never
`SUSPENDED`); otherwise it redirects, inside the app, to `otherwise`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from flask import redirect
from werkzeug.wrappers import Response

from bcapp.billing import plans
from bcapp.billing.model import Subscription
from bcapp.billing.service import Billing, BillingStatus
from bcapp.errors import BcappError, ConfigurationError
from bcapp.web.context import current as deployment
from bcapp.web.kit import AppContext

R = TypeVar("R")
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PaidContext(AppContext):
    """An app page's context behind `requires_plan`: the store's plan and subscription."""

    plan: plans.Plan
    subscription: Subscription


class BillingOff(BcappError):
    """Unified Billing is not configured in this deployment (503, logged once per call)."""

    status = 503
    title = "Billing is not set up"
    advice = "The app's operator has not configured billing yet. Please try again later."


def billing() -> Billing:
    """The current app's Unified Billing; BillingOff when it is not configured."""
    found = deployment().billing
    if found is None:
        log.error("Unified Billing is off: set BC_PARTNER_ACCOUNT_UUID, BC_ACCOUNT_API_TOKEN "
                  "and BC_APP_ID (docs/billing.md)")
        raise BillingOff("billing_off")
    return found


def requires_plan(*names: str, otherwise: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Let an `app_page` view through only for stores whose subscription allows one of the
    plans `names`; redirect to `otherwise` (a path of the app) for the others."""
    if not names:
        raise ConfigurationError("billing.requires_plan: name at least one plan")
    if not otherwise.startswith("/") or otherwise.startswith("//") or "\\" in otherwise:
        raise ConfigurationError("billing.requires_plan: otherwise is a path of the app, '/…'")

    def decorate(view: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(view)
        def gated(ctx: AppContext, *args: Any, **kwargs: Any) -> R | Response:
            if not isinstance(ctx, AppContext):
                raise TypeError("put @billing.requires_plan under @app_page")
            allowed = [found for found in map(_declared, names) if found is not None]
            service = deployment().billing
            if service is None or not allowed:  # misconfigured: logged, never a 500
                log.error("billing.requires_plan%s: billing is off or no such plan is declared",
                          names)
                return redirect(otherwise)
            subscription = service.status(ctx.store_hash).subscription
            plan = plans.of_level(subscription.level) if subscription else None
            now = service.now()
            if subscription is None or plan not in allowed or not subscription.allows(now):
                return redirect(otherwise)
            values = {item.name: getattr(ctx, item.name) for item in fields(AppContext)}
            paid = PaidContext(**values, plan=plan, subscription=subscription)
            return view(paid, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


def _declared(name: str) -> plans.Plan | None:
    try:
        return plans.named(name)
    except KeyError:
        return None


def status(store_hash: str) -> BillingStatus:
    """The store's kept subscription, and whether a purchase is still being confirmed."""
    return billing().status(store_hash)


def current(store_hash: str) -> Subscription | None:
    """The store's kept subscription (None: it never had one)."""
    return billing().status(store_hash).subscription


def checkout_url(store_hash: str, plan_name: str) -> str:
    """Where to send the merchant to buy `plan_name` (or change to it)."""
    return billing().checkout_url(store_hash, plan_name)


def cancel(store_hash: str) -> Subscription:
    """Cancel the store's subscription (access stays until its paid period's end)."""
    return billing().cancel(store_hash)
