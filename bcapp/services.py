"""Use cases: complete an install, open the app, uninstall, remove a user.

Each takes its store and platform client as arguments, so it runs without Flask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bcapp import signals
from bcapp.bigcommerce import TokenExchange
from bcapp.errors import ScopesMissing
from bcapp.scopes import ScopeSet
from bcapp.store import Installation, InstallationStore, StoreUser

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Opened:
    """Who opened the app: the installation and the user, both stored."""

    installation: Installation
    user: StoreUser


def complete_install(
    request: InstallRequest,
    exchange: TokenExchange,
    store: InstallationStore,
    required: ScopeSet,
    lock_seconds: float = 30.0,
) -> Opened:
    """Exchange the code, check the grant's scopes, and upsert the installation."""
    _require_scopes(request.scopes, required)
    with store.install_lock(request.store_hash, lock_seconds):
        installation, installer = _exchange_and_save(request, exchange, store, required)
    user = store.get_user(installation.store_hash, installer.id) or installer
    log.info("installed store=%s user=%s", installation.store_hash, user.id)
    signals.app_installed.send(installation.store_hash, installation=installation, user=user)
    return Opened(installation, user)


def _exchange_and_save(
    request: InstallRequest, exchange: TokenExchange, store: InstallationStore, required: ScopeSet
) -> tuple[Installation, StoreUser]:
    grant = exchange.exchange(
        request.code, request.scope_text, request.context, request.account_uuid
    )
    _require_scopes(grant.scopes, required)
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
        ),
        installer,
    )
    return installation, installer


def _require_scopes(granted: ScopeSet, required: ScopeSet) -> None:
    missing = granted.missing(required)
    if missing:
        log.warning("grant misses required scopes: %s", missing)
        raise ScopesMissing(sorted(missing.names))
