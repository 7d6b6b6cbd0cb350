"""BigCommerce's OAuth scope table, as the simulated platform enforces it.

Written from BigCommerce's scope documentation ("OAuth scopes" in the API guide; see
docs/protocol.md "Scopes"), independently of the app's own scope module, so that a mistake in
the app's rules shows up against this one. One row per area: (modify scopes, read-only scope).
A grant of a row's modify scope also grants its read-only scope, which is why changing an app's
scopes from `X` to `X_read_only` needs no re-approval, and the reverse does.
"""

from __future__ import annotations

import re

SCOPE_TABLE: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("store_payments_access_token_create",), None),
    (("store_storefront_api",), None),
    (("store_storefront_api_customer_impersonation",), None),
    (("store_app_extensions_manage",), None),
    (("store_cart",), "store_cart_read_only"),
    (("store_channel_settings",), "store_channel_settings_read_only"),
    (("store_channel_listings",), "store_channel_listings_read_only"),
    (("store_checkout",), "store_checkout_read_only"),
    (("store_content_checkout",), "store_content_checkout_read_only"),
    (("store_v2_content",), "store_v2_content_read_only"),
    (("store_v2_customers",), "store_v2_customers_read_only"),
    (("store_v2_customers_login",), None),
    (("store_fulfillment_methods_manage",), "store_fulfillment_methods_read_only"),
    (("store_v2_information",), "store_v2_information_read_only"),
    (("store_v2_marketing",), "store_v2_marketing_read_only"),
    (("store_metafield_change_owner",), None),
    (("store_metafield_write", "store_metafield_write_all"), None),
    (("store_v2_orders",), "store_v2_orders_read_only"),
    (("store_order_fulfillment_manage",), "store_order_fulfillment_read_only"),
    (("store_v2_transactions",), "store_v2_transactions_read_only"),
    ((), "store_payments_methods_read"),
    (("store_v2_products",), "store_v2_products_read_only"),
    (("store_sites",), "store_sites_read_only"),
    (("store_inventory",), "store_inventory_read_only"),
    (("store_locations",), "store_locations_read_only"),
    (("store_stored_payment_instruments",), "store_stored_payment_instruments_read_only"),
    (("store_translations",), "store_translations_read_only"),
    (("store_themes_manage",), "store_themes_read_only"),
)
# Every app has `default` (webhooks); older flows name `users_basic_information`.
IMPLICIT = frozenset({"default", "users_basic_information"})
KNOWN = frozenset(
    {name for modify, _ in SCOPE_TABLE for name in modify}
    | {read for _, read in SCOPE_TABLE if read}
    | IMPLICIT
)


def split(text: str) -> list[str]:
    """The names of a space-separated scope string; ValueError for an unknown name."""
    names = [name for name in re.split(r"\s+", text.strip()) if name]
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise ValueError("unknown scope: " + " ".join(unknown))
    return names


def effective(names: list[str]) -> set[str]:
    """What a grant of `names` allows: each name, plus the read-only scope of a modify name."""
    allowed = set(names)
    for modify, read_only in SCOPE_TABLE:
        if read_only and allowed & set(modify):
            allowed.add(read_only)
    return allowed


def grant_covers(granted: str, wanted: str) -> bool:
    """True when a store that approved `granted` needs no new approval for `wanted`."""
    return set(split(wanted)) <= effective(split(granted))


# The scope each store-API path family needs, by the first segments of the path after
# `/stores/<hash>/` (BigCommerce's API reference names one per endpoint; see "OAuth scopes" in
# its API guide): a GET needs the family's read-only scope or its modify scope, a write needs
# the modify scope. None: every app's implicit `default` scope is enough (webhook management).
# A path of no family here is refused: an endpoint added to the simulator must be listed.
PATH_SCOPES: tuple[tuple[str, str | None], ...] = (
    ("v2/store", "store_v2_information"),
    ("v2/time", "store_v2_information"),
    ("v2/orders", "store_v2_orders"),
    ("v3/catalog", "store_v2_products"),
    ("v3/hooks", None),
    ("graphql", "store_app_extensions_manage"),  # the App Extensions subset (graphql_api.py)
    # Scripts (scripts_api.py); one shown on the checkout also needs `store_content_checkout`,
    # which the view checks (the path alone does not say).
    ("v3/content/scripts", "store_v2_content"),
    ("v3/sites", "store_sites"),
    # Only a channel's site is served under v3/channels: Sites & Routes' scope.
    ("v3/channels", "store_sites"),
)
_READS = frozenset({"GET", "HEAD"})


def needed(path: str, method: str) -> str | None:
    """The scope a call of `method` on `path` (after `/stores/<hash>/`) needs; None for none.

    KeyError when the path belongs to no family of `PATH_SCOPES`.
    """
    for family, modify in PATH_SCOPES:
        if path == family or path.startswith(family + "/"):
            if modify is None or method not in _READS:
                return modify
            read_only = next((read for names, read in SCOPE_TABLE if modify in names), None)
            return read_only or modify
    raise KeyError(path)


def allows(granted: str, scope: str) -> bool:
    """True when a grant of `granted` (space-separated, as stored) lets a call needing `scope`
    through; names this table does not know grant nothing."""
    return scope in effective([name for name in granted.split() if name in KNOWN])
