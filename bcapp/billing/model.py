"""A store's subscription as bcapp keeps it: read from the Account API, judged locally.

The Account API sends no webhooks (docs/billing.md): what a store has paid for is known only
by reading its subscription, so bcapp keeps each store's last known subscription and judges
access from it without asking BigCommerce on a page view: `ACTIVE` allows; `CANCELLED` allows
until `currentPeriodEnd` (the merchant paid for the period); `SUSPENDED` never does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

STATUSES = ("ACTIVE", "SUSPENDED", "CANCELLED")
SUBSCRIPTION = "bc/account/subscription/"
SCOPE = "bc/account/scope/"


@dataclass(frozen=True)
class Subscription:
    """One store's subscription to the app (times in Unix seconds; 0 where BigCommerce sent
    none)."""

    id: str
    status: str
    level: str  # the product level: which declared plan (`plans.of_level`)
    price: str  # "29.99" USD per interval
    interval: str
    current_period_end: int
    updated_at: int
    created_at: int = 0
    activation_date: int = 0  # when billing starts: after a trial, the trial's end

    def allows(self, now: float) -> bool:
        """Whether the store may use what this subscription pays for at `now`."""
        if self.status == "ACTIVE":
            return True
        return self.status == "CANCELLED" and now < self.current_period_end

    def ended(self, now: float) -> bool:
        """A cancelled subscription whose paid period is over (or one suspended)."""
        return not self.allows(now)

    def in_trial(self, now: float) -> bool:
        """Before billing starts: BigCommerce ends a cancelled trial at once."""
        return self.activation_date > now

    def as_json(self) -> str:
        """The subscription as Redis keeps it."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def of_json(cls, text: str | bytes | None) -> Subscription | None:
        """A kept subscription; None for nothing or anything unreadable."""
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None

    def changed_from(self, before: Subscription | None) -> str | None:
        """What changed since `before` ("created", "renewed", "plan_changed", "suspended",
        "cancelled", "reactivated"), or None when nothing a receiver cares about did."""
        if before is None or before.id != self.id:
            return "created"
        if before.status != self.status:
            return {"SUSPENDED": "suspended", "CANCELLED": "cancelled"}.get(
                self.status, "reactivated"
            )
        if (before.level, before.price, before.interval) != (self.level, self.price, self.interval):
            return "plan_changed"
        if self.current_period_end > before.current_period_end:
            return "renewed"
        return None


def from_node(node: Any) -> tuple[str, Subscription] | None:
    """(store hash, subscription) of a `subscriptions` node; None when it is not a store's
    subscription bcapp can read (logged by the caller)."""
    if not isinstance(node, dict):
        return None
    scope, product = node.get("scope") or {}, node.get("product") or {}
    price = node.get("pricePerInterval") or {}
    scope_id, subscription_id = str(scope.get("id", "")), str(node.get("id", ""))
    status = node.get("status")
    if not scope_id.startswith(SCOPE) or not subscription_id or status not in STATUSES:
        return None
    store_hash = scope_id.removeprefix(SCOPE)
    if not (store_hash.isascii() and store_hash.isalnum() and store_hash.islower()):
        return None
    return store_hash, Subscription(
        id=subscription_id,
        status=status,
        level=str(product.get("productLevel") or ""),
        price=str(price.get("value", "0")),
        interval=str(node.get("billingInterval") or ""),
        current_period_end=seconds(node.get("currentPeriodEnd")),
        updated_at=seconds(node.get("updatedAt")),
        created_at=seconds(node.get("createdAt")),
        activation_date=seconds(node.get("activationDate")),
    )


def seconds(moment: Any) -> int:
    """An ISO 8601 time of the Account API in Unix seconds (0 when absent or unreadable)."""
    if not isinstance(moment, str) or not moment:
        return 0
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def iso(moment: float) -> str:
    """Unix seconds as the Account API writes times."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
