"""Every kind of key a store has, named once, with what it holds and its TTL rule.

Keys are `<prefix>:{<store_hash>}:<kind>` (or `<kind>:<id>` for kinds with one key per id),
hash-tagged per store (bcapp/store/connection.py). Lifecycle, purge, forget and transfer take
the store's records from `RECORDS` and `ENDED_WITH_STORE`, so a new per-store record kind is
added here once; docs/how-it-works.md's "Redis layout" names every kind (a test checks it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bcapp.store.connection import Keyspace


class Lifetime(enum.Enum):
    """How long a kind of key lives."""

    # The installation's own data: no TTL while installed, the grace TTL once uninstalled
    # (removed again by a reinstatement), deleted by purge and forget, exported and imported.
    RECORD = "record"
    # Written with the grace TTL by an uninstall; deleted by an install, purge and forget.
    MARKER = "marker"
    # Written with a TTL of its own and never kept longer: it expires by itself.
    SHORT = "short"


@dataclass(frozen=True)
class KeyKind:
    """One kind of key of a store."""

    name: str
    holds: str
    ttl: str
    lifetime: Lifetime
    per_id: bool = False  # one key per id: `<name>:<id>`

    def key(self, keys: Keyspace, store_hash: str, key_id: str = "") -> str:
        """The key of this kind for `store_hash` (and `key_id` for a per-id kind)."""
        if self.per_id != bool(key_id):
            raise ValueError(f"{self.name}: an id is {'needed' if self.per_id else 'not taken'}")
        return keys.key(store_hash, f"{self.name}:{key_id}" if self.per_id else self.name)


INSTALLATION = KeyKind(
    "installation", "JSON: the installation, its token as ciphertext", "none while installed; "
    "the grace period plus a day once uninstalled", Lifetime.RECORD
)
USERS = KeyKind(
    "users", "hash: user id to JSON (email, owner flag, access id)", "as the installation",
    Lifetime.RECORD
)
APP_DATA = KeyKind(
    "settings", "hash: the app's own per-store values (bcapp/store/app_data.py)",
    "as the installation", Lifetime.RECORD
)
CREATED = KeyKind(
    "created", "hash: ids of the webhook subscriptions and App Extensions bcapp created "
    "(bcapp/store/created.py)", "as the installation", Lifetime.RECORD
)
BILLING = KeyKind(
    "billing", "hash: the store's Unified Billing subscription, merchant account and pending "
    "checkout (bcapp/billing/records.py)", "as the installation", Lifetime.RECORD
)
MARKER = KeyKind(
    "uninstalled", "JSON: the uninstall event and a fresh id", "the grace period plus a day",
    Lifetime.MARKER
)
INSTALL_LOCK = KeyKind(
    "install-lock", "the holder's token (the install fence)", "the token exchange deadline "
    "plus 10 s", Lifetime.SHORT
)
SEEN = KeyKind(
    "seen", "a spent payload nonce, a webhook delivery's claim (its id, its event) or attempt "
    "(id and timestamp), as SHA-256", "the payload's remaining life (webhook claims: 3 days; "
    "attempts: 11 minutes)", Lifetime.SHORT, per_id=True
)
HANDOFF = KeyKind(
    "handoff", "a session reference for a new tab (key: the token's SHA-256)", "120 s, spent once",
    Lifetime.SHORT, per_id=True
)
SESSION = KeyKind(
    "session", "a session's idle timer", "BCAPP_SESSION_IDLE, restarted by each request",
    Lifetime.SHORT, per_id=True
)
REMOVED = KeyKind(
    "removed", "a removed user's tombstone (removal time)", "25 h", Lifetime.SHORT, per_id=True
)
LEASE = KeyKind(
    "lease", "reconcile's once-per-interval claim on a store", "the reconcile interval",
    Lifetime.SHORT, per_id=True
)
CACHE = KeyKind(
    "cache", "a store-API answer the app pages show (the store's name and domain)",
    "5 minutes (30 s for a failure)", Lifetime.SHORT, per_id=True
)
HANDLED = KeyKind(
    "handled", "a webhook handler that finished an event (a redelivery runs nothing)",
    "3 days", Lifetime.SHORT, per_id=True
)
DEAD = KeyKind(
    "dead", "JSON: a webhook event whose handler used every attempt, with its last error",
    "the grace period (BCAPP_UNINSTALL_GRACE)", Lifetime.SHORT, per_id=True
)
RUNNING = KeyKind(
    "running", "a task run's lease: a second copy of the run waits (bcapp/service/tasks.py)",
    "the task visibility timeout, deleted when the run ends", Lifetime.SHORT, per_id=True
)
BUDGET = KeyKind(
    "budget", "the store API requests left in the current window", "the window's reset",
    Lifetime.SHORT
)
BUDGET_PROBE = KeyKind(
    "budget-probe", "the one caller probing an unknown window", "1 s", Lifetime.SHORT
)

KINDS = (
    INSTALLATION, USERS, APP_DATA, CREATED, BILLING, MARKER, INSTALL_LOCK, SEEN, HANDOFF, SESSION,
    REMOVED, LEASE, CACHE, HANDLED, DEAD, RUNNING, BUDGET, BUDGET_PROBE,
)
RECORDS = tuple(kind for kind in KINDS if kind.lifetime is Lifetime.RECORD)
# What purge and forget delete: the records and the uninstall marker.
ENDED_WITH_STORE = tuple(kind for kind in KINDS if kind.lifetime is not Lifetime.SHORT)
# The records that follow the installation's TTL (the installation itself is rewritten).
FOLLOWERS = tuple(kind for kind in RECORDS if kind is not INSTALLATION)


def keys_of(keys: Keyspace, store_hash: str, kinds: tuple[KeyKind, ...]) -> list[str]:
    """The keys of `kinds` (none per id) for one store."""
    return [kind.key(keys, store_hash) for kind in kinds]
