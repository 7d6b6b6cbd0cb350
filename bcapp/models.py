"""The values every layer shares: installations, users, verified callbacks, sessions.

Plain frozen dataclasses with no behaviour that needs Redis, HTTP or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bcapp.scopes import ScopeSet
from bcapp.validation import Person


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
    # The store's control-panel origin as the Store Information API reported it at install.
    control_panel_url: str | None = None
    # Set while the store is uninstalled but kept for the grace period (docs/security.md R9).
    uninstall: UninstallEvent | None = None
    # "app" (a marketplace install) or "api_account" (a store's own API account, added by an
    # operator); an API account has a name, and may have its client id and secret.
    kind: str = "app"
    # When the store API refused this installation's token (401): it needs re-authorising
    # (an install or re-authorisation clears it).
    token_rejected_at: int | None = None
    # When (a payload's `iat`) the current owner was last named by a verified payload; None:
    # since the install (`updated_at`). Ownership follows only newer claims.
    owner_since: int | None = None
    name: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    @property
    def is_installed(self) -> bool:
        """False while soft-uninstalled (kept only so a forged uninstall can be undone)."""
        return self.uninstall is None


@dataclass(frozen=True)
class UninstallEvent:
    """Why and when a store stopped being installed.

    `at` is the event's own time (a payload's `iat`, a webhook's timestamp, or bcapp's clock
    for reconcile); `recorded_at` is bcapp's clock when it was recorded, which starts the
    grace period.
    """

    at: int
    source: str  # "callback", "webhook" or "reconcile"
    recorded_at: int
    user_id: int | None = None


@dataclass(frozen=True)
class CallbackClaims:
    """What a verified callback says: the store, the user, and how to keep it single-use."""

    store_hash: str
    user: Person
    owner: Person | None
    issued_at: int
    # The replay-guard identity: `bc:<jti>` for JWTs, `legacy:<sha256 of payload>` otherwise.
    nonce: str
    expires_at: int
    url: str = "/"
    channel_id: int | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Opened:
    """Who opened the app: the installation and the user, both stored."""

    installation: Installation
    user: StoreUser


@dataclass(frozen=True)
class SessionRef:
    """What the app's session cookie carries: identifiers only, checked on every request."""

    store_hash: str
    user_id: int
    install_id: str
    access_id: str
    # Random per session: its idle timer lives in Redis under this id.
    session_id: str = ""

    @classmethod
    def of(cls, opened: Opened, session_id: str = "") -> SessionRef:
        """The reference to keep for a freshly opened app."""
        return cls(
            opened.installation.store_hash,
            opened.user.id,
            opened.installation.install_id,
            opened.user.access_id,
            session_id,
        )


@dataclass(frozen=True)
class AppOpened:
    """What an install or a load opened: the session to keep, its one-time handoff token,
    who may frame the page, and where inside the app to go."""

    ref: SessionRef
    handoff: str
    frame_ancestors: tuple[str, ...]
    url: str
    # Where and how the user opened the app (load only): the channel (None from the Apps menu)
    # and the user's locale, as the signed payload said.
    channel_id: int | None = None
    locale: str | None = None
    # The app path the load asked for (an App Extension's url with the record's id filled in).
    deep_link: str | None = None
