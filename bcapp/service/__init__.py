"""The application service: every use case of bcapp, with its policy values, and no Flask.

`build_service(settings)` wires it (Redis, the cipher, the stores, the BigCommerce client, the
clock); `create_app` builds one per app, and the CLI or a worker process builds their own.
Views, the guard and the CLI call only this class (docs/architecture.md).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock, SystemClock
from bcapp.crypto import TokenCipher
from bcapp.errors import NotInstalled
from bcapp.models import (
    AppOpened,
    CallbackClaims,
    Installation,
    Opened,
    SessionRef,
    UninstallEvent,
)
from bcapp.service import access, api_accounts, callbacks, handoff, operations, webhooks
from bcapp.service.api_accounts import ApiAccountCredentials
from bcapp.service.install import (
    InstallPolicy,
    InstallRequest,
    announce_install,
    complete_install,
)
from bcapp.service.limits import AbuseLimits, LimitPolicy
from bcapp.service.loading import Loader
from bcapp.service.operations import RotationReport, StoreDetails
from bcapp.service.reconcile import ReconcilePolicy, ReconcileReport, reconcile
from bcapp.service.store_client import StoreClient
from bcapp.settings import Settings
from bcapp.store import InstallationStore, Lifecycle, ShortLivedRecords, embedded
from bcapp.store.app_data import RedisAppData
from bcapp.store.budget import RedisRateBudget
from bcapp.store.connection import Keyspace, connect, unavailable_on_redis_error, wait_for_replicas
from bcapp.store.load_path import RedisLoadPath
from bcapp.store.session_reads import RedisSessionReads
from bcapp.store.transfer import RedisTransfer
from bcapp.store.wiring import redis_stores

__all__ = [
    "AppOpened",
    "AppService",
    "InstallRequest",
    "ReconcileReport",
    "RotationReport",
    "StoreClient",
    "StoreDetails",
    "build_service",
]

log = logging.getLogger(__name__)
WEBHOOKS_PATH = "/bigcommerce/webhooks"
# Where the app opens after an install (the home page shows the "installed" welcome).
HOME_AFTER_INSTALL = "/?installed=1"


class AppService:
    """Install, open, resume, uninstall, remove users, webhooks, reconcile, and operations."""

    def __init__(
        self,
        settings: Settings,
        stores: tuple[InstallationStore, ShortLivedRecords, Lifecycle],
        bigcommerce: BigCommerce,
        clock: Clock,
        redis_client: redis.Redis,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._store, self._short_lived, self._lifecycle = stores
        self._bigcommerce = bigcommerce
        self._redis = redis_client
        keys = Keyspace(settings.redis_prefix)
        self._app_data = RedisAppData(redis_client, keys)
        cipher = TokenCipher(settings.token_keys)
        self._transfer = RedisTransfer(redis_client, cipher, keys)
        self._limits = AbuseLimits(
            self._short_lived,
            LimitPolicy(
                settings.rate_limit_per_address,
                settings.rate_limit_per_store,
                settings.rate_limit_window_seconds,
            ),
            clock,
        )
        load_path = RedisLoadPath(redis_client, keys, self._short_lived)
        self._loader = Loader(settings, clock, self._limits, load_path, cipher, stores)
        self._sessions = RedisSessionReads(redis_client, cipher, keys)

    # --- callbacks -------------------------------------------------------------------------

    def admit(self, route: str, address: str) -> None:
        """Count a request from a client address on a callback route (429 over the limit)."""
        self._limits.admit_address(route, address)

    def verify_callback(
        self, jwt_payload: str | None, legacy_payload: str | None, route: str = "load"
    ) -> CallbackClaims:
        """Verify a signed callback payload, count it for its store, and spend it.

        400/401 when it does not verify, 429 over the store's limit (the payload stays
        unspent), 401 when it was spent before.
        """
        claims = callbacks.verify_payload(
            jwt_payload, legacy_payload, self.settings, self.clock.now()
        )
        self._limits.admit_store(route, claims.store_hash)
        callbacks.spend(claims, self.settings, self.clock, self._short_lived)
        return claims

    def install(self, request: InstallRequest) -> AppOpened:
        """Exchange the code under the store's install lock, store the grant, open a session.

        The install is announced (`app_installed`) once replicas acknowledged it; the session
        and its handoff are then written in one round trip, as a load writes them.
        """
        started_at = int(self.clock.now())
        self._limits.admit_store("auth", request.store_hash)
        policy = InstallPolicy.of(self.settings, self.settings.app_url + WEBHOOKS_PATH)
        stores = (self._store, self._short_lived, self._lifecycle)
        opened = complete_install(
            request, self._bigcommerce, stores, policy, self.clock, started_at
        )
        wait_for_replicas(self._redis, self.settings.redis_min_replicas)
        announce_install(opened)
        idle = self.settings.session_idle_seconds
        ref, token = access.start_session(opened, self._short_lived, idle)
        ancestors = operations.frame_ancestors(self.settings, opened.installation)
        return AppOpened(ref, token, ancestors, HOME_AFTER_INSTALL)

    def external_install_url(self, outcome: str) -> str:
        """Where BigCommerce shows the result of an install started from the external link."""
        return f"{self.settings.login_url}/app/{self.settings.client_id}/install/{outcome}"

    def load(
        self, jwt_payload: str | None, legacy_payload: str | None, address: str
    ) -> AppOpened:
        """Load: verify, count, spend and open a session (bcapp/service/loading.py)."""
        return self._loader.load(jwt_payload, legacy_payload, address)

    def redeem_handoff(self, token: str) -> tuple[SessionRef, Opened]:
        """The session a handoff token stands for, spent, and checked like any session."""
        ref = handoff.take(token, self._short_lived)
        return ref, self.resume_session(ref)

    def resume_session(self, ref: SessionRef, spend_handoff: str = "") -> Opened:
        """The store and user of a session, checked against Redis on every request.

        One round trip; on the first page after an open it also spends that open's handoff
        (`spend_handoff`), which the returning cookie made unnecessary.
        """
        idle = self.settings.session_idle_seconds
        opened = access.resume_session(ref, self._sessions, idle, spend_handoff)
        store_of_token = handoff.store_of(spend_handoff)
        if store_of_token is not None and store_of_token != ref.store_hash:
            self._short_lived.take_handoff(store_of_token, spend_handoff)  # another store's
        return opened

    def uninstall(self, claims: CallbackClaims) -> bool:
        """Mark the store uninstalled (kept for the grace period); True when it was installed."""
        now = int(self.clock.now())
        event = UninstallEvent(claims.issued_at, "callback", now, claims.user.id)
        return self._end(claims.store_hash, event)

    def remove_user(self, claims: CallbackClaims) -> bool:
        """Revoke one user's access; True when there was access to revoke."""
        return access.remove_user(claims, self._store)

    def receive_webhook(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Verify a webhook delivery and act on it once: "ended", "ignored" or "duplicate"."""
        secrets = [self.settings.client_secret, *self.settings.previous_client_secrets]
        return webhooks.receive(body, headers, secrets, self.clock, self._short_lived, self._end)

    def _end(self, store_hash: str, event: UninstallEvent) -> bool:
        return access.end_installation(
            store_hash,
            event,
            self._lifecycle,
            self.settings.uninstall_grace_seconds,
            self.settings.jwt_leeway_seconds,
        )

    # --- operations ------------------------------------------------------------------------

    def add_api_account(
        self, account: ApiAccountCredentials, allow_missing_scopes: bool = False
    ) -> tuple[Installation, list[str]]:
        """Check a store-level API account's token and store it; returns the scopes it lacks.

        It replaces whatever the store had (the CLI confirms first); an app install of the same
        store later replaces it in turn: installs take precedence.
        """
        return api_accounts.add_account(
            self._bigcommerce,
            self._store,
            account,
            self.settings.required_scopes,
            allow_missing_scopes,
        )

    def forget_store(self, store_hash: str) -> bool:
        """Delete the store's local record and users (the credentials stay valid on BigCommerce)."""
        return self._store.forget(store_hash)

    def export_stores(self) -> Iterator[dict[str, Any]]:
        """Every store's document (tokens still encrypted), for `bcapp export`."""
        return operations.export_all(self._store, self._transfer)

    def import_store(self, document: object, dry_run: bool = False) -> bool:
        """Import one document (ValueError when it cannot be); True when it changed anything."""
        if dry_run:
            self._transfer.check(document)
            return False
        assert isinstance(document, dict)
        return self._transfer.import_store(document)

    def reconcile(self, limit: int = 1000, interval: int = 86400) -> ReconcileReport:
        """Probe tokens to find missed uninstalls; purge uninstalled stores past their grace."""
        policy = ReconcilePolicy(
            limit, interval, self.settings.uninstall_grace_seconds, self.settings.jwt_leeway_seconds
        )
        return reconcile(
            self._store, self._short_lived, self._lifecycle, self._bigcommerce, self.clock, policy
        )

    def frame_ancestors(self, installation: Installation | None) -> tuple[str, ...]:
        """Who may frame a page: the operator's list, else the store's own control panel (R11)."""
        return operations.frame_ancestors(self.settings, installation)

    def store_information(self, installation: Installation) -> dict[str, str] | None:
        """The store's name and domain from the API (proof the token works), or None."""
        return operations.store_information(self.client_for(installation))

    def store_client(self, store_hash: str) -> StoreClient:
        """The API client of an installed store (NotInstalled otherwise), for views and workers."""
        installation = self._store.get_installation(store_hash)
        if installation is None or not installation.is_installed:
            raise NotInstalled("store_not_installed")
        return self.client_for(installation)

    def store_settings(self, store_hash: str) -> dict[str, str]:
        """The app's settings for one store (the bundled example feature keeps its own here)."""
        return self._app_data.get(store_hash)

    def save_store_settings(self, store_hash: str, values: dict[str, str]) -> None:
        """Replace the app's settings for one store; they go with the installation."""
        self._app_data.put(store_hash, values)

    def client_for(self, installation: Installation) -> StoreClient:
        """The API client of an installation already read (no second lookup)."""
        return StoreClient(installation, self._bigcommerce, self._token_rejected)

    def _token_rejected(self, installation: Installation) -> None:
        store_hash = installation.store_hash
        now = int(self.clock.now())
        if self._lifecycle.mark_token_rejected(store_hash, installation.install_id, now):
            log.warning("store=%s: the API refused the stored token; re-authorise", store_hash)
            signals.store_needs_reauthorization.send(store_hash)

    def ready(self) -> bool:
        """True when the store answers."""
        return operations.ready(self._store)

    def installed_stores(self) -> list[str]:
        """Hashes of the stores installed now (not those in their grace period)."""
        return operations.installed_stores(self._store)

    def list_stores(self) -> list[str]:
        """Hashes of every store with a record (installed, or uninstalled within the grace)."""
        return self._store.list_store_hashes()

    def show_store(self, store_hash: str) -> StoreDetails | None:
        """One installation and its users, or None when there is no readable record."""
        return operations.show_store(self._store, store_hash)

    def rotate_keys(self) -> RotationReport:
        """Re-seal every stored token with the primary key; name the stores that cannot be read."""
        return operations.rotate_keys(self._store)

    def redis_policy(self) -> dict[str, str]:
        """Redis persistence and eviction settings ({} when CONFIG is refused)."""
        return operations.redis_policy(self._store, self._redis)

    def close(self) -> None:
        """Release Redis and HTTP connections."""
        self._bigcommerce.close()
        with unavailable_on_redis_error("close"):
            self._redis.close()


def build_service(settings: Settings, clock: Clock | None = None) -> AppService:
    """Wire the service for `settings`; redis-py connects lazily, on first use.

    Without REDIS_URL, development starts or joins the embedded Redis of the instance directory.
    The modules of BCAPP_RECEIVERS are imported first, so their signal receivers are connected.
    """
    for module in settings.receiver_modules:
        importlib.import_module(module)
    clock = clock or SystemClock()
    url = settings.redis_url or embedded.ensure_running(settings.instance_dir)
    client = connect(url, tls=settings.redis_tls)
    stores = redis_stores(client, TokenCipher(settings.token_keys), settings.redis_prefix, clock)
    budget = RedisRateBudget(client, Keyspace(settings.redis_prefix))
    bigcommerce = BigCommerce(settings, clock, budget=budget)
    return AppService(settings, stores, bigcommerce, clock, client)
