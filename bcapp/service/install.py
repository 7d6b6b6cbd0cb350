"""Install (and re-authorise): validate the auth callback, exchange the code, store the grant."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bcapp import signals
from bcapp.bigcommerce import BigCommerce, TokenGrant
from bcapp.clock import Clock
from bcapp.errors import ApiError, BadRequest, NotInstalled, ScopesMissing
from bcapp.models import Installation, Opened, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.settings import Settings
from bcapp.store import InstallLocks, InstallRace, InstallRecords
from bcapp.store.lifecycle import PURGE_MARGIN_SECONDS
from bcapp.validation import exact_origin, store_hash_from_context

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Za-z0-9._~-]{1,256}")
_ACCOUNT_UUID = re.compile(r"[0-9A-Fa-f-]{1,64}")
# The install lock outlives the token exchange's own deadline by this much.
LOCK_SLACK_SECONDS = 10.0
# What an install keeps of its lock's time for the final write after its store-API call.
WRITE_RESERVE_SECONDS = 2.0


@dataclass(frozen=True)
class InstallRequest:
    """The validated query of an auth callback."""

    code: str
    scopes: ScopeSet
    scope_text: str
    context: str
    store_hash: str
    account_uuid: str | None = None
    external_install: bool = False

    @classmethod
    def parse(
        cls,
        code: str,
        scope_text: str,
        context: str,
        account_uuid: str | None = None,
        external_install: bool = False,
    ) -> InstallRequest:
        """Validate the auth callback's values before anything leaves this process (400)."""
        if not _CODE.fullmatch(code):
            raise BadRequest("invalid_code")
        try:
            scopes = ScopeSet.parse(scope_text)
            store_hash = store_hash_from_context(context)
        except ValueError as exc:
            raise BadRequest("invalid_scope_or_context") from exc
        if account_uuid is not None and not _ACCOUNT_UUID.fullmatch(account_uuid):
            raise BadRequest("invalid_account_uuid")
        return cls(code, scopes, scope_text, context, store_hash, account_uuid, external_install)


@dataclass(frozen=True)
class InstallPolicy:
    """The service's rules for an install."""

    required: ScopeSet
    lock_seconds: float  # the longest an install holds its store's lock
    lock_wait_seconds: float  # the longest an install waits for it
    leeway: int  # clock leeway between BigCommerce's payload times and bcapp's clock
    uninstalled_ttl: int  # how long records of an uninstalled store are kept

    @classmethod
    def of(cls, settings: Settings) -> InstallPolicy:
        """The policy `settings` configure."""
        return cls(
            required=settings.required_scopes,
            lock_seconds=settings.token_exchange_deadline + LOCK_SLACK_SECONDS,
            lock_wait_seconds=settings.install_lock_wait_seconds,
            leeway=settings.jwt_leeway_seconds,
            uninstalled_ttl=settings.uninstall_grace_seconds + PURGE_MARGIN_SECONDS,
        )


def complete_install(
    request: InstallRequest,
    bigcommerce: BigCommerce,
    records: InstallRecords,
    locks: InstallLocks,
    policy: InstallPolicy,
    clock: Clock,
    started_at: int,
) -> Opened:
    """Exchange the code, check the grant's scopes, and upsert the installation.

    `started_at` is when the request arrived: an uninstall recorded while the code was being
    exchanged wins, and the grant is kept as uninstalled (docs/security.md R9). The install
    lock is a fence: the store-API call inside it ends before the lock can expire, and the
    final write is refused (InstallSuperseded) if a newer install took the lock meanwhile.
    The caller announces the install (`announce_install`) once it is acknowledged.
    """
    require_scopes(request.scopes, policy.required)
    store_hash = request.store_hash
    lock = locks.install_lock(store_hash, policy.lock_seconds, policy.lock_wait_seconds)
    with lock as held:
        marker = records.lifecycle.marker(store_hash)
        race = InstallRace(started_at, marker, policy.leeway, policy.uninstalled_ttl, held)
        grant = bigcommerce.exchange_code(
            request.code, request.scope_text, request.context, request.account_uuid
        )
        require_scopes(grant.scopes, policy.required)
        left = held.expires_at - clock.monotonic() - WRITE_RESERVE_SECONDS
        control_panel = control_panel_origin(
            bigcommerce, grant.store_hash, grant.access_token, left
        )
        installer = StoreUser(id=grant.user.id, email=grant.user.email)
        stored = _installation(grant, control_panel)
        installation = records.installations.save_installation(stored, installer, race)
    if not installation.is_installed:
        log.warning("store=%s was uninstalled while its install was in flight", grant.store_hash)
        raise NotInstalled(
            "uninstalled_during_install",
            "The app was uninstalled while it was being installed. "
            "Install it again from the BigCommerce App Marketplace if you want to use it.",
        )
    user = records.users.get_user(installation.store_hash, installer.id) or installer
    log.info("installed store=%s user=%s", installation.store_hash, user.id)
    return Opened(installation, user)


def announce_install(opened: Opened) -> None:
    """Send `app_installed`: only once the install is stored and acknowledged by replicas."""
    installation = opened.installation
    signals.app_installed.send(installation.store_hash, installation=installation, user=opened.user)


def _installation(grant: TokenGrant, control_panel: str | None) -> Installation:
    return Installation(
        store_hash=grant.store_hash,
        access_token=grant.access_token,
        scopes=grant.scopes,
        installer_id=grant.user.id,
        installer_email=grant.user.email,
        owner_id=grant.owner.id if grant.owner else None,
        owner_email=grant.owner.email if grant.owner else None,
        account_uuid=grant.account_uuid,
        control_panel_url=control_panel,
    )


def control_panel_origin(
    bigcommerce: BigCommerce, store_hash: str, token: str, within: float
) -> str | None:
    """The store's control-panel origin (`control_panel_base_url` of `GET /v2/store`), or None.

    Best effort, ended after `within` seconds: the install goes on without it, and pages then
    allow the documented `https://store-<hash>.mybigcommerce.com` (docs/security.md R11).
    """
    try:
        info = bigcommerce.get_within(within, store_hash, token, "v2/store")
    except ApiError as exc:
        log.warning("store information for store=%s unavailable: %s", store_hash, exc.reason)
        return None
    reported = info.get("control_panel_base_url") if isinstance(info, dict) else None
    origin = exact_origin(reported)
    if reported is not None and origin is None:
        log.warning("store=%s reported a control panel that is not an https origin", store_hash)
    return origin


def require_scopes(granted: ScopeSet, required: ScopeSet) -> None:
    """ScopesMissing (403) naming what `granted` lacks of `required`."""
    missing = granted.missing(required)
    if missing:
        log.warning("grant misses required scopes: %s", missing)
        raise ScopesMissing(sorted(missing.names))
