"""Operators' use cases (the CLI): readiness, stores, transfer, reconcile, key rotation, Redis
policy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.errors import StoreUnavailable
from bcapp.models import Installation, StoreUser
from bcapp.service import api_accounts
from bcapp.service.api_accounts import ApiAccountCredentials
from bcapp.service.app_extensions import FAILURE
from bcapp.service.reconcile import ReconcilePolicy, ReconcileReport, reconcile
from bcapp.service.store_client import StoreClient
from bcapp.service.stores import Stores
from bcapp.service.subscriptions import blocked_domains
from bcapp.settings import Settings
from bcapp.store import InstallRecords, Leases, StoreCache, StoreDirectory
from bcapp.store.connection import server_policy
from bcapp.store.records import CorruptRecord
from bcapp.store.transfer import RedisTransfer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RotationReport:
    """What `rotate_keys` did: tokens re-sealed, and stores whose record could not be read."""

    rotated: int
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoreDetails:
    """One installation and its users, for operators (the token stays inside `installation`)."""

    installation: Installation
    users: list[StoreUser]


class Operations:
    """What operators run (the CLI): readiness, stores, transfer, reconcile, keys, Redis policy."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        records: InstallRecords,
        directory: StoreDirectory,
        leases: Leases,
        cache: StoreCache,
        bigcommerce: BigCommerce,
        transfer: RedisTransfer,
        stores: Stores,
        redis_client: redis.Redis,
        on_purged: Callable[[str], None] = lambda _store_hash: None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._records = records
        self._installations = records.installations
        self._directory = directory
        self._leases = leases
        self._cache = cache
        self._bigcommerce = bigcommerce
        self._transfer = transfer
        self._stores = stores  # keeps webhooks and App Extensions in step (reconcile)
        self._on_purged = on_purged  # a purged store leaves the shared indexes
        self._redis = redis_client

    def ready(self) -> bool:
        """True when the store answers."""
        try:
            return self._directory.ping()
        except StoreUnavailable:
            return False

    def list_stores(self) -> list[str]:
        """Hashes of every store with a record (installed, or uninstalled within the grace)."""
        return self._directory.list_store_hashes()

    def show_store(self, store_hash: str) -> StoreDetails | None:
        """One installation (installed or in its grace period) and its users, or None."""
        installation = self._installations.get_installation(store_hash)
        if installation is None:
            return None
        return StoreDetails(installation, self._records.users.list_users(store_hash))

    def forget_store(self, store_hash: str) -> bool:
        """Delete the store's local record and users (the credentials stay valid on BigCommerce)."""
        return self._installations.forget(store_hash)

    def check_api_account(
        self, account: ApiAccountCredentials, allow_missing_scopes: bool = False
    ) -> list[str]:
        """Check a store-level API account's token against the store; the scopes it lacks
        (ApiAccountRefused when it cannot be kept). Nothing is stored."""
        return api_accounts.check_account(
            self._bigcommerce, account, self._settings.required_scopes, allow_missing_scopes
        )

    def store_api_account(self, account: ApiAccountCredentials, missing: list[str]) -> Installation:
        """Keep an account `check_api_account` passed, in place of whatever the store had."""
        required = self._settings.required_scopes
        return api_accounts.store_account(self._installations, account, required, missing)

    def export_stores(self) -> Iterator[dict[str, Any]]:
        """Every store's export document (tokens still encrypted), for `bcapp export`."""
        for store_hash in self._directory.list_store_hashes():
            document = self._transfer.export_store(store_hash)
            if document is not None:
                yield document

    def import_store(self, document: object, dry_run: bool = False) -> bool:
        """Import one document (ValueError when it cannot be); True when it changed anything
        (with `dry_run`: when it would, writing nothing)."""
        if dry_run:
            return self._transfer.would_change(document)
        assert isinstance(document, dict)
        return self._transfer.import_store(document)

    def reconcile(
        self, limit: int = 1000, interval: int = 86400, only: str | None = None
    ) -> ReconcileReport:
        """Probe tokens to find missed uninstalls; purge uninstalled stores past their grace.
        With `only`, that store alone, now, whatever its lease says."""
        settings = self._settings
        policy = ReconcilePolicy(
            limit, interval, settings.uninstall_grace_seconds, settings.jwt_leeway_seconds, only
        )
        return reconcile(
            directory=self._directory,
            installations=self._installations,
            leases=self._leases,
            lifecycle=self._records.lifecycle,
            bigcommerce=self._bigcommerce,
            clock=self._clock,
            policy=policy,
            keep_hooks=self._keep_hooks,
            on_purged=self._on_purged,
        )

    def _keep_hooks(self, installation: Installation) -> tuple[str, list[dict[str, Any]]]:
        """Make a healthy store's webhook subscriptions and App Extensions the declared ones;
        what changed, and BigCommerce's blocked domains."""
        api = StoreClient(installation, self._bigcommerce, lambda _installation: None)
        said = self._stores.sync_installation(api).said()
        return "; ".join(said), blocked_domains(api)

    def extensions_failure(self, store_hash: str) -> str | None:
        """Why the store's last App Extensions sync failed (None after a success)."""
        return self._cache.recall(store_hash, FAILURE)

    def rotate_keys(self) -> RotationReport:
        """Re-seal every stored token with the primary key; name the stores that cannot be read."""
        rotated, unreadable = 0, []
        for store_hash in self._directory.list_store_hashes():
            try:
                rotated += self._installations.reencrypt(store_hash)
            except CorruptRecord as error:
                log.error("store=%s: token not re-sealed (%s)", store_hash, error.reason)
                unreadable.append(store_hash)
        return RotationReport(rotated, unreadable)

    def redis_policy(self) -> dict[str, str]:
        """Redis persistence and eviction settings, or {} when CONFIG is denied (an ACL).

        StoreUnavailable when Redis does not answer at all.
        """
        self._directory.ping()
        try:
            return server_policy(self._redis)
        except redis.RedisError as exc:
            log.warning("redis CONFIG GET refused: %s", type(exc).__name__)
            return {}

