"""Unified Billing's records in the simulated BigCommerce: checkouts and subscriptions, the
global ids that name them and the Account API's refusal messages (the rules that use them are
bcapp/simulator/billing.py's).
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86_400
PERIODS = {"ONCE": DAY, "MONTH": 30 * DAY, "QUARTER": 90 * DAY, "SEMIANNUAL": 182 * DAY,
           "ANNUAL": 365 * DAY}
CHECKOUT_VALID_SECONDS = DAY  # checkout links expire after 24 h, as on BigCommerce
# Global ids, as the Account API spells them.
ACCOUNT = "bc/account/account/"
PRODUCT = "bc/account/product/"
SCOPE = "bc/account/scope/"
CHECKOUT = "bc/account/checkout/"
SUBSCRIPTION = "bc/account/subscription/"
# BigCommerce's words (its Unified Billing example-queries page), and the simulator's own.
NO_PERMISSION = "You do not have permission to do this operation."
PRODUCT_NOT_SUPPORTED = "Product is not supported for your account."
SCOPE_NOT_OF_ACCOUNT = "Scope does not belong to account."
NO_ACTIVE_SUBSCRIPTION = "Could not find active subscription."
NO_TRIAL_ON_CHANGE = "Trial days cannot be added to existing subscriptions."
NO_CHANGE_IN_TRIAL = "Checkouts are not available for existing trial subscriptions."
NO_PRODUCT_CHANGE = "Product updates are not allowed for an existing subscription."
NO_SCOPE_CHANGE = "Scope updates are not allowed for an existing subscription."
UNPUBLISHED_PAID = "Unpublished apps can only create checkouts with a price of 0."
USD_ONLY = "Only USD is supported."
BAD_PRICE = "The price must be 0 or more, with at most 2 decimal places."
BAD_TRIAL = "Trial days must be 0 or more."
ONE_ITEM = "A checkout takes exactly one item."


class BillingError(Exception):
    """A refusal, with the message the Account API (or the checkout page) shows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class SimCheckout:
    """A checkout the app created; `subscription_id` is the plan change's subscription, or the
    new subscription once complete."""

    id: str  # a uuid: the global id is CHECKOUT + id
    account_uuid: str  # the merchant's
    store_hash: str
    product_id: int
    product_level: str | None
    price: str  # a decimal amount in USD, such as "29.99"
    interval: str
    trial_days: int
    redirect_url: str
    description: str
    created_at: float
    subscription_id: str | None = None
    changes_plan: bool = False
    status: str = "PENDING"  # PENDING, PROCESSING, COMPLETE
    approved_at: float | None = None


@dataclass
class SimSubscription:
    """A merchant's subscription to the app, created by a completed checkout."""

    id: str  # a uuid: the global id is SUBSCRIPTION + id
    seq: int  # creation order, for paging
    account_uuid: str
    store_hash: str
    product_id: int
    product_level: str
    price: str
    interval: str
    created_at: float
    updated_at: float
    activation_date: float  # when billing begins: the end of the trial, if any
    current_period_end: float
    status: str = "ACTIVE"  # ACTIVE, SUSPENDED, CANCELLED
    cancelled_at: float | None = None


def local_id(global_id: object, prefix: str) -> str | None:
    """The part of a global id after `prefix`; None when it is not one of that kind."""
    if isinstance(global_id, str) and global_id.startswith(prefix) and global_id != prefix:
        return global_id[len(prefix) :]
    return None
