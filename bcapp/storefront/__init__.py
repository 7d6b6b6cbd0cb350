"""The storefront: scripts on the stores, the shopper a script speaks for, and signing shoppers
in (docs/storefront.md).

```python
from bcapp import storefront

storefront.script("badge", src="https://app.example.com/badge.js",
                  consent_category="functional", load_method="defer")

@bp.post("/storefront/badge")
@storefront.customer                       # the Current Customer JWT, verified; CORS per store
def badge(ctx: storefront.ShopperContext) -> dict[str, str]:
    return {"hello": ctx.customer.email}

url = storefront.login_url(store_hash, customer_id, redirect_to="/account.php")  # in a request
```

Reading settings imports none of it; `customer` (Flask) is imported when first named.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bcapp.storefront.scripts import Script, script

if TYPE_CHECKING:  # imported when first named (`__getattr__`): Flask
    from bcapp.storefront.web import ShopperContext, customer, login_url

__all__ = ["Script", "ShopperContext", "customer", "login_url", "script"]


def __getattr__(name: str) -> Any:
    if name in ("customer", "ShopperContext", "login_url"):
        return getattr(importlib.import_module("bcapp.storefront.web"), name)
    raise AttributeError(f"module 'bcapp.storefront' has no attribute {name!r}")
