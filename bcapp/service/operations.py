"""Operators' use cases: readiness, stores, key rotation, Redis policy, store information."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from bcapp.errors import ApiError, StoreUnavailable, TokenRejected
from bcapp.models import Installation, StoreUser
from bcapp.service.store_client import StoreClient
from bcapp.settings import Settings
from bcapp.store import InstallationStore
from bcapp.store.connection import server_policy
from bcapp.store.records import CorruptRecord
from bcapp.store.transfer import RedisTransfer

log = logging.getLogger(__name__)


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


def ready(store: InstallationStore) -> bool:
    """True when the store answers."""
    try:
        return store.ping()
    except StoreUnavailable:
        return False


def export_all(store: InstallationStore, transfer: RedisTransfer) -> Iterator[dict[str, Any]]:
    """Every store's export document (tokens still encrypted)."""
    for store_hash in store.list_store_hashes():
        document = transfer.export_store(store_hash)
        if document is not None:
            yield document


def installed_stores(store: InstallationStore) -> list[str]:
    """Hashes of the stores whose record is readable and installed."""
    found = []
    for store_hash in store.list_store_hashes():
        installation = store.get_installation(store_hash)
        if installation is not None and installation.is_installed:
            found.append(store_hash)
    return found


def show_store(store: InstallationStore, store_hash: str) -> StoreDetails | None:
    """One installation (installed or in its grace period) and its users, or None."""
    installation = store.get_installation(store_hash)
    if installation is None:
        return None
    return StoreDetails(installation, store.list_users(store_hash))


def rotate_keys(store: InstallationStore) -> RotationReport:
    """Re-seal every stored token with the primary key; name the stores that cannot be read."""
    rotated, unreadable = 0, []
    for store_hash in store.list_store_hashes():
        try:
            rotated += store.reencrypt(store_hash)
        except CorruptRecord as error:
            log.error("store=%s: token not re-sealed (%s)", store_hash, error.reason)
            unreadable.append(store_hash)
    return RotationReport(rotated, unreadable)


def redis_policy(store: InstallationStore, client: redis.Redis) -> dict[str, str]:
    """Redis persistence and eviction settings, or {} when CONFIG is denied (an ACL).

    StoreUnavailable when Redis does not answer at all.
    """
    store.ping()
    try:
        return server_policy(client)
    except redis.RedisError as exc:
        log.warning("redis CONFIG GET refused: %s", type(exc).__name__)
        return {}


def store_information(client: StoreClient) -> dict[str, str] | None:
    """The store's name and domain from the API (proof the token works), or None."""
    try:
        info: Any = client.get("v2/store")
    except TokenRejected:
        log.warning("store=%s rejected its token: uninstalled or re-installed?", client.store_hash)
        return None
    except ApiError as exc:
        log.warning("store API for store=%s failed: %s", client.store_hash, exc.reason)
        return None
    if not isinstance(info, dict):
        return None
    return {key: str(info.get(key, ""))[:200] for key in ("name", "domain")}


def frame_ancestors(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """Who may frame a page: the operator's list, else the store's own control panel.

    A store's pages allow its control-panel origin as reported at install (else the documented
    `https://store-<hash>.mybigcommerce.com`) and BigCommerce's login host, never a wildcard; a
    page of no known store allows any control panel (docs/security.md R11).
    """
    if installation is None:
        return settings.frame_ancestors or settings.unknown_store_frame_ancestors
    return store_frame_ancestors(settings, installation.store_hash, installation.control_panel_url)


def store_frame_ancestors(
    settings: Settings, store_hash: str, control_panel_url: str | None
) -> tuple[str, ...]:
    """Who may frame a page of one store, given its control-panel origin from the install."""
    if settings.frame_ancestors:
        return settings.frame_ancestors
    panel = control_panel_url or f"https://store-{store_hash}.mybigcommerce.com"
    return (panel, settings.login_origin)
