"""Unified Billing as the app uses it: checkouts, the kept state, the sweep, cancels.

Nothing here calls the Account API on a page view, except once on the merchant's return from
a checkout (`status`): its 70 requests an hour are shared by every store (docs/billing.md).
What a store has paid for is read from the kept subscription (records.py). One sweep at a time
(a lock in Redis) reads every subscription changed since its watermark, 50 a page; every change
a process records (one WATCH/MULTI step: only one process records a given change) is announced
to the `@billing.on_change` receivers as a Celery task; a cancelled subscription's end is
announced once, when its paid period is over.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bcapp.billing import documents, plans
from bcapp.billing.account_api import AccountApi, BillingFailed
from bcapp.billing.config import BillingSettings
from bcapp.billing.events import announce
from bcapp.billing.model import SCOPE, SUBSCRIPTION, Subscription, from_node, iso, seconds
from bcapp.billing.records import RedisBillingRecords
from bcapp.clock import Clock
from bcapp.errors import ApiError, BcappError
from bcapp.metrics import SUBSCRIPTIONS

log = logging.getLogger(__name__)
CHECKOUT = "bc/account/checkout/"
CHECKOUT_SECONDS = 86400  # a checkout URL is valid 24 h
SWEEP_LOCK_SECONDS = 300
MAX_PAGES = 200


class BillingRefused(BcappError):
    """A billing request that cannot be made as asked (409): `detail` says why."""

    status = 409
    title = "This plan cannot be bought now"


@dataclass(frozen=True)
class BillingStatus:
    """A store's subscription as kept, and whether a purchase is still being confirmed."""

    subscription: Subscription | None
    confirming: bool = False


@dataclass
class SweepReport:
    """What one sweep did."""

    calls: int = 0
    read: int = 0
    changed: int = 0
    ended: int = 0
    complete: bool = True
    skipped: str = ""  # why it did not run (another sweep holds the lock)

    def summary(self) -> str:
        """One line for the CLI and the task's result."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        done = "" if self.complete else " (incomplete: the next sweep goes on)"
        return (f"{self.read} subscription(s) read in {self.calls} call(s), {self.changed} "
                f"changed, {self.ended} ended{done}")


class Billing:
    """Unified Billing for the stores of one deployment."""

    def __init__(
        self,
        settings: BillingSettings,
        api: AccountApi,
        records: RedisBillingRecords,
        clock: Clock,
        *,
        store_information: Callable[[str], Any],
        panel_url: Callable[[str], str],
        publish: Callable[[str, str, str, dict[str, Any]], None],
    ) -> None:
        self.settings = settings
        self.api = api
        self.records = records
        self._clock = clock
        self._store_information = store_information  # GET v2/store of an installed store
        self._panel_url = panel_url  # the store's control-panel base URL
        self._publish = publish  # queues one run of a task receiver (Tasks.publish_signal)

    def now(self) -> float:
        """Billing's time (the deployment's clock)."""
        return self._clock.now()

    def status(self, store_hash: str) -> BillingStatus:
        """The store's kept subscription; on the first view after a checkout, that checkout
        confirmed with one Account API call when the budget allows."""
        kept = self.records.get(store_hash)
        if kept.pending_checkout is None:
            return BillingStatus(kept.subscription)
        checkout_id, _, created = kept.pending_checkout.partition("|")
        if not created.isdigit() or self._clock.now() - int(created) > CHECKOUT_SECONDS:
            self.records.set_fields(store_hash, pending_checkout=None)
            return BillingStatus(kept.subscription)
        try:
            self._confirm(store_hash, checkout_id)
        except BcappError as exc:  # over budget, or BigCommerce failed: the sweep finishes it
            log.warning("store=%s: the checkout is not confirmed yet (%s)", store_hash, exc.reason)
            return BillingStatus(kept.subscription, confirming=True)
        return BillingStatus(self.records.get(store_hash).subscription)

    def _confirm(self, store_hash: str, checkout_id: str) -> None:
        variables = {"checkout": checkout_id, "filters": self._filters(store_hash)}
        data = self.api.call(documents.CONFIRM, variables, interactive=True)
        account = data.get("account") or {}
        edges = (account.get("subscriptions") or {}).get("edges") or []
        for edge in edges:
            self._keep(edge.get("node") if isinstance(edge, dict) else None)
        # Complete, still pending (the merchant declined or left) or unknown: asked once.
        self.records.set_fields(store_hash, pending_checkout=None)

    def checkout_url(self, store_hash: str, plan_name: str) -> str:
        """A checkout of `plan_name` for the store's merchant (a plan change when the store
        has an active subscription); the URL to send the merchant to, in their control panel."""
        plan = plans.named(plan_name)
        kept = self.records.get(store_hash)
        merchant = kept.merchant_account or self._merchant_account(store_hash)
        current = kept.subscription
        changing = current is not None and current.status == "ACTIVE"
        if changing and current is not None and current.level == plan.level:
            raise BillingRefused("billing_same_plan", f"The store is on the {plan.level} plan.")
        pricing: dict[str, Any] = {
            "interval": plan.interval,
            "price": {"value": plan.price_text, "currencyCode": "USD"},
        }
        if plan.trial_days and current is None and not self.records.ever_subscribed(store_hash):
            pricing["trialDays"] = plan.trial_days  # a trial is offered once per store
        item: dict[str, Any] = {
            "product": {"id": self.settings.product_id, "type": "APPLICATION",
                        "productLevel": plan.level},
            "scope": {"id": SCOPE + store_hash, "type": "STORE"},
            "pricingPlan": pricing,
            "redirectUrl": f"{self._panel_url(store_hash)}/manage/app/{self.settings.app_id}",
            "description": plan.description or f"{plan.level} plan",
        }
        if changing and current is not None:
            item["subscriptionId"] = current.id
        checkout = {"accountId": f"bc/account/account/{merchant}", "items": [item]}
        data = self.api.call(documents.CREATE_CHECKOUT, {"checkout": checkout}, interactive=True)
        made = ((data.get("checkout") or {}).get("createCheckout") or {}).get("checkout") or {}
        url, checkout_id = made.get("checkoutUrl"), made.get("id")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise BillingFailed("billing_malformed", "the checkout came back without its URL")
        if isinstance(checkout_id, str) and checkout_id.startswith(CHECKOUT):
            pending = f"{checkout_id}|{int(self._clock.now())}"
            self.records.set_fields(store_hash, pending_checkout=pending)
        return url

    def remember_merchant(self, store_hash: str) -> None:
        """Record the store's merchant account after an install (the install's follow-up
        task), when plans are declared and it is not known yet; a failure waits for the
        first checkout, which asks again."""
        if not plans.declared() or self.records.get(store_hash).merchant_account:
            return
        try:
            self._merchant_account(store_hash)
        except BillingFailed as exc:
            log.warning("store=%s: merchant account not recorded (%s)", store_hash, exc.detail)

    def _merchant_account(self, store_hash: str) -> str:
        """The merchant's account UUID (`GET v2/store`: never the install's, which is the
        partner's), recorded for the next checkout."""
        try:
            info = self._store_information(store_hash)
        except ApiError as exc:
            raise BillingFailed("billing_merchant_unknown", "the store did not say") from exc
        merchant = info.get("account_uuid") if isinstance(info, dict) else None
        if not isinstance(merchant, str) or not 0 < len(merchant) <= 64 or not all(
            char.isalnum() or char == "-" for char in merchant
        ):
            raise BillingFailed(
                "billing_merchant_unknown",
                "the store's information names no account (the scope "
                "store_v2_information is needed to read it)",
            )
        self.records.set_fields(store_hash, merchant_account=merchant)
        return merchant

    def cancel(self, store_hash: str) -> Subscription:
        """Cancel the store's active subscription: access stays until the paid period's end
        (at once in a trial); the receivers hear of it."""
        current = self.records.get(store_hash).subscription
        if current is None or current.status != "ACTIVE":
            raise BillingRefused("billing_nothing_to_cancel", "The store has no active plan.")
        variables = {"subscription": {"id": current.id}}
        data = self.api.call(documents.CANCEL, variables, interactive=True)
        answer = (data.get("subscription") or {}).get("cancelSubscription") or {}
        cancelled_at = seconds(answer.get("cancelledAt")) or int(self._clock.now())
        end = cancelled_at if current.in_trial(self._clock.now()) else current.current_period_end
        cancelled = replace(current, status="CANCELLED", current_period_end=end)
        self._apply(store_hash, cancelled)
        return cancelled

    def sweep(self) -> SweepReport:
        """Read every subscription changed since the watermark and announce the changes, then
        the ends of cancelled periods; one sweep at a time across every process."""
        report, token = SweepReport(), secrets.token_hex(8)
        if not self.records.lock(token, SWEEP_LOCK_SECONDS):
            report.skipped = "another sweep is running"
            return report
        try:
            self._read_changes(report)
            for store_hash in self.records.due_ends(self._clock.now()):
                if self.records.take_end(store_hash):
                    report.ended += self._announce_end(store_hash)
            for status, count in self.records.count_by_status().items():
                SUBSCRIPTIONS.labels(status).set(count)
        finally:
            self.records.unlock(token)
        return report

    def _read_changes(self, report: SweepReport) -> None:
        watermark = self.records.watermark()
        filters: dict[str, Any] = {"productId": self.settings.product_id}
        if watermark:
            filters["updatedAfter"] = watermark
        after, newest = None, seconds(watermark)
        for _ in range(MAX_PAGES):
            try:
                data = self.api.call(documents.SUBSCRIPTIONS,
                                     {"after": after, "filters": filters}, interactive=False)
            except BcappError as exc:
                log.warning("billing sweep stopped: %s", exc.reason)
                report.complete = False
                return
            report.calls += 1
            page = (data.get("account") or {}).get("subscriptions") or {}
            for edge in page.get("edges") or []:
                found = self._keep(edge.get("node") if isinstance(edge, dict) else None)
                report.read += 1
                if found is not None:
                    report.changed += found[1]
                    newest = max(newest, found[0].updated_at)
            info = page.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not isinstance(after, str):
                break
        if newest:  # a second back: updatedAfter is strict, and a re-read changes nothing
            self.records.set_watermark(iso(newest - 1))

    def _keep(self, node: Any) -> tuple[Subscription, int] | None:
        found = from_node(node)
        if found is None:
            if node is not None:
                log.warning("billing: a subscription bcapp cannot read was skipped")
            return None
        store_hash, subscription = found
        return subscription, int(self._apply(store_hash, subscription))

    def _apply(self, store_hash: str, new: Subscription) -> bool:
        """Keep `new`; announce the change when this process recorded it. True if announced."""
        written, old = self.records.replace(store_hash, new)
        change = new.changed_from(old) if written else None
        if written:
            self.records.set_fields(store_hash, pending_checkout=None)
        if change is None:
            return False
        announce(self._publish, store_hash, change, old, new)
        return True

    def _announce_end(self, store_hash: str) -> int:
        kept = self.records.get(store_hash).subscription
        if kept is None or kept.allows(self._clock.now()):
            return 0
        announce(self._publish, store_hash, "ended", kept, kept)
        return 1

    def _filters(self, store_hash: str) -> dict[str, Any]:
        return {"productId": self.settings.product_id, "scopeId": SCOPE + store_hash,
                "scopeType": "STORE"}

    def probe(self) -> None:
        """One read proving the token, its account and its subscriptions scope."""
        self.api.call(documents.PROBE, {"filters": {"productId": self.settings.product_id}},
                      interactive=True)


__all__ = ["SUBSCRIPTION", "Billing", "BillingRefused", "BillingStatus", "SweepReport"]
