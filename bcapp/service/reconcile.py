"""`bcapp reconcile`: find uninstalls BigCommerce never announced, and purge after the grace.

Uninstall callbacks are sometimes never delivered. Each run probes installed stores' tokens
with one cheap call (`GET /v2/time`) within the store's rate budget: a 401 ends the
installation through the same path as an uninstall (source `reconcile`). Uninstalled stores
whose grace has ended are purged, and `installation_purged` fires for each, once.

A purge is never the consequence of one forgeable request (docs/security.md R9): a store whose
uninstall came from an uninstall *callback* (a staff member's unused load payload verifies
there too) is probed first. A token BigCommerce still honours proves the uninstall was not
BigCommerce's: the store is reinstated (`app_reinstated`, a SECURITY log line). A 401 confirms
it and the store is purged. Any other failure leaves it for the next run (its records keep
their TTL, a day past the grace). Webhook uninstalls (BigCommerce's own signature) and
reconcile's own (a 401 seen) are purged without a probe.

Safe on several machines at once, bounded and resumable: a store is probed only by the run that
takes its probe lease, which lasts `interval` seconds, so concurrent runs split the work and a
run stopped half-way (or limited by `limit`) leaves the rest to the next one.

A store whose token proves healthy also gets its webhook subscriptions made true
(`keep_hooks`: bcapp/service/subscriptions.py), and the domains BigCommerce reports blocked
(`GET /v3/hooks/admin`) are collected for the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.errors import ApiError, TokenRejected
from bcapp.models import Installation, UninstallEvent
from bcapp.service.access import end_installation
from bcapp.store import InstallationStore, Leases, Lifecycle, StoreDirectory

log = logging.getLogger(__name__)
PROBE_PATH = "v2/time"
# Uninstall sources a user of the store can produce: a purge waits for BigCommerce's word.
FORGEABLE_SOURCES = frozenset({"callback"})


@dataclass
class ReconcileReport:
    """What one run did."""

    probed: int = 0
    healthy: int = 0
    ended: int = 0
    purged: int = 0
    reinstated: int = 0  # uninstalled by a callback, yet BigCommerce still honours the token
    skipped: int = 0  # probed recently, or being probed by another run
    deferred: int = 0  # over this run's limit: the next run takes them
    errors: list[str] = field(default_factory=list)  # store hashes whose probe failed
    # "store abc: created store/order/created; App Extensions created ORDERS /orders/${id}"
    hooks: list[str] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)  # destinations BigCommerce blocks for now

    def summary(self) -> str:
        """One line: what the run did."""
        return (
            f"probed {self.probed}: {self.healthy} healthy, {self.ended} ended (token refused); "
            f"purged {self.purged}; reinstated {self.reinstated} (uninstall callback not "
            f"BigCommerce's); skipped {self.skipped} (probed recently or by another run); "
            f"deferred {self.deferred} (over --limit); webhooks or App Extensions changed in "
            f"{len(self.hooks)} store(s); errors {len(self.errors)}"
        )


# Makes one healthy installation's hooks true: what changed ("" for nothing), and the
# destinations BigCommerce reports blocked.
KeepHooks = Callable[[Installation], tuple[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class ReconcilePolicy:
    """How much one run may do."""

    limit: int  # most probes in one run
    interval: int  # seconds before a store is probed again
    grace: int  # uninstalled stores older than this are purged
    leeway: int
    only: str | None = None  # this store alone, now (its probe lease is ignored)


def reconcile(
    *,
    directory: StoreDirectory,
    installations: InstallationStore,
    leases: Leases,
    lifecycle: Lifecycle,
    bigcommerce: BigCommerce,
    clock: Clock,
    policy: ReconcilePolicy,
    keep_hooks: KeepHooks | None = None,
    on_purged: Callable[[str], None] = lambda _store_hash: None,
) -> ReconcileReport:
    """One run over every store with a record."""
    report = ReconcileReport()
    hashes = [policy.only] if policy.only is not None else directory.list_store_hashes()
    for store_hash in hashes:
        installation = installations.get_installation(store_hash)
        if installation is None:
            continue  # vanished meanwhile, or corrupt (logged by the store)
        if not installation.is_installed:
            if _purge_if_due(installation, lifecycle, bigcommerce, clock, policy, report):
                on_purged(store_hash)  # the indexes shared by every store forget it too
        elif report.probed >= policy.limit:
            report.deferred += 1
        elif policy.only is None and not leases.lease(store_hash, "probe", policy.interval):
            report.skipped += 1
        else:
            report.probed += 1
            if _probe(installation, lifecycle, bigcommerce, clock, policy, report) and keep_hooks:
                _keep_hooks(installation, keep_hooks, report)
    log.info("reconcile: %s", report.summary())
    for destination in sorted(report.blocked):
        log.warning("reconcile: BigCommerce blocks webhooks to %s for now", destination)
    return report


def _keep_hooks(installation: Installation, keep_hooks: KeepHooks, report: ReconcileReport) -> None:
    store_hash = installation.store_hash
    try:
        changed, blocked = keep_hooks(installation)
    except ApiError as exc:
        log.warning("reconcile: webhooks of store=%s not checked: %s", store_hash, exc.reason)
        report.errors.append(store_hash)
        return
    if changed:
        report.hooks.append(f"store {store_hash}: {changed}")
    report.blocked.update(str(entry.get("destination", "")) for entry in blocked)


def _purge_if_due(
    installation: Installation,
    lifecycle: Lifecycle,
    bigcommerce: BigCommerce,
    clock: Clock,
    policy: ReconcilePolicy,
    report: ReconcileReport,
) -> bool:
    store_hash, event = installation.store_hash, installation.uninstall
    now = int(clock.now())
    if event is None or event.recorded_at + policy.grace > now:
        return False
    if event.source in FORGEABLE_SOURCES and not _confirmed_gone(
        installation, lifecycle, bigcommerce, report
    ):
        return False
    if not lifecycle.purge_if_due(store_hash, now, policy.grace):
        return False
    report.purged += 1
    log.info("purged store=%s: its grace period after the uninstall ended", store_hash)
    signals.installation_purged.send(store_hash)
    return True


def _confirmed_gone(
    installation: Installation,
    lifecycle: Lifecycle,
    bigcommerce: BigCommerce,
    report: ReconcileReport,
) -> bool:
    """True when BigCommerce refuses the token of a store uninstalled by a callback; a token
    it honours reinstates the store; any other answer defers the purge to the next run."""
    store_hash, event = installation.store_hash, installation.uninstall
    assert event is not None
    report.probed += 1
    try:
        bigcommerce.get(store_hash, installation.access_token, PROBE_PATH)
    except TokenRejected:
        return True
    except ApiError as exc:
        log.warning("reconcile: store=%s not purged, its token could not be probed: %s",
                    store_hash, exc.reason)
        report.errors.append(store_hash)
        return False
    if lifecycle.reinstate(store_hash, None, 0) is not None:
        report.reinstated += 1
        log.warning(
            "SECURITY store=%s reinstated by reconcile: BigCommerce still honours its token, so "
            "the uninstall callback sent by user=%s was not BigCommerce's",
            store_hash,
            event.user_id,
        )
        signals.app_reinstated.send(store_hash, user_id=None, uninstalled_by=event.user_id)
    return False


def _probe(
    installation: Installation,
    lifecycle: Lifecycle,
    bigcommerce: BigCommerce,
    clock: Clock,
    policy: ReconcilePolicy,
    report: ReconcileReport,
) -> bool:
    """Probe one installed store's token; True when it is healthy."""
    store_hash = installation.store_hash
    try:
        bigcommerce.get(store_hash, installation.access_token, PROBE_PATH)
    except TokenRejected:
        now = int(clock.now())
        event = UninstallEvent(at=now, source="reconcile", recorded_at=now)
        ended = end_installation(
            store_hash, event, lifecycle, policy.grace, policy.leeway, installation.install_id
        )
        report.ended += ended
        if not ended:
            report.healthy += 1  # replaced by a re-install while probing
        return False
    except ApiError as exc:
        log.warning("reconcile: probing store=%s failed: %s", store_hash, exc.reason)
        report.errors.append(store_hash)
        return False
    report.healthy += 1
    return True
