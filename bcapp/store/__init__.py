"""The installation store: models and the protocol every backend implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from bcapp.scopes import ScopeSet


@dataclass(frozen=True)
class StoreUser:
    """A control-panel user with access to the app on one store."""

    id: int
    email: str
    is_owner: bool = False
    # Random per grant of access: sessions carry it, so removing a user revokes their sessions
    # even if the same user is provisioned again later.
    access_id: str = ""
    added_at: int = 0


@dataclass(frozen=True)
class Installation:
    """One store's installation. `access_token` is plaintext and lives only in memory."""

    store_hash: str
    access_token: str = field(repr=False)
    scopes: ScopeSet
    installer_id: int
    installer_email: str
    owner_id: int | None = None
    owner_email: str | None = None
    account_uuid: str | None = None
    installed_at: int = 0
    updated_at: int = 0
    # Random per (re-)install: sessions carry it, so a re-install or uninstall revokes them.
    install_id: str = ""


class InstallationStore(Protocol):
    """Where installations, their users and replay guards are kept."""

    def ping(self) -> bool:
        """True when the backend answers."""

    def save_installation(self, installation: Installation, installer: StoreUser) -> Installation:
        """Upsert an installation and its installing user; move the owner flag; return it stored."""

    def get_installation(self, store_hash: str) -> Installation | None:
        """The installation of `store_hash`, or None."""

    def delete_installation(self, store_hash: str, issued_at: int) -> bool:
        """Delete the installation, users and sessions unless re-installed after `issued_at`."""

    def reencrypt(self, store_hash: str) -> bool:
        """Re-seal the store's token with the primary key; True when it was sealed with another."""

    def get_user(self, store_hash: str, user_id: int) -> StoreUser | None:
        """A user with access to the store, or None."""

    def add_user(self, store_hash: str, user: StoreUser) -> StoreUser | None:
        """Grant `user` access if the store is installed; return the stored user (existing wins)."""

    def remove_user(self, store_hash: str, user_id: int, removed_at: int) -> bool:
        """Remove a user's access and remember when; True when there was access to remove."""

    def user_removed_at(self, store_hash: str, user_id: int) -> int | None:
        """When (payload time) the user's access was last removed, if recently."""

    def list_users(self, store_hash: str) -> list[StoreUser]:
        """All users with access to the store."""

    def list_store_hashes(self) -> list[str]:
        """Hashes of all installed stores."""

    def install_lock(self, store_hash: str, hold_seconds: float) -> AbstractContextManager[None]:
        """Hold the store's install lock; waits up to `hold_seconds` for another holder."""

    def burn_once(self, store_hash: str, nonce: str, ttl_seconds: int) -> bool:
        """Record `nonce` for `ttl_seconds`; True the first time, False when already seen."""
