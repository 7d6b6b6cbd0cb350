"""Use cases: complete an install, open the app, uninstall, remove a user.

Each takes its store and platform client as arguments, so it runs without Flask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bcapp import signals
from bcapp.bigcommerce import TokenExchange
from bcapp.errors import NotInstalled, ReauthorizationRequired, ScopesMissing, Unauthorized
from bcapp.scopes import ScopeSet
from bcapp.signing import CallbackClaims
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


def open_app(
    claims: CallbackClaims, store: InstallationStore, required: ScopeSet, multi_user: bool
) -> Opened:
    """Load: find the installation and the user, provisioning staff on first open."""
    installation = store.get_installation(claims.store_hash)
    if installation is None:
        raise NotInstalled("store_not_installed")
    user = store.get_user(claims.store_hash, claims.user.id)
    if user is None:
        is_owner = claims.owner is not None and claims.owner.id == claims.user.id
        if not (multi_user or is_owner):
            raise Unauthorized("user_without_access")
        removed_at = store.user_removed_at(claims.store_hash, claims.user.id)
        if removed_at is not None and claims.issued_at <= removed_at:
            raise Unauthorized("user_removed")  # a payload issued before the removal
        user = store.add_user(
            claims.store_hash, StoreUser(claims.user.id, claims.user.email, is_owner=is_owner)
        )
        if user is None:  # uninstalled meanwhile
            raise NotInstalled("store_not_installed")
        log.info("provisioned user=%s store=%s", user.id, claims.store_hash)
    if not installation.scopes.covers(required):
        raise ReauthorizationRequired("grant_misses_required_scopes")
    signals.app_loaded.send(claims.store_hash, user=user, path=claims.url)
    return Opened(installation, user)


def uninstall(claims: CallbackClaims, store: InstallationStore, leeway: int) -> bool:
    """Delete the store's installation, users and sessions; True when something was deleted.

    An install newer than the payload (beyond the clock leeway) survives: an uninstall callback
    delayed past a re-install must not delete the fresh installation (SECURITY.md A10.1).
    """
    deleted = store.delete_installation(claims.store_hash, claims.issued_at + leeway)
    log.info("uninstall store=%s by user=%s deleted=%s", claims.store_hash, claims.user.id, deleted)
    if deleted:
        signals.app_uninstalled.send(claims.store_hash, user_id=claims.user.id)
    return deleted


def remove_user(claims: CallbackClaims, store: InstallationStore) -> bool:
    """Revoke one user's access (their sessions die with it); the owner is never removed here."""
    user = store.get_user(claims.store_hash, claims.user.id)
    if user is not None and user.is_owner:
        log.warning("remove-user for the owner of store=%s ignored", claims.store_hash)
        return False
    removed = store.remove_user(claims.store_hash, claims.user.id, claims.issued_at)
    log.info("remove-user store=%s user=%s removed=%s", claims.store_hash, claims.user.id, removed)
    if removed:
        signals.user_removed.send(claims.store_hash, user_id=claims.user.id)
    return removed
