"""BigCommerce OAuth scopes: the catalogue, the scopes the app declares, and set arithmetic.

The app declares each scope it needs where its code uses it, with the reason reviewers ask
for; bcapp adds what it needs itself and what the app's other declarations imply::

    from bcapp import scopes

    scopes.require("store_v2_orders_read_only", reason="the orders summary page")

BigCommerce sends scopes space-separated (old docs showed commas; both are accepted).
A modify scope covers its read-only twin: `store_v2_products` covers
`store_v2_products_read_only` (docs/protocol.md, "Scopes").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bcapp import extensions
from bcapp.billing import plans
from bcapp.errors import ConfigurationError
from bcapp.storefront import scripts

# Modify scope -> its read-only twin, or None when the platform offers no read-only variant.
_MODIFY_TO_READ_ONLY: dict[str, str | None] = {
    "store_payments_access_token_create": None,
    "store_storefront_api": None,
    "store_storefront_api_customer_impersonation": None,
    "store_app_extensions_manage": None,
    "store_cart": "store_cart_read_only",
    "store_channel_settings": "store_channel_settings_read_only",
    "store_channel_listings": "store_channel_listings_read_only",
    "store_checkout": "store_checkout_read_only",
    "store_content_checkout": "store_content_checkout_read_only",
    "store_v2_content": "store_v2_content_read_only",
    "store_v2_customers": "store_v2_customers_read_only",
    "store_v2_customers_login": None,
    "store_fulfillment_methods_manage": "store_fulfillment_methods_read_only",
    "store_v2_information": "store_v2_information_read_only",
    "store_v2_marketing": "store_v2_marketing_read_only",
    "store_metafield_change_owner": None,
    "store_metafield_write": None,
    "store_metafield_write_all": None,
    "store_v2_orders": "store_v2_orders_read_only",
    "store_order_fulfillment_manage": "store_order_fulfillment_read_only",
    "store_v2_transactions": "store_v2_transactions_read_only",
    "store_v2_products": "store_v2_products_read_only",
    "store_sites": "store_sites_read_only",
    "store_inventory": "store_inventory_read_only",
    "store_locations": "store_locations_read_only",
    "store_stored_payment_instruments": "store_stored_payment_instruments_read_only",
    "store_translations": "store_translations_read_only",
    "store_themes_manage": "store_themes_read_only",
}
_READ_ONLY_ONLY = frozenset({"store_payments_methods_read"})
# Granted implicitly or seen in older flows; valid in a grant, never needed in a declaration.
_PLATFORM_SCOPES = frozenset({"default", "users_basic_information"})

CATALOGUE: frozenset[str] = frozenset(
    set(_MODIFY_TO_READ_ONLY)
    | {ro for ro in _MODIFY_TO_READ_ONLY.values() if ro}
    | _READ_ONLY_ONLY
    | _PLATFORM_SCOPES
)

_SCOPE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
_MAX_SCOPES = 100


@dataclass(frozen=True)
class ScopeSet:
    """An immutable set of scope names."""

    names: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> ScopeSet:
        """Parse a space- or comma-separated scope string; raise ValueError on junk."""
        parts = [part for part in re.split(r"[\s,]+", text.strip()) if part]
        if len(parts) > _MAX_SCOPES:
            raise ValueError("too many scopes")
        for part in parts:
            if not _SCOPE_NAME.fullmatch(part):
                raise ValueError("malformed scope name")
        return cls(frozenset(parts))

    def covers(self, required: ScopeSet) -> bool:
        """True when every required scope is granted directly or through its modify twin."""
        return not self.missing(required)

    def missing(self, required: ScopeSet) -> ScopeSet:
        """The required scopes this set does not grant."""
        return ScopeSet(frozenset(name for name in required.names if not self._grants(name)))

    def unknown(self) -> ScopeSet:
        """Names that are not in the BigCommerce catalogue."""
        return ScopeSet(self.names - CATALOGUE)

    def _grants(self, name: str) -> bool:
        if name in self.names:
            return True
        return any(_MODIFY_TO_READ_ONLY.get(granted) == name for granted in self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names))

    def __str__(self) -> str:
        return " ".join(self)

    def __bool__(self) -> bool:
        return bool(self.names)

    def __or__(self, other: ScopeSet) -> ScopeSet:
        return ScopeSet(self.names | other.names)


@dataclass(frozen=True)
class Requirement:
    """A scope the app requires and why (BigCommerce's reviewers refuse unexplained scopes)."""

    name: str
    reason: str


# What bcapp itself needs, whatever the app declares.
BCAPP_NEEDS = (
    Requirement(
        "store_v2_information_read_only",
        "GET v2/store at install and on the home page: the control panel's origin (who may "
        "frame the app), the store's name and currency",
    ),
)
# What a Settings requires before the app's declarations are loaded (bcapp/app_spec.py,
# load_declarations): bcapp's own needs, known without importing anything of the app.
BCAPP_SCOPES = ScopeSet(frozenset(requirement.name for requirement in BCAPP_NEEDS))
_declared: dict[str, Requirement] = {}


def require(name: str, *, reason: str) -> Requirement:
    """Declare that the app needs scope `name`, and why (`bcapp check --marketplace` prints the
    reason); a name BigCommerce does not offer or an empty reason stops start-up, naming it."""
    if not _SCOPE_NAME.fullmatch(name) or name not in CATALOGUE or name in _PLATFORM_SCOPES:
        raise ConfigurationError(
            f"scopes.require({name!r}): not a BigCommerce OAuth scope an app can request "
            "(the names are listed in the Developer Portal and in bcapp/scopes.py)"
        )
    if not reason.strip():
        raise ConfigurationError(
            f"scopes.require({name!r}): give the reason the app needs it (reason=...)"
        )
    requirement = Requirement(name, " ".join(reason.split()))
    _declared[name] = requirement
    return requirement


def withdraw(name: str) -> None:
    """Forget a declaration (tests, and apps that declare scopes conditionally)."""
    _declared.pop(name, None)


BILLING_SCOPE = "store_v2_information"  # "Information & Settings: modify"


def requirements() -> tuple[Requirement, ...]:
    """Every scope the app requires with its reason: bcapp's own, the app's declarations, and
    what its other declarations imply (App Extensions need `store_app_extensions_manage`,
    Unified Billing plans `store_v2_information`)."""
    found = {requirement.name: requirement for requirement in BCAPP_NEEDS}
    found.update(_declared)
    if extensions.declared():
        found.setdefault(
            extensions.SCOPE,
            Requirement(extensions.SCOPE, "registering the declared App Extensions "
                        "(bcapp.extensions.add)"),
        )
    if plans.declared():  # BigCommerce's Unified Billing guide asks for it (docs/billing.md)
        found.setdefault(
            BILLING_SCOPE,
            Requirement(BILLING_SCOPE, "reading the merchant's account UUID from the store "
                        "information, which Unified Billing checkouts must name"),
        )
    for name, reason in scripts.required_scopes().items():
        found.setdefault(name, Requirement(name, reason))
    return tuple(found[name] for name in sorted(found))


def required_scopes() -> ScopeSet:
    """The set of scopes the app requires (`requirements()`): what `bcapp scopes` prints, each
    install must grant, and the simulator grants."""
    return ScopeSet(frozenset(requirement.name for requirement in requirements()))
