"""The installed stores as apps and workers use them: API clients and the app's own data."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.endpoints import WEBHOOKS
from bcapp.errors import ApiError, NotInstalled, TokenRejected
from bcapp.models import Installation
from bcapp.service.app_data import AppData
from bcapp.service.app_extensions import FAILURE_SECONDS as REPORT_SECONDS
from bcapp.service.app_extensions import ExtensionChanges, keep_in_step
from bcapp.service.store_client import StoreClient
from bcapp.service.subscriptions import (
    NOT_SUBSCRIBED,
    HookChanges,
    HookTarget,
    sync_hooks,
    wanted_scopes,
)
from bcapp.store import (
    CreatedRecords,
    InstallationStore,
    Reauthorization,
    StoreCache,
    StoreDirectory,
)
from bcapp.store.app_data import RedisAppData
from bcapp.store.created import SCRIPT
from bcapp.storefront import scripts
from bcapp.storefront.sync import ScriptChanges, keep_scripts

log = logging.getLogger(__name__)
INFORMATION = "store-information"
# What pages show of `GET /v2/store`: the store, and how it writes money.
INFORMATION_FIELDS = (
    "name", "domain", "currency", "currency_symbol", "currency_symbol_location", "decimal_places",
)
INFORMATION_SECONDS = 300
SCRIPTS_REMOVED = "storefront-scripts-removed"
FAILURE_SECONDS = 30


@dataclass(frozen=True)
class StoreSync:
    """What one sync of a store's webhooks and App Extensions did."""

    hooks: HookChanges | None  # None: not subscribed (`NOT_SUBSCRIBED`)
    extensions: ExtensionChanges | None  # None: failed (remembered for `bcapp stores show`)
    scripts: ScriptChanges | str = ""  # the storefront scripts; a text: why they failed

    def said(self) -> list[str]:
        """What is worth saying, for logs, the task's result and reconcile's report."""
        parts = [NOT_SUBSCRIBED] if self.hooks is None else []
        if self.hooks:
            parts.append(self.hooks.summary())
        if self.extensions is None:
            parts.append("App Extensions failed (see bcapp stores show)")
        elif self.extensions:
            parts.append(f"App Extensions {self.extensions.summary()}")
        if isinstance(self.scripts, str) and self.scripts:
            parts.append(f"storefront scripts failed ({self.scripts})")
        elif self.scripts:
            parts.append(f"storefront scripts {self.scripts.summary()}")
        return parts


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
        created: CreatedRecords,
        hook_target: HookTarget,
        learn_origins: Callable[[StoreClient], object],
        bigcommerce: BigCommerce,
        clock: Clock,
    ) -> None:
        self._installations = installations
        self._directory = directory
        self._reauthorization = reauthorization
        self._cache = cache
        self._app_data = app_data
        self._created = created  # what bcapp created in each store (bcapp/store/created.py)
        self._hook_target = hook_target
        self._app_url = hook_target.destination.removesuffix(WEBHOOKS.path)  # APP_URL
        self._learn_origins = learn_origins  # a store's storefront origins (bcapp/storefront/)
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

    def control_panel_url(self, store_hash: str) -> str:
        """The store's control-panel base URL: as the store reported it at install, else the
        documented `https://store-<hash>.mybigcommerce.com`."""
        installation = self._installations.get_installation(store_hash)
        reported = installation.control_panel_url if installation is not None else None
        return reported or f"https://store-{store_hash}.mybigcommerce.com"

    def client_for(self, installation: Installation) -> StoreClient:
        """The API client of an installation already read (no second lookup)."""
        return StoreClient(installation, self._bigcommerce, self._token_rejected)

    def sync(self, store_hash: str) -> StoreSync:
        """Make an installed store's webhook subscriptions (subscriptions.py) and App
        Extensions (app_extensions.py) the declared ones; NotInstalled otherwise."""
        return self.sync_installation(self.client(store_hash))

    def sync_installation(self, api: StoreClient) -> StoreSync:
        """`sync` with an installation's client already made (reconcile's, after its probe)."""
        hooks = None
        if not api.deliveries_unverifiable:
            hooks = sync_hooks(api, self._hook_target, wanted_scopes(), self._created)
        extensions = keep_in_step(api, api.scopes.names, self._cache, self._created)
        outcome = StoreSync(hooks, extensions, self._scripts(api))
        if scripts.on_the_storefront():
            self._learn_origins(api)
        if outcome.said():
            log.info("store=%s: %s", api.store_hash, "; ".join(outcome.said()))
        return outcome

    def restore_scripts(self, store_hash: str) -> ScriptChanges | str:
        """Sync the store's storefront scripts, putting back those the merchant removed."""
        return self._scripts(self.client(store_hash), restore=True)

    def _scripts(self, api: StoreClient, restore: bool = False) -> ScriptChanges | str:
        declared = scripts.declared()
        if not declared and not self._created.created(api.store_hash, SCRIPT):
            return ScriptChanges()  # never had any: nothing to ask BigCommerce
        try:
            changes = keep_scripts(api, declared, self._created, self._app_url, restore)
        except ApiError as exc:
            log.warning("store=%s storefront scripts not synced: %s", api.store_hash, exc)
            return str(exc)[:300] or exc.reason
        if changes.removed_by_merchant:  # shown by `bcapp stores show` until restored
            removed = ", ".join(changes.removed_by_merchant)
            self._cache.remember(api.store_hash, SCRIPTS_REMOVED, removed, REPORT_SECONDS)
        else:
            self._cache.forget_cached(api.store_hash, SCRIPTS_REMOVED)
        return changes

    def scripts_removed(self, store_hash: str) -> str | None:
        """The storefront scripts the merchant removed, as the last sync found them."""
        return self._cache.recall(store_hash, SCRIPTS_REMOVED)

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
