"""`bcapp reconcile`: find uninstalls BigCommerce never announced, and purge after the grace.

Uninstall callbacks are sometimes never delivered. Each run probes installed stores' tokens
with one cheap call (`GET /v2/time`) within the store's rate budget: a 401 ends the
installation through the same path as an uninstall (source `reconcile`). Uninstalled stores
whose grace has ended are purged, and `installation_purged` fires for each, once.

Safe on several machines at once, bounded and resumable: a store is probed only by the run that
takes its probe lease, which lasts `interval` seconds, so concurrent runs split the work and a
run stopped half-way (or limited by `limit`) leaves the rest to the next one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.errors import ApiError, TokenRejected
from bcapp.models import Installation, UninstallEvent
from bcapp.service.access import end_installation
from bcapp.store import InstallationStore, Lifecycle, ShortLivedRecords

log = logging.getLogger(__name__)
PROBE_PATH = "v2/time"


@dataclass
class ReconcileReport:
    """What one run did."""

    probed: int = 0
    healthy: int = 0
    ended: int = 0
    purged: int = 0
    skipped: int = 0  # probed recently, or being probed by another run
    deferred: int = 0  # over this run's limit: the next run takes them
    errors: list[str] = field(default_factory=list)  # store hashes whose probe failed


@dataclass(frozen=True)
class ReconcilePolicy:
    """How much one run may do."""

    limit: int  # most probes in one run
    interval: int  # seconds before a store is probed again
    grace: int  # uninstalled stores older than this are purged
    leeway: int


def reconcile(
    store: InstallationStore,
    short_lived: ShortLivedRecords,
    lifecycle: Lifecycle,
    bigcommerce: BigCommerce,
    clock: Clock,
    policy: ReconcilePolicy,
) -> ReconcileReport:
    """One run over every store with a record."""
    report = ReconcileReport()
    for store_hash in store.list_store_hashes():
        installation = store.get_installation(store_hash)
        if installation is None:
            continue  # vanished meanwhile, or corrupt (logged by the store)
        if not installation.is_installed:
            _purge_if_due(store_hash, lifecycle, clock, policy, report)
        elif report.probed >= policy.limit:
            report.deferred += 1
        elif not short_lived.lease(store_hash, "probe", policy.interval):
            report.skipped += 1
        else:
            report.probed += 1
            _probe(installation, lifecycle, bigcommerce, clock, policy, report)
    log.info(
        "reconcile: probed %s healthy %s ended %s purged %s skipped %s deferred %s errors %s",
        report.probed,
        report.healthy,
        report.ended,
        report.purged,
        report.skipped,
        report.deferred,
        len(report.errors),
    )
    return report


def _purge_if_due(
    store_hash: str,
    lifecycle: Lifecycle,
    clock: Clock,
    policy: ReconcilePolicy,
    report: ReconcileReport,
) -> None:
    if lifecycle.purge_if_due(store_hash, int(clock.now()), policy.grace):
        report.purged += 1
        log.info("purged store=%s: its grace period after the uninstall ended", store_hash)
        signals.installation_purged.send(store_hash)


def _probe(
    installation: Installation,
    lifecycle: Lifecycle,
    bigcommerce: BigCommerce,
    clock: Clock,
    policy: ReconcilePolicy,
    report: ReconcileReport,
) -> None:
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
        return
    except ApiError as exc:
        log.warning("reconcile: probing store=%s failed: %s", store_hash, exc.reason)
        report.errors.append(store_hash)
        return
    report.healthy += 1
