"""The application service: every use case of bcapp, with its policy values, and no Flask.

`build_service(settings)` wires it (Redis, the cipher, the stores, the BigCommerce client, the
clock); `create_app` builds one per app, and the CLI or a worker process builds their own.
Views, the guard and the CLI call only this class (docs/architecture.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock, SystemClock
from bcapp.crypto import TokenCipher
from bcapp.errors import ApiError, StoreUnavailable, TokenRejected
from bcapp.models import CallbackClaims, Installation, Opened, SessionRef, StoreUser
from bcapp.service import access, callbacks
from bcapp.service.install import InstallRequest, complete_install
from bcapp.service.limits import AbuseLimits, LimitPolicy
from bcapp.settings import Settings
from bcapp.store import InstallationStore, ShortLivedRecords, embedded
from bcapp.store.connection import connect, server_policy, unavailable_on_redis_error
from bcapp.store.installations import redis_stores
from bcapp.store.records import CorruptRecord

__all__ = ["AppService", "InstallRequest", "RotationReport", "StoreDetails", "build_service"]

log = logging.getLogger(__name__)
# The install lock outlives the token exchange's own deadline by this much.
LOCK_SLACK_SECONDS = 10.0


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


class AppService:
    """Install, open, resume, uninstall, remove users, readiness, keys, and stores."""

    def __init__(
        self,
        settings: Settings,
        store: InstallationStore,
        short_lived: ShortLivedRecords,
        bigcommerce: BigCommerce,
        clock: Clock,
        redis_client: redis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._limits = AbuseLimits(
            short_lived,
            LimitPolicy(
                settings.rate_limit_per_address,
                settings.rate_limit_per_store,
                settings.rate_limit_window_seconds,
            ),
            clock,
        )
        self._store = store
        self._short_lived = short_lived
        self._bigcommerce = bigcommerce
        self._redis = redis_client

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

    def install(self, request: InstallRequest) -> Opened:
        """Exchange the code under the store's install lock and store the grant."""
        self._limits.admit_store("auth", request.store_hash)
        return complete_install(
            request,
            self._bigcommerce,
            self._store,
            self._short_lived,
            self.settings.required_scopes,
            lock_seconds=self.settings.token_exchange_deadline + LOCK_SLACK_SECONDS,
            lock_wait_seconds=self.settings.install_lock_wait_seconds,
        )

    def external_install_url(self, outcome: str) -> str:
        """Where BigCommerce shows the result of an install started from the external link."""
        return f"{self.settings.login_url}/app/{self.settings.client_id}/install/{outcome}"

    def open_app(self, claims: CallbackClaims) -> Opened:
        """Load: the installation and the user (provisioned on first open)."""
        return access.open_app(
            claims,
            self._store,
            self._short_lived,
            self.settings.required_scopes,
            self.settings.multi_user,
        )

    def resume_session(self, ref: SessionRef) -> Opened:
        """The store and user of a session, checked against the store on every request."""
        return access.resume_session(ref, self._store)

    def uninstall(self, claims: CallbackClaims) -> bool:
        """Forget the store unless a newer install exists; True when something was deleted."""
        return access.uninstall(claims, self._store, self.settings.jwt_leeway_seconds)

    def remove_user(self, claims: CallbackClaims) -> bool:
        """Revoke one user's access; True when there was access to revoke."""
        return access.remove_user(claims, self._store)

    def frame_ancestors(self, installation: Installation | None) -> tuple[str, ...]:
        """Who may frame a page: the operator's list, else the store's own control panel.

        A store's pages allow its control-panel origin as reported at install (else the
        documented `https://store-<hash>.mybigcommerce.com`) and BigCommerce's login host,
        never a wildcard; a page of no known store allows any control panel (R11).
        """
        if self.settings.frame_ancestors:
            return self.settings.frame_ancestors
        if installation is None:
            return self.settings.unknown_store_frame_ancestors
        panel = installation.control_panel_url or (
            f"https://store-{installation.store_hash}.mybigcommerce.com"
        )
        return (panel, self.settings.login_origin)

    # --- the store API ---------------------------------------------------------------------

    def store_information(self, installation: Installation) -> dict[str, str] | None:
        """The store's name and domain from the API (proof the token works), or None."""
        try:
            info: Any = self._bigcommerce.get(
                installation.store_hash, installation.access_token, "v2/store"
            )
        except TokenRejected:
            log.warning("store=%s rejected its token: uninstalled or re-installed elsewhere?",
                        installation.store_hash)
            return None
        except ApiError as exc:
            log.warning("store API for store=%s failed: %s", installation.store_hash, exc.reason)
            return None
        if not isinstance(info, dict):
            return None
        return {key: str(info.get(key, ""))[:200] for key in ("name", "domain")}

    # --- operations ------------------------------------------------------------------------

    def ready(self) -> bool:
        """True when the store answers."""
        try:
            return self._store.ping()
        except StoreUnavailable:
            return False

    def list_stores(self) -> list[str]:
        """Hashes of all installed stores."""
        return self._store.list_store_hashes()

    def show_store(self, store_hash: str) -> StoreDetails | None:
        """One installation and its users, or None when not installed (or unreadable)."""
        installation = self._store.get_installation(store_hash)
        if installation is None:
            return None
        return StoreDetails(installation, self._store.list_users(store_hash))

    def rotate_keys(self) -> RotationReport:
        """Re-seal every stored token with the primary key; name the stores that cannot be read."""
        rotated, unreadable = 0, []
        for store_hash in self._store.list_store_hashes():
            try:
                rotated += self._store.reencrypt(store_hash)
            except CorruptRecord as error:
                log.error("store=%s: token not re-sealed (%s)", store_hash, error.reason)
                unreadable.append(store_hash)
        return RotationReport(rotated, unreadable)

    def redis_policy(self) -> dict[str, str]:
        """Redis persistence and eviction settings, or {} when CONFIG is denied (an ACL).

        StoreUnavailable when Redis does not answer at all.
        """
        self._store.ping()
        if self._redis is None:
            return {}
        try:
            return server_policy(self._redis)
        except redis.RedisError as exc:
            log.warning("redis CONFIG GET refused: %s", type(exc).__name__)
            return {}

    def close(self) -> None:
        """Release Redis and HTTP connections."""
        self._bigcommerce.close()
        if self._redis is not None:
            with unavailable_on_redis_error("close"):
                self._redis.close()


def build_service(settings: Settings, clock: Clock | None = None) -> AppService:
    """Wire the service for `settings`; redis-py connects lazily, on first use.

    Without REDIS_URL, development starts or joins the embedded Redis of the instance directory.
    """
    clock = clock or SystemClock()
    url = settings.redis_url or embedded.ensure_running(settings.instance_dir)
    client = connect(url)
    store, short_lived = redis_stores(
        client, TokenCipher(settings.token_keys), settings.redis_prefix, clock
    )
    return AppService(settings, store, short_lived, BigCommerce(settings, clock), clock, client)
