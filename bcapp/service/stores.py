"""The installed stores as apps and workers use them: API clients and the app's own data."""

from __future__ import annotations

import logging
from typing import Any

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.errors import ApiError, NotInstalled, TokenRejected
from bcapp.models import Installation
from bcapp.service.store_client import StoreClient
from bcapp.store import InstallationStore, Lifecycle
from bcapp.store.app_data import RedisAppData

log = logging.getLogger(__name__)


class Stores:
    """Installed stores: each one's `StoreClient` (token decrypted once) and its app data."""

    def __init__(
        self,
        installations: InstallationStore,
        lifecycle: Lifecycle,
        app_data: RedisAppData,
        bigcommerce: BigCommerce,
        clock: Clock,
    ) -> None:
        self._installations = installations
        self._lifecycle = lifecycle
        self._app_data = app_data
        self._bigcommerce = bigcommerce
        self._clock = clock

    def installed(self) -> list[str]:
        """Hashes of the stores installed now (not those in their grace period)."""
        return self._installations.installed_store_hashes()

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

    def information(self, installation: Installation) -> dict[str, str] | None:
        """The store's name and domain from the API (proof the token works), or None."""
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
        return {key: str(info.get(key, ""))[:200] for key in ("name", "domain")}

    def app_settings(self, store_hash: str) -> dict[str, str]:
        """The app's settings for one store (the bundled example feature keeps its own here)."""
        return self._app_data.get(store_hash)

    def save_app_settings(self, store_hash: str, values: dict[str, str]) -> None:
        """Replace the app's settings for one store; they go with the installation."""
        self._app_data.put(store_hash, values)

    def _token_rejected(self, installation: Installation) -> None:
        store_hash = installation.store_hash
        now = int(self._clock.now())
        if self._lifecycle.mark_token_rejected(store_hash, installation.install_id, now):
            log.warning("store=%s: the API refused the stored token; re-authorise", store_hash)
            signals.store_needs_reauthorization.send(store_hash)
