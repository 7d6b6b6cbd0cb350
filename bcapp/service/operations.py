"""Operators' use cases (the CLI): readiness, stores, transfer, reconcile, key rotation, Redis
policy; and who may frame a store's pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.errors import StoreUnavailable
from bcapp.models import Installation, StoreUser
from bcapp.service import api_accounts
from bcapp.service.api_accounts import ApiAccountCredentials
from bcapp.service.app_extensions import FAILURE, keep_in_step
from bcapp.service.reconcile import ReconcilePolicy, ReconcileReport, reconcile
from bcapp.service.store_client import StoreClient
from bcapp.service.subscriptions import blocked_domains, sync_hooks, wanted_scopes
from bcapp.settings import Settings
from bcapp.store import InstallationStore, Lifecycle, ShortLivedRecords
from bcapp.store.connection import server_policy
from bcapp.store.records import CorruptRecord
from bcapp.store.transfer import RedisTransfer
from bcapp.validation import exact_origin

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
        stores: tuple[InstallationStore, ShortLivedRecords, Lifecycle],
        bigcommerce: BigCommerce,
        transfer: RedisTransfer,
        redis_client: redis.Redis,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._stores = stores
        self._installations = stores[0]
        self._bigcommerce = bigcommerce
        self._transfer = transfer
        self._redis = redis_client

    def ready(self) -> bool:
        """True when the store answers."""
        try:
            return self._installations.ping()
        except StoreUnavailable:
            return False

    def list_stores(self) -> list[str]:
        """Hashes of every store with a record (installed, or uninstalled within the grace)."""
        return self._installations.list_store_hashes()

    def show_store(self, store_hash: str) -> StoreDetails | None:
        """One installation (installed or in its grace period) and its users, or None."""
        installation = self._installations.get_installation(store_hash)
        if installation is None:
            return None
        return StoreDetails(installation, self._installations.list_users(store_hash))

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
        for store_hash in self._installations.list_store_hashes():
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
            *self._stores, self._bigcommerce, self._clock, policy, self._keep_hooks
        )

    def _keep_hooks(self, installation: Installation) -> tuple[str, list[dict[str, Any]]]:
        """Make a healthy store's webhook subscriptions and App Extensions the declared ones;
        what changed, and BigCommerce's blocked domains."""
        api = StoreClient(installation, self._bigcommerce, lambda _installation: None)
        changes = sync_hooks(api, self._settings.webhook_destination, wanted_scopes())
        said = [changes.summary()] if changes else []  # the webhooks
        extension_changes = keep_in_step(api, installation.scopes.names, self._stores[1])
        if extension_changes is None:
            said.append("App Extensions failed (see bcapp stores show)")
        elif extension_changes:
            said.append(f"App Extensions {extension_changes.summary()}")
        return "; ".join(said), blocked_domains(api)

    def extensions_failure(self, store_hash: str) -> str | None:
        """Why the store's last App Extensions sync failed (None after a success)."""
        return self._stores[1].recall(store_hash, FAILURE)

    def rotate_keys(self) -> RotationReport:
        """Re-seal every stored token with the primary key; name the stores that cannot be read."""
        rotated, unreadable = 0, []
        for store_hash in self._installations.list_store_hashes():
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
        self._installations.ping()
        try:
            return server_policy(self._redis)
        except redis.RedisError as exc:
            log.warning("redis CONFIG GET refused: %s", type(exc).__name__)
            return {}


def frame_ancestors(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """Who may frame a page: the operator's list, else the store's own control panel.

    A store's pages allow its control-panel origin as reported at install (else the documented
    `https://store-<hash>.mybigcommerce.com`) and BigCommerce's login host, never a wildcard; a
    page of no known store allows any control panel (docs/security.md R11).
    """
    if installation is None:
        return settings.frame_ancestors or settings.unknown_store_frame_ancestors
    return store_frame_ancestors(settings, installation.store_hash, installation.control_panel_url)


def store_frame_ancestors(
    settings: Settings, store_hash: str, control_panel_url: str | None
) -> tuple[str, ...]:
    """Who may frame a page of one store, given its control-panel origin from the install."""
    if settings.frame_ancestors:
        return settings.frame_ancestors
    # Judged again on every use: a stored value reaches a header, so nothing but an exact
    # https origin ever does, whatever was written to Redis.
    panel = exact_origin(control_panel_url) or f"https://store-{store_hash}.mybigcommerce.com"
    return (panel, settings.login_origin)
