"""The simulator's world: stores, users, auth codes, access tokens and switchable faults."""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bcapp.simulator.billing_model import SimCheckout, SimSubscription
from bcapp.simulator.storefront_model import (
    LoginAttempt,
    SimCustomer,
    SimScript,
    SimShopper,
    seeded_customers,
)

# BigCommerce store hashes as the platform issues them: short, lowercase letters and digits
# (the API path `/stores/{store_hash}/v3/...`; docs/protocol.md "Store hash").
STORE_HASH = re.compile(r"[a-z0-9]{1,32}")


@dataclass
class SimUser:
    """A control-panel user of a simulated store."""

    id: int
    email: str
    locale: str = "en-US"


@dataclass
class SimStore:
    """A simulated store: its owner, staff, the app's token and granted scopes."""

    hash: str
    owner: SimUser
    users: dict[int, SimUser] = field(default_factory=dict)
    access_token: str | None = None
    scopes: str = ""
    requests_left: int = 150
    window_started_ms: int = 0
    hooks: list[SimHook] = field(default_factory=list)
    rejected: int = 0  # 429s this store's API answered
    api_accounts: list[SimApiAccount] = field(default_factory=list)
    cancelled: bool = False  # the merchant closed the store: no app installs there any more
    # Orders created from the panel ("Create an order"), newest last; beside the sample ones.
    orders: list[dict[str, Any]] = field(default_factory=list)
    # App Extensions registered through GraphQL (each with the token that created it).
    app_extensions: list[dict[str, Any]] = field(default_factory=list)
    # The merchant's own account (GET v2/store `account_uuid`), which Unified Billing charges:
    # not the partner's `SimulatorState.account_uuid` that install callbacks carry.
    account_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_payment_fails: bool = False  # the next renewal of its subscriptions suspends them
    # The storefront (bcapp/simulator/storefront_model.py): its channels, its customers (a few
    # seeded by `add_store`), the Scripts API's scripts, and whether it shows a cookie-consent
    # banner (then scripts of consent category `unknown` are not rendered, as on BigCommerce).
    channels: list[int] = field(default_factory=lambda: [1])
    customers: dict[int, SimCustomer] = field(default_factory=dict)
    scripts: list[SimScript] = field(default_factory=list)
    cookie_consent_banner: bool = True


@dataclass
class SimHook:
    """A webhook subscription, visible only to the token that created it (as on BigCommerce)."""

    id: int
    scope: str
    destination: str
    is_active: bool
    token: str


@dataclass
class SimApiAccount:
    """A store-level API account: its credentials are shown once, at creation."""

    id: int
    name: str
    scopes: str
    client_id: str
    client_secret: str = field(repr=False)
    access_token: str = field(repr=False)


@dataclass(frozen=True)
class SimDelivery:
    """One webhook delivery attempt and the app's answer (0: no answer), as the panel lists it;
    its `webhook_id` and `body` let the panel send it again."""

    number: int  # the attempt's place in `SimulatorState.deliveries`, from 1
    destination: str
    status: int
    at: float  # when it was sent, by the simulator's clock
    webhook_id: str
    body: str = field(repr=False)


@dataclass(frozen=True)
class PendingCode:
    """An auth code handed to the browser, exchangeable once."""

    store_hash: str
    user_id: int
    scope: str


@dataclass
class SimulatorState:
    """Everything the simulated BigCommerce knows; safe to use from several threads."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str = ""
    # Where the app under test serves its load/uninstall/remove-user callbacks.
    app_url: str = "http://127.0.0.1:8000"
    # The control panel's origin as the browser sees it (reported by GET /v2/store); None: the
    # host the API request was addressed to.
    control_panel_url: str | None = None
    account_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    stores: dict[str, SimStore] = field(default_factory=dict)
    codes: dict[str, PendingCode] = field(default_factory=dict)
    # One of: None, "500", "html", "malformed", "empty_object", "wrong_context",
    # "redirect", "slow", "drip", "no_error_key", "huge", "legacy_shape".
    fault: str | None = None
    slow_seconds: float = 25.0
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rate_limit_quota: int = 150
    rate_limit_window_ms: int = 30_000
    # The next this-many store-API calls answer 429 without rate-limit headers (platform load).
    platform_429s: int = 0
    # Control-panel knobs: shift the clock of minted payloads, send the legacy signed_payload,
    # and the scopes the app currently asks for (a change forces re-authorisation).
    clock_skew_seconds: int = 0
    legacy_payloads: bool = False
    app_scopes: str = "store_v2_information_read_only store_v2_products_read_only"
    events: list[str] = field(default_factory=list)
    # Credentials files offered for download once, right after an API account is created.
    pending_downloads: dict[str, str] = field(default_factory=dict, repr=False)
    # Every webhook delivery attempt made, oldest first (bcapp/simulator/deliveries.py).
    deliveries: list[SimDelivery] = field(default_factory=list)
    # Webhook knobs (bcapp/simulator/events.py): events sent so far, BigCommerce's retry
    # intervals multiplied by this (0.001: 60 s pass in 60 ms), duplicate deliveries ("none",
    # "same-id", "new-id"), and destinations reported blocked by GET /v3/hooks/admin.
    event_counter: int = 0  # kept across restarts (persistence.py), as are record ids
    # Mixed into every payload `hash`: a simulator started afresh (its file deleted, or a
    # second one on the same Redis) never repeats an earlier run's hashes, which the app's
    # intake would drop as duplicates (bcapp/service/webhooks.py claims them).
    boot_id: str = field(default_factory=lambda: secrets.token_hex(8))
    hook_counter: int = 0  # hook ids are unique in the whole simulator, as on BigCommerce
    extension_counter: int = 0
    webhook_time_scale: float = 0.001
    duplicate_deliveries: str = "none"
    blocked_domains: set[str] = field(default_factory=set)
    # Runs when a token request arrives, before it is answered: lets a test change the world
    # at the one moment an exchange is in flight (e.g. stop the app's Redis).
    on_token_request: Callable[[], None] | None = field(default=None, repr=False)
    # Runs when a store-API request arrives (with its path, e.g. "v2/store"), before it is
    # answered: lets a test hold a call in flight or change the world meanwhile.
    on_api_request: Callable[[str], None] | None = field(default=None, repr=False)
    # BigCommerce's clock: payload times and rate-limit windows (tests share a manual one).
    clock: Callable[[], float] = field(default=time.time, repr=False)
    # The User-Agent of every token and store-API request (BigCommerce asks apps to name
    # themselves there).
    user_agents: list[str] = field(default_factory=list)
    # Every code and token ever handed out, so tests can prove none of them leaks.
    issued_secrets: list[str] = field(default_factory=list)
    # Unified Billing (bcapp/simulator/billing.py): the app's Developer Portal id, the partner's
    # account-level API token, whether the app is published (unpublished: $0 checkouts only),
    # and the checkouts and subscriptions, keyed by uuid.
    app_id: int = 1234
    account_api_token: str = field(
        default_factory=lambda: "simacct_" + secrets.token_hex(16), repr=False
    )
    app_published: bool = True
    checkout_processing_seconds: float = 0.0  # how long an approved checkout stays PROCESSING
    checkouts: dict[str, SimCheckout] = field(default_factory=dict)
    subscriptions: dict[str, SimSubscription] = field(default_factory=dict)
    subscription_counter: int = 0
    # Account API calls (`/accounts/...`): allowed per hour of `clock` (0: no limit), all made
    # so far, and this hour's (`account_api_hour` is `clock() // 3600`).
    account_api_hourly_limit: int = 70
    account_api_calls: int = 0
    account_api_hour: int = -1
    account_api_hour_calls: int = 0
    # The storefront: shoppers signed in, by session cookie value; every Customer Login visit
    # (oldest first) and the `jti`s spent; the panel's knob that makes the browser block
    # third-party cookies in the app's iframe (the frame page carries it for browser tests).
    shoppers: dict[str, SimShopper] = field(default_factory=dict, repr=False)
    login_attempts: list[LoginAttempt] = field(default_factory=list)
    used_login_jtis: set[str] = field(default_factory=set)
    third_party_cookies_blocked: bool = False

    def __post_init__(self) -> None:
        self.issued_secrets.append(self.account_api_token)

    def add_store(self, store_hash: str, owner_id: int = 1, owner_email: str = "") -> SimStore:
        """Create a store with its owner and a few storefront customers."""
        owner = SimUser(owner_id, owner_email or f"owner@{store_hash}.example")
        store = SimStore(store_hash, owner, {owner.id: owner}, requests_left=self.rate_limit_quota)
        store.customers = seeded_customers(store_hash)
        with self.lock:
            self.stores[store_hash] = store
        return store

    def remove_store_user(self, store_hash: str, user_id: int) -> None:
        """The owner revokes a staff user's access."""
        with self.lock:
            self.stores[store_hash].users.pop(user_id, None)

    def add_user(self, store_hash: str, user_id: int, email: str) -> SimUser:
        """Add a staff user to a store."""
        user = SimUser(user_id, email)
        with self.lock:
            self.stores[store_hash].users[user_id] = user
        return user

    def issue_code(self, store_hash: str, user_id: int, scope: str) -> str:
        """A fresh single-use auth code, as BigCommerce puts in the auth callback URL."""
        code = secrets.token_hex(8)
        with self.lock:
            self.codes[code] = PendingCode(store_hash, user_id, scope)
            self.issued_secrets.append(code)
        return code

    def redeem(self, code: str) -> PendingCode | None:
        """Consume a code; None when unknown or already used."""
        with self.lock:
            return self.codes.pop(code, None)

    def grant_token(self, store_hash: str, scope: str) -> str:
        """Issue a new token for the store; the previous one stops working."""
        token = "simtok_" + secrets.token_hex(16)
        with self.lock:
            store = self.stores[store_hash]
            store.access_token, store.scopes = token, scope
            self.issued_secrets.append(token)
        return token

    def revoke(self, store_hash: str) -> None:
        """Forget the store's token (uninstall); BigCommerce deletes the app's webhooks too,
        and its scripts marked `auto_uninstall`."""
        with self.lock:
            store = self.stores[store_hash]
            store.access_token = None
            store.scopes = ""
            store.hooks.clear()
            store.app_extensions.clear()
            store.scripts = [
                one for one in store.scripts
                if not (one.auto_uninstall and one.api_client_id == self.client_id)
            ]

    def rotate_token(self, store_hash: str) -> None:
        """Replace the app's token with one the app never received (as an install of the app
        from elsewhere would): the stored token answers 401, the app stays installed."""
        with self.lock:
            self.stores[store_hash].access_token = "rotated-" + secrets.token_hex(16)

    def create_api_account(self, store_hash: str, name: str, scopes: str) -> SimApiAccount:
        """Create a store-level API account (at most 50 per store, as on BigCommerce)."""
        with self.lock:
            store = self.stores[store_hash]
            if len(store.api_accounts) >= 50:
                raise ValueError("a store has at most 50 API accounts")
            account = SimApiAccount(
                id=max((account.id for account in store.api_accounts), default=0) + 1,
                name=name,
                scopes=scopes,
                client_id=secrets.token_hex(15),
                client_secret=secrets.token_hex(32),
                access_token=secrets.token_hex(16),
            )
            store.api_accounts.append(account)
            self.issued_secrets += [account.access_token, account.client_secret]
        return account

    def delete_api_account(self, store_hash: str, account_id: int) -> bool:
        """Delete an API account: its token stops working at once (there is no undo)."""
        with self.lock:
            store = self.stores[store_hash]
            kept = [account for account in store.api_accounts if account.id != account_id]
            deleted = len(kept) != len(store.api_accounts)
            store.api_accounts = kept
        return deleted

    def record(self, event: str) -> None:
        """Remember something the control panel should show (newest first, bounded)."""
        with self.lock:
            self.events.insert(0, event)
            del self.events[50:]
