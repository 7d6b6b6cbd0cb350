"""Who may use the app: open it (load), resume a session, uninstall, remove a user.

An uninstall is soft (docs/security.md R9): BigCommerce signs load, uninstall and remove-user
with one claim set, so a staff user holding an unused load payload could send it to
/uninstall. The installation is therefore marked uninstalled (sessions die at once) and kept
for the grace period; BigCommerce sends loads only for an installed app, so a load issued after
an uninstall *callback* proves that callback was not BigCommerce's uninstall and reinstates.
"""

from __future__ import annotations

import logging
import secrets

from bcapp import signals
from bcapp.errors import NotInstalled, ReauthorizationRequired, Unauthorized
from bcapp.models import CallbackClaims, Installation, Opened, SessionRef, StoreUser, UninstallEvent
from bcapp.scopes import ScopeSet
from bcapp.service import handoff
from bcapp.store import (
    AccessRefused,
    Handoff,
    InstallRecords,
    Lifecycle,
    SessionReads,
    SessionTokens,
    StoreUsers,
)
from bcapp.store.lifecycle import Uninstalled

log = logging.getLogger(__name__)
# Only an uninstall callback can be forged by a user of the store; a webhook is BigCommerce's
# own signature and reconcile saw BigCommerce refuse the token, so those are never undone.
REINSTATABLE_SOURCES = frozenset({"callback"})


def open_app(
    claims: CallbackClaims,
    records: InstallRecords,
    required: ScopeSet,
    multi_user: bool,
    leeway: int,
) -> Opened:
    """Load: find the installation and the user, provisioning staff on first open."""
    lifecycle = records.lifecycle
    installation = records.installations.get_installation(claims.store_hash)
    if installation is None:
        raise NotInstalled("store_not_installed")
    if installation.uninstall is not None:
        installation = _reinstate(claims, installation.uninstall, lifecycle, leeway)
    owner = claims.owner
    if owner is not None and owner.id != installation.owner_id:  # ownership was transferred
        installation = lifecycle.follow_owner(claims.store_hash, owner, claims.issued_at) or (
            installation
        )
    user = records.users.get_user(claims.store_hash, claims.user.id)
    if user is None:
        user = _provision(claims, records.users, multi_user)
    if not installation.scopes.covers(required):
        raise ReauthorizationRequired("grant_misses_required_scopes")
    signals.app_loaded.send(claims.store_hash, user=user, path=claims.url)
    return Opened(installation, user)


def _provision(claims: CallbackClaims, users: StoreUsers, multi_user: bool) -> StoreUser:
    """Add a user on their first load, unless removed since the payload was issued."""
    is_owner = claims.owner is not None and claims.owner.id == claims.user.id
    if not (multi_user or is_owner):
        raise Unauthorized("user_without_access")
    added = users.add_user(
        claims.store_hash,
        StoreUser(claims.user.id, claims.user.email, is_owner=is_owner),
        claims.issued_at,
    )
    if added is AccessRefused.REMOVED:
        raise Unauthorized("user_removed")  # a payload issued before the removal
    if isinstance(added, AccessRefused):
        raise NotInstalled("store_not_installed")  # uninstalled meanwhile
    log.info("provisioned user=%s store=%s", added.id, claims.store_hash)
    return added


def _reinstate(
    claims: CallbackClaims, event: UninstallEvent, lifecycle: Lifecycle, leeway: int
) -> Installation:
    """A load issued after an uninstall callback: that callback was not BigCommerce's own."""
    if event.source not in REINSTATABLE_SOURCES:
        raise NotInstalled("store_not_installed")
    restored = lifecycle.reinstate(claims.store_hash, claims.issued_at, leeway)
    if restored is None:
        raise NotInstalled("store_not_installed")  # issued before the uninstall
    log.warning(
        "SECURITY store=%s reinstated: user=%s opened the app with a payload issued after the "
        "uninstall callback sent by user=%s, which BigCommerce did not send for an uninstall",
        claims.store_hash,
        claims.user.id,
        event.user_id,
    )
    signals.app_reinstated.send(
        claims.store_hash, user_id=claims.user.id, uninstalled_by=event.user_id
    )
    return restored


def start_session(
    opened: Opened, sessions: SessionTokens, idle_seconds: int
) -> tuple[SessionRef, str]:
    """A fresh session for an opened app and its one-time handoff token (one round trip)."""
    ref = SessionRef.of(opened, secrets.token_urlsafe(16))
    token = handoff.new_token(ref.store_hash)
    sessions.start_session(ref, idle_seconds, Handoff(token, handoff.HANDOFF_SECONDS))
    return ref, token


def resume_session(
    ref: SessionRef, sessions: SessionReads, idle_seconds: int, spend_handoff: str = ""
) -> Opened:
    """The store and user a session names, if both still hold; else Unauthorized.

    A re-install or uninstall changes the installation's `install_id`, removing a user deletes
    their `access_id`, and a session unused for `idle_seconds` has no idle timer left: each
    revokes the session at once (docs/security.md R3). One Redis round trip, which also spends
    `spend_handoff` (the handoff of the first page after an open, which the cookie made
    unnecessary) when it is a handoff token of the session's store.
    """
    spent = spend_handoff if handoff.store_of(spend_handoff) == ref.store_hash else None
    found = sessions.resume(ref.store_hash, ref.session_id, ref.user_id, idle_seconds, spent)
    if found is None:
        raise Unauthorized("session_idle")
    installation, user = found
    if (
        installation is None
        or not installation.is_installed
        or installation.install_id != ref.install_id
    ):
        raise Unauthorized("session_install_revoked")
    if user is None or user.id != ref.user_id or user.access_id != ref.access_id:
        raise Unauthorized("session_user_revoked")
    return Opened(installation, user)


def end_installation(
    store_hash: str,
    event: UninstallEvent,
    lifecycle: Lifecycle,
    grace: int,
    leeway: int,
    install_id: str | None = None,
) -> bool:
    """Mark the store uninstalled (sessions revoked, records kept for `grace`); True if it was.

    An install newer than the event (beyond the clock leeway) survives: an uninstall delayed
    past a re-install must not end the fresh installation (docs/security.md R9).
    """
    outcome = lifecycle.mark_uninstalled(store_hash, event, grace, leeway, install_id)
    log.info(
        "uninstall store=%s source=%s user=%s: %s",
        store_hash,
        event.source,
        event.user_id,
        outcome.value,
    )
    if outcome is not Uninstalled.NOW:
        return False
    signals.app_uninstalled.send(store_hash, user_id=event.user_id, source=event.source)
    return True


def remove_user(claims: CallbackClaims, users: StoreUsers) -> bool:
    """Revoke one user's access (their sessions die with it); never the payload's owner.

    Ownership follows the payload's `owner` claim, not a stored flag: after a transfer the
    former owner can be removed, and the new one cannot.
    """
    if claims.owner is not None and claims.owner.id == claims.user.id:
        log.warning("remove-user for the owner of store=%s ignored", claims.store_hash)
        return False
    removed = users.remove_user(claims.store_hash, claims.user.id, claims.issued_at)
    log.info("remove-user store=%s user=%s removed=%s", claims.store_hash, claims.user.id, removed)
    if removed:
        signals.user_removed.send(claims.store_hash, user_id=claims.user.id)
    return removed
