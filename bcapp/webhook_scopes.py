"""BigCommerce's webhook scopes: which a handler may name, and which events a scope receives.

The catalogue is BigCommerce's own list (the `bigcommerce/docs` repository,
`docs/integrations/webhooks/events/{index,channels,inventory-location}.mdx`, April 2026; a few
names the docs print with a trailing `/` are listed without it, as the API takes them).
`{channel_id}` stands for a channel's number. A scope ending in `*` is one of the wildcards
BigCommerce offers (`store/order/*` receives every `store/order/...` event, deeper ones such as
`store/order/message/created` included); a `*` in the middle, as in
`store/channel/*/inventory/product/stock_changed`, stands for any one channel.
"""

from __future__ import annotations

import re
from functools import lru_cache

SCOPES = frozenset(
    {
        "store/app/uninstalled",
        "store/brand/metafield/*",
        "store/brand/metafield/created",
        "store/brand/metafield/deleted",
        "store/brand/metafield/updated",
        "store/cart/*",
        "store/cart/abandoned",
        "store/cart/converted",
        "store/cart/couponApplied",
        "store/cart/created",
        "store/cart/deleted",
        "store/cart/lineItem/*",
        "store/cart/lineItem/created",
        "store/cart/lineItem/deleted",
        "store/cart/lineItem/updated",
        "store/cart/metafield/created",
        "store/cart/metafield/deleted",
        "store/cart/metafield/updated",
        "store/cart/updated",
        "store/category/*",
        "store/category/created",
        "store/category/deleted",
        "store/category/metafield/created",
        "store/category/metafield/deleted",
        "store/category/metafield/updated",
        "store/category/updated",
        "store/channel/*",
        "store/channel/*/inventory/product/low_stock_reached",
        "store/channel/*/inventory/product/out_of_stock_reached",
        "store/channel/*/inventory/product/settings_changed",
        "store/channel/*/inventory/product/stock_changed",
        "store/channel/created",
        "store/channel/metafield/created",
        "store/channel/metafield/deleted",
        "store/channel/metafield/updated",
        "store/channel/updated",
        "store/channel/{channel_id}/cart/*",
        "store/channel/{channel_id}/cart/abandoned",
        "store/channel/{channel_id}/cart/converted",
        "store/channel/{channel_id}/cart/couponApplied",
        "store/channel/{channel_id}/cart/created",
        "store/channel/{channel_id}/cart/deleted",
        "store/channel/{channel_id}/cart/lineItem/*",
        "store/channel/{channel_id}/cart/lineItem/created",
        "store/channel/{channel_id}/cart/lineItem/deleted",
        "store/channel/{channel_id}/cart/lineItem/updated",
        "store/channel/{channel_id}/cart/updated",
        "store/channel/{channel_id}/category/*",
        "store/channel/{channel_id}/category/created",
        "store/channel/{channel_id}/category/deleted",
        "store/channel/{channel_id}/category/product/assigned",
        "store/channel/{channel_id}/category/product/unassigned",
        "store/channel/{channel_id}/category/updated",
        "store/channel/{channel_id}/categoryTree/updated",
        "store/channel/{channel_id}/email/templates/deleted",
        "store/channel/{channel_id}/email/templates/updated",
        "store/channel/{channel_id}/notifications/abandonedCart/updated",
        "store/channel/{channel_id}/notifications/inventory/updated",
        "store/channel/{channel_id}/order/*",
        "store/channel/{channel_id}/order/archived",
        "store/channel/{channel_id}/order/created",
        "store/channel/{channel_id}/order/message/created",
        "store/channel/{channel_id}/order/refund/created",
        "store/channel/{channel_id}/order/statusUpdated",
        "store/channel/{channel_id}/order/updated",
        "store/channel/{channel_id}/page/created",
        "store/channel/{channel_id}/page/updated",
        "store/channel/{channel_id}/product/assigned",
        "store/channel/{channel_id}/product/unassigned",
        "store/channel/{channel_id}/script/created",
        "store/channel/{channel_id}/script/updated",
        "store/channel/{channel_id}/settings/*",
        "store/channel/{channel_id}/settings/SEO/updated",
        "store/channel/{channel_id}/settings/catalog/updated",
        "store/channel/{channel_id}/settings/category/updated",
        "store/channel/{channel_id}/settings/checkout/updated",
        "store/channel/{channel_id}/settings/currency/updated",
        "store/channel/{channel_id}/settings/customerPrivacy/updated",
        "store/channel/{channel_id}/settings/defaultCustomerGroup/updated",
        "store/channel/{channel_id}/settings/emailStatus/deleted",
        "store/channel/{channel_id}/settings/emailStatus/updated",
        "store/channel/{channel_id}/settings/favicon/image/updated",
        "store/channel/{channel_id}/settings/locale/added",
        "store/channel/{channel_id}/settings/locale/deleted",
        "store/channel/{channel_id}/settings/locale/updated",
        "store/channel/{channel_id}/settings/logo/image/updated",
        "store/channel/{channel_id}/settings/logo/updated",
        "store/channel/{channel_id}/settings/product/updated",
        "store/channel/{channel_id}/settings/profile/updated",
        "store/channel/{channel_id}/settings/robots/updated",
        "store/channel/{channel_id}/settings/route/updated",
        "store/channel/{channel_id}/settings/searchContextFilters/updated",
        "store/channel/{channel_id}/settings/security/updated",
        "store/channel/{channel_id}/settings/site/checkoutUrl/deleted",
        "store/channel/{channel_id}/settings/site/checkoutUrl/updated",
        "store/channel/{channel_id}/settings/site/updated",
        "store/channel/{channel_id}/socialMediaLinks/updated",
        "store/channel/{channel_id}/theme/configuration/activated",
        "store/channel/{channel_id}/theme/configuration/created",
        "store/customer/*",
        "store/customer/address/*",
        "store/customer/address/created",
        "store/customer/address/deleted",
        "store/customer/address/updated",
        "store/customer/channel/login/access/updated",
        "store/customer/created",
        "store/customer/deleted",
        "store/customer/payment/instrument/default/updated",
        "store/customer/updated",
        "store/hook/deliveryException",
        "store/information/updated",
        "store/inventory/location/created",
        "store/inventory/location/metafield/*",
        "store/inventory/location/metafield/created",
        "store/inventory/location/metafield/deleted",
        "store/inventory/location/metafield/updated",
        "store/inventory/location/updated",
        "store/metafield/*",
        "store/metafield/created",
        "store/metafield/deleted",
        "store/metafield/updated",
        "store/modifier/updated",
        "store/option/updated",
        "store/order/*",
        "store/order/archived",
        "store/order/created",
        "store/order/message/created",
        "store/order/metafield/created",
        "store/order/metafield/deleted",
        "store/order/metafield/updated",
        "store/order/refund/created",
        "store/order/statusUpdated",
        "store/order/transaction/created",
        "store/order/transaction/updated",
        "store/order/updated",
        "store/priceList/activated",
        "store/priceList/assignment/deleted",
        "store/priceList/assignment/updated",
        "store/priceList/created",
        "store/priceList/deactivated",
        "store/priceList/deleted",
        "store/priceList/record/created",
        "store/priceList/record/deleted",
        "store/priceList/record/updated",
        "store/priceList/records/created",
        "store/priceList/records/deleted",
        "store/priceList/records/updated",
        "store/priceList/updated",
        "store/priceLists/deleted",
        "store/product/*",
        "store/product/created",
        "store/product/deleted",
        "store/product/inventory/order/updated",
        "store/product/inventory/updated",
        "store/product/metafield/*",
        "store/product/metafield/created",
        "store/product/metafield/deleted",
        "store/product/metafield/updated",
        "store/product/updated",
        "store/product/variant/metafield/*",
        "store/product/variant/metafield/created",
        "store/product/variant/metafield/deleted",
        "store/product/variant/metafield/updated",
        "store/shipment/*",
        "store/shipment/created",
        "store/shipment/deleted",
        "store/shipment/updated",
        "store/sku/*",
        "store/sku/created",
        "store/sku/deleted",
        "store/sku/inventory/order/updated",
        "store/sku/inventory/updated",
        "store/sku/updated",
        "store/subscriber/*",
        "store/subscriber/created",
        "store/subscriber/deleted",
        "store/subscriber/updated",
    }
)
CHANNEL_ID = "{channel_id}"
_CHANNEL_NUMBER = re.compile(r"(?<=^store/channel/)[0-9]{1,10}(?=/)")
UNINSTALLED = "store/app/uninstalled"


def known(scope: str) -> bool:
    """True when BigCommerce offers `scope` (a channel's number fills `{channel_id}`)."""
    return scope in SCOPES or _CHANNEL_NUMBER.sub(CHANNEL_ID, scope, count=1) in SCOPES


def check(scope: str) -> None:
    """ValueError naming `scope` when BigCommerce does not offer it."""
    if not isinstance(scope, str) or not known(scope):
        raise ValueError(
            f"{scope!r} is not a BigCommerce webhook scope (see "
            "https://developer.bigcommerce.com/docs/integrations/webhooks/events)"
        )


def label(scope: str) -> str:
    """`scope` as a metrics label: a channel's number written `{channel_id}`, an unknown
    scope "other" (labels stay few whatever a payload says)."""
    named = _CHANNEL_NUMBER.sub(CHANNEL_ID, scope, count=1)
    return named if named in SCOPES else "other"


def receives(subscribed: str, event_scope: str) -> bool:
    """True when a hook or handler for `subscribed` receives an event of `event_scope`."""
    return _pattern(subscribed).fullmatch(event_scope) is not None


@lru_cache(maxsize=512)
def _pattern(subscribed: str) -> re.Pattern[str]:
    parts = subscribed.split("/")
    regex = "/".join(
        ".+"
        if index == len(parts) - 1 and part == "*"
        else "[^/]+"
        if part == "*"
        else re.escape(part)
        for index, part in enumerate(parts)
    )
    return re.compile(regex)
