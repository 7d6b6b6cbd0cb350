"""Who may use the app: open it (load), resume a session, uninstall, remove a user."""

from __future__ import annotations

import logging

from bcapp import signals
from bcapp.errors import NotInstalled, ReauthorizationRequired, Unauthorized
from bcapp.models import CallbackClaims, Opened, SessionRef, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.store import InstallationStore, ShortLivedRecords

log = logging.getLogger(__name__)


def open_app(
    claims: CallbackClaims,
    store: InstallationStore,
    short_lived: ShortLivedRecords,
    required: ScopeSet,
    multi_user: bool,
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
        removed_at = short_lived.user_removed_at(claims.store_hash, claims.user.id)
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


def resume_session(ref: SessionRef, store: InstallationStore) -> Opened:
    """The store and user a session names, if both still hold; else Unauthorized.

    A re-install or uninstall changes or removes the installation's `install_id`, and removing a
    user deletes their `access_id`, so either revokes the session at once (docs/security.md R3).
    """
    installation = store.get_installation(ref.store_hash)
    if installation is None or installation.install_id != ref.install_id:
        raise Unauthorized("session_install_revoked")
    user = store.get_user(ref.store_hash, ref.user_id)
    if user is None or user.access_id != ref.access_id:
        raise Unauthorized("session_user_revoked")
    return Opened(installation, user)


def uninstall(claims: CallbackClaims, store: InstallationStore, leeway: int) -> bool:
    """Delete the store's installation, users and sessions; True when something was deleted.

    An install newer than the payload (beyond the clock leeway) survives: an uninstall callback
    delayed past a re-install must not delete the fresh installation (docs/security.md R9).
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
