"""The simulated storefront's records: channels, customers, scripts placed through the Scripts
API, shopper sessions and Customer Login attempts (the rules that use them are
bcapp/simulator/scripts_rules.py, storefront.py and customer_login.py).

Every store's storefront is served by the simulator itself, under one path per channel: channel 1
at `<origin>/storefront/<hash>`, another channel at `<origin>/storefront/<hash>/channels/<id>`
(`storefront_url`). Its origin is the simulator's (`v2/store` `secure_url`, `v3/sites`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STOREFRONT = "/storefront/"
# BigCommerce's session cookie on the storefront; the simulator names one per store and channel,
# as each storefront has its own domain there (and its cookies here share the simulator's host).
SESSION_COOKIE = "SHOP_SESSION_TOKEN"
CURRENT_CUSTOMER_SECONDS = 900  # a Current Customer JWT lives 15 minutes (`exp = iat + 900`)
LOGIN_WINDOW_SECONDS = 30  # a Customer Login JWT's `iat` is accepted for 30 s
LOGIN_DEFAULT_REDIRECT = "/account.php"


@dataclass
class SimCustomer:
    """A storefront customer (shopper account) of a simulated store."""

    id: int
    email: str
    customer_group_id: int = 0  # 0: no group
    first_name: str = ""
    last_name: str = ""


@dataclass
class SimScript:
    """A script placed through the Scripts API (`reference/scripts.v3.yml` `script_Full`);
    visible only to the API client that created it (`api_client_id`)."""

    uuid: str
    name: str
    api_client_id: str
    date_created: str
    date_modified: str
    description: str = ""
    html: str = ""
    src: str = ""
    auto_uninstall: bool = True
    load_method: str = "default"
    location: str = "footer"
    visibility: str = "storefront"
    kind: str = "src"
    consent_category: str = "unknown"
    enabled: bool = True
    channel_id: int = 1
    integrity_hashes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SimShopper:
    """Who a storefront session cookie belongs to: a customer signed in on one channel."""

    store_hash: str
    channel_id: int
    customer_id: int


@dataclass(frozen=True)
class LoginAttempt:
    """One visit of `/login/token/<jwt>`: its `jti` (when readable) and what happened."""

    store_hash: str
    channel_id: int
    jti: str
    customer_id: int | None
    refused: str  # "" when the shopper was signed in; else what failed, as the page says it
    at: float  # by the simulator's clock


def seeded_customers(store_hash: str) -> dict[int, SimCustomer]:
    """A few customers every store starts with: two in customer groups, one in none."""
    people = (
        SimCustomer(1, f"jane.doe@{store_hash}.example", 1, "Jane", "Doe"),
        SimCustomer(2, f"sam.lee@{store_hash}.example", 2, "Sam", "Lee"),
        SimCustomer(3, f"alex.kim@{store_hash}.example", 0, "Alex", "Kim"),
    )
    return {person.id: person for person in people}


def storefront_path(store_hash: str, channel_id: int = 1) -> str:
    """The path of a store's storefront on a channel (no trailing slash)."""
    base = STOREFRONT + store_hash
    return base if channel_id == 1 else f"{base}/channels/{channel_id}"


def storefront_url(origin: str, store_hash: str, channel_id: int = 1) -> str:
    """The storefront's URL as BigCommerce names it (`secure_url`, a site's `url`)."""
    return origin.rstrip("/") + storefront_path(store_hash, channel_id)


def cookie_name(store_hash: str, channel_id: int) -> str:
    """The session cookie of one store's storefront on one channel."""
    return f"{SESSION_COOKIE}_{store_hash}_{channel_id}"
