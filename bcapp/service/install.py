"""Install (and re-authorise): validate the auth callback, exchange the code, store the grant."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bcapp import signals
from bcapp.bigcommerce import BigCommerce
from bcapp.errors import ApiError, BadRequest, ScopesMissing
from bcapp.models import Installation, Opened, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.store import InstallationStore, ShortLivedRecords
from bcapp.validation import exact_origin, store_hash_from_context

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Za-z0-9._~-]{1,256}")
_ACCOUNT_UUID = re.compile(r"[0-9A-Fa-f-]{1,64}")


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


def complete_install(
    request: InstallRequest,
    bigcommerce: BigCommerce,
    store: InstallationStore,
    short_lived: ShortLivedRecords,
    required: ScopeSet,
    lock_seconds: float,
    lock_wait_seconds: float,
) -> Opened:
    """Exchange the code, check the grant's scopes, and upsert the installation."""
    require_scopes(request.scopes, required)
    with short_lived.install_lock(request.store_hash, lock_seconds, lock_wait_seconds):
        installation, installer = _exchange_and_save(request, bigcommerce, store, required)
    user = store.get_user(installation.store_hash, installer.id) or installer
    log.info("installed store=%s user=%s", installation.store_hash, user.id)
    signals.app_installed.send(installation.store_hash, installation=installation, user=user)
    return Opened(installation, user)


def _exchange_and_save(
    request: InstallRequest, bigcommerce: BigCommerce, store: InstallationStore, required: ScopeSet
) -> tuple[Installation, StoreUser]:
    grant = bigcommerce.exchange_code(
        request.code, request.scope_text, request.context, request.account_uuid
    )
    require_scopes(grant.scopes, required)
    control_panel = control_panel_origin(bigcommerce, grant.store_hash, grant.access_token)
    installer = StoreUser(id=grant.user.id, email=grant.user.email)
    installation = store.save_installation(
        Installation(
            store_hash=grant.store_hash,
            access_token=grant.access_token,
            scopes=grant.scopes,
            installer_id=grant.user.id,
            installer_email=grant.user.email,
            owner_id=grant.owner.id if grant.owner else None,
            owner_email=grant.owner.email if grant.owner else None,
            account_uuid=grant.account_uuid,
            control_panel_url=control_panel,
        ),
        installer,
    )
    return installation, installer


def control_panel_origin(bigcommerce: BigCommerce, store_hash: str, token: str) -> str | None:
    """The store's control-panel origin (`control_panel_base_url` of `GET /v2/store`), or None.

    Best effort: the install goes on without it, and pages then allow the documented
    `https://store-<hash>.mybigcommerce.com` (docs/security.md R11).
    """
    try:
        info = bigcommerce.get(store_hash, token, "v2/store")
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
