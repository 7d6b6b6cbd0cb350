"""The installed stores as apps and workers use them: API clients and the app's own data."""

from __future__ import annotations

import json
import logging
from typing import Any

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.errors import ApiError, NotInstalled, TokenRejected
from bcapp.models import Installation
from bcapp.service.app_data import AppData
from bcapp.service.app_extensions import ExtensionChanges, keep_in_step
from bcapp.service.store_client import StoreClient
from bcapp.service.subscriptions import HookChanges, sync_hooks, wanted_scopes
from bcapp.store import InstallationStore, Reauthorization, StoreCache, StoreDirectory
from bcapp.store.app_data import RedisAppData

log = logging.getLogger(__name__)
INFORMATION = "store-information"
# What pages show of `GET /v2/store`: the store, and how it writes money.
INFORMATION_FIELDS = (
    "name", "domain", "currency", "currency_symbol", "currency_symbol_location", "decimal_places",
)
INFORMATION_SECONDS = 300
FAILURE_SECONDS = 30


class Stores:
    """Installed stores: each one's `StoreClient` (token decrypted once) and its app data."""

    def __init__(
        self,
        *,
        installations: InstallationStore,
        directory: StoreDirectory,
        reauthorization: Reauthorization,
        cache: StoreCache,
        app_data: RedisAppData,
        bigcommerce: BigCommerce,
        clock: Clock,
    ) -> None:
        self._installations = installations
        self._directory = directory
        self._reauthorization = reauthorization
        self._cache = cache
        self._app_data = app_data
        self._bigcommerce = bigcommerce
        self._clock = clock

    def installed(self) -> list[str]:
        """Hashes of the stores installed now (not those in their grace period)."""
        return self._directory.installed_store_hashes()

    def client(self, store_hash: str) -> StoreClient:
        """The API client of an installed store (NotInstalled otherwise): one read, one
        decryption of its token."""
        installation = self._installations.get_installation(store_hash)
        if installation is None or not installation.is_installed:
            raise NotInstalled("store_not_installed")
        return self.client_for(installation)

    def client_for(self, installation: Installation) -> StoreClient:
        """The API client of an installation already read (no second lookup)."""
        return StoreClient(installation, self._bigcommerce, self._token_rejected)

    def sync_hooks(self, store_hash: str, destination: str) -> HookChanges:
        """Make the store's webhook subscriptions the declared ones (subscriptions.py)."""
        changes = sync_hooks(self.client(store_hash), destination, wanted_scopes())
        if changes:
            log.info("store=%s webhooks: %s", store_hash, changes.summary())
        return changes

    def sync_extensions(self, store_hash: str) -> ExtensionChanges | None:
        """Make the store's App Extensions the declared ones (app_extensions.py); None when it
        failed (remembered for `bcapp stores show`)."""
        client = self.client(store_hash)
        return keep_in_step(client, client.scopes.names, self._cache)

    def information(self, installation: Installation) -> dict[str, str] | None:
        """The store's name and domain from the API (proof the token works), or None.

        Remembered per store for 5 minutes (a failure for 30 s): every view of the home page
        would otherwise spend a request of the store's quota, which every app on the store
        shares, so one session reloading the page could starve them all (L5 of the third
        review).
        """
        store_hash = installation.store_hash
        entry = f"{INFORMATION}-{installation.install_id}"  # a re-install asks afresh
        remembered = self._cache.recall(store_hash, entry)
        if remembered is not None:
            known: dict[str, str] | None = json.loads(remembered) or None
            return known
        info = self._information_from_api(installation)
        seconds = INFORMATION_SECONDS if info is not None else FAILURE_SECONDS
        self._cache.remember(store_hash, entry, json.dumps(info or {}), seconds)
        return info

    def _information_from_api(self, installation: Installation) -> dict[str, str] | None:
        client = self.client_for(installation)
        store_hash = client.store_hash
        try:
            info: Any = client.get("v2/store")
        except TokenRejected:
            log.warning("store=%s rejected its token: uninstalled or re-installed?", store_hash)
            return None
        except ApiError as exc:
            log.warning("store API for store=%s failed: %s", store_hash, exc.reason)
            return None
        if not isinstance(info, dict):
            return None
        return {key: str(info.get(key, ""))[:200] for key in INFORMATION_FIELDS}

    def app_data(self, store_hash: str) -> AppData:
        """The app's own data for one store (`ctx.app_data`: the page's session check has
        just read the installation)."""
        return AppData(self._app_data, store_hash)

    def installed_app_data(self, store_hash: str) -> AppData:
        """The app's own data for a store installed now (`event.app_data`), NotInstalled
        otherwise: an event handled after the purge would leave data nothing deletes."""
        installation = self._installations.get_installation(store_hash)
        if installation is None or not installation.is_installed:
            raise NotInstalled("store_not_installed")
        return self.app_data(store_hash)

    def _token_rejected(self, installation: Installation) -> None:
        store_hash = installation.store_hash
        now = int(self._clock.now())
        if self._reauthorization.mark_token_rejected(store_hash, installation.install_id, now):
            log.warning("store=%s: the API refused the stored token; re-authorise", store_hash)
            signals.store_needs_reauthorization.send(store_hash)
