"""BigCommerce's callbacks as use cases: install, load, uninstall, remove user, webhooks.

Each method is what one callback view runs (bcapp/web/callbacks.py); the policy values come
from the settings once, here, so views pass only what the request carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bcapp.bigcommerce import BigCommerce
from bcapp.clock import Clock
from bcapp.endpoints import WEBHOOKS
from bcapp.errors import BadRequest, StoreUnavailable, Unauthorized
from bcapp.models import AppOpened, CallbackClaims, UninstallEvent
from bcapp.service import access, callbacks, webhooks
from bcapp.service.install import (
    InstallPolicy,
    InstallRequest,
    announce_install,
    complete_install,
)
from bcapp.service.limits import AbuseLimits
from bcapp.service.loading import Loader
from bcapp.service.sessions import frame_ancestors
from bcapp.service.tasks import Tasks
from bcapp.settings import Settings
from bcapp.store import InstallLocks, InstallRecords, ReplayGuards, SessionTokens

log = logging.getLogger(__name__)

# Where the app opens after an install (the home page shows the "installed" welcome).
HOME_AFTER_INSTALL = "/?installed=1"


class AppCallbacks:
    """The callbacks' use cases, on injected stores, client and limits."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        records: InstallRecords,
        locks: InstallLocks,
        guards: ReplayGuards,
        sessions: SessionTokens,
        bigcommerce: BigCommerce,
        limits: AbuseLimits,
        loader: Loader,
        acknowledge: Callable[[], None],
        tasks: Tasks,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._records = records
        self._locks = locks
        self._guards = guards  # payloads spent, deliveries claimed
        self._sessions = sessions
        self._bigcommerce = bigcommerce
        self._limits = limits
        self._loader = loader
        self._acknowledge = acknowledge  # waits for the replicas an install must reach
        self._tasks = tasks  # queues background work (bcapp/service/tasks.py)
        self._install_policy = InstallPolicy.of(settings)

    def admit(self, route: str, address: str) -> None:
        """Count a request from a client address on a callback route (429 over the limit)."""
        self._limits.admit_address(route, address)

    def verify(
        self, jwt_payload: str | None, legacy_payload: str | None, route: str = "load"
    ) -> CallbackClaims:
        """Verify a signed callback payload, count it for its store, and spend it.

        400/401 when it does not verify, 429 over the store's limit (the payload stays
        unspent), 401 when it was spent before.
        """
        settings = self._settings
        claims = callbacks.verify_payload(jwt_payload, legacy_payload, settings, self._clock.now())
        self._limits.admit_store(route, claims.store_hash)
        callbacks.spend(claims, settings, self._clock, self._guards)
        return claims

    def install(self, request: InstallRequest) -> AppOpened:
        """Exchange the code under the store's install lock, store the grant, open a session.

        The install is announced (`app_installed`) once replicas acknowledged it; the session
        and its handoff are then written in one round trip, as a load writes them.
        """
        started_at = int(self._clock.now())  # per address only: see bcapp/service/limits.py
        opened = complete_install(
            request,
            self._bigcommerce,
            self._records,
            self._locks,
            self._install_policy,
            self._clock,
            started_at,
        )
        self._acknowledge()
        announce_install(opened)
        self._queue_hook_sync(opened.installation.store_hash)
        idle = self._settings.session_idle_seconds
        ref, token = access.start_session(opened, self._sessions, idle)
        ancestors = frame_ancestors(self._settings, opened.installation)
        return AppOpened(ref, token, ancestors, HOME_AFTER_INSTALL)

    def _queue_hook_sync(self, store_hash: str) -> None:
        """Subscribe the store to its webhooks in a task, not in the install request; a broker
        failure leaves it to the next `bcapp reconcile` (the install itself succeeded)."""
        try:
            self._tasks.queue_sync(store_hash)
        except StoreUnavailable:
            log.warning("store=%s: webhook subscriptions wait for the next reconcile", store_hash)

    def external_install_url(self, outcome: str) -> str:
        """Where BigCommerce shows the result of an install started from the external link."""
        return f"{self._settings.login_url}/app/{self._settings.client_id}/install/{outcome}"

    def load(
        self, jwt_payload: str | None, legacy_payload: str | None, address: str
    ) -> AppOpened:
        """Load: verify, count, spend and open a session (bcapp/service/loading.py)."""
        return self._loader.load(jwt_payload, legacy_payload, address)

    def uninstall(self, claims: CallbackClaims) -> bool:
        """Mark the store uninstalled (kept for the grace period); True when it was installed."""
        event = UninstallEvent(claims.issued_at, "callback", int(self._clock.now()), claims.user.id)
        return self._end(claims.store_hash, event)

    def remove_user(self, claims: CallbackClaims) -> bool:
        """Revoke one user's access; True when there was access to revoke."""
        return access.remove_user(claims, self._records.users)

    def receive_webhook(
        self, body: bytes, headers: Mapping[str, str], address: str | None = None
    ) -> str:
        """Verify a webhook delivery, act on it once and queue its handlers: "ended", "queued",
        "ignored" or "duplicate" (BrokerUnavailable, 503, when the queue is down).

        Only a delivery that does not verify counts against its client `address`: BigCommerce
        sends every store's webhooks from a few addresses, faster than any per-address limit
        meant for people, and a genuine delivery must never meet a 429.
        """
        secrets = [self._settings.client_secret, *self._settings.previous_client_secrets]
        try:
            return webhooks.receive(
                body, headers, secrets, self._clock, self._guards, self._end,
                self._tasks.queue_claimed, self._account_secrets,
            )
        except (BadRequest, Unauthorized) as exc:
            if exc.reason == "webhook_signature" and not self._settings.is_production:
                log.warning(webhooks.SIGNATURE_HINT)  # production keeps the bare 401 line
            if address is not None:
                self._limits.admit_address(WEBHOOKS.name, address)
            raise

    def _account_secrets(self, store_hash: str) -> list[str]:
        """The client secret of the store-level API account installed for `store_hash`, if it
        was given: its hooks' deliveries are signed with it (bcapp/service/webhooks.py). Read
        only for a delivery no app secret signed."""
        installation = self._records.installations.get_installation(store_hash)
        if installation is None or not installation.is_installed:
            return []
        if installation.kind != "api_account" or not installation.client_secret:
            return []
        return [installation.client_secret]

    def _end(self, store_hash: str, event: UninstallEvent) -> bool:
        return access.end_installation(
            store_hash,
            event,
            self._records.lifecycle,
            self._settings.uninstall_grace_seconds,
            self._settings.jwt_leeway_seconds,
        )
