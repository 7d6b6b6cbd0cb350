"""Getting paid through BigCommerce's Unified Billing (docs/billing.md).

```python
from bcapp import billing

billing.plan("pro", level="Pro", price="29.99", interval="MONTH", trial_days=14)

@billing.on_change
def subscription_changed(store_hash, change, old, new): ...   # a Celery task per change

@bp.get("/reports")
@app_page
@billing.requires_plan("pro", otherwise="/plans")
def reports(ctx: billing.PaidContext) -> str: ...
```

In a view: `billing.checkout_url(store_hash, "pro")` (where to send the merchant),
`billing.current(store_hash)` (the kept subscription), `billing.cancel(store_hash)`. Outside a
request, the same through `bcapp.connect().billing`. Reading settings imports only `config`;
the rest is imported when first named.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bcapp.billing.model import Subscription
from bcapp.billing.plans import Plan, plan

if TYPE_CHECKING:  # imported when first named (`__getattr__`): Flask, Celery's signals
    from bcapp.billing.events import on_change
    from bcapp.billing.web import (
        PaidContext,
        cancel,
        checkout_url,
        current,
        requires_plan,
        status,
    )

__all__ = [
    "PaidContext",
    "Plan",
    "Subscription",
    "cancel",
    "checkout_url",
    "current",
    "declared_plans",
    "on_change",
    "plan",
    "requires_plan",
    "status",
]
_LAZY = {
    "on_change": "bcapp.billing.events",
    "PaidContext": "bcapp.billing.web",
    "requires_plan": "bcapp.billing.web",
    "checkout_url": "bcapp.billing.web",
    "current": "bcapp.billing.web",
    "status": "bcapp.billing.web",
    "cancel": "bcapp.billing.web",
}


def declared_plans() -> tuple[Plan, ...]:
    """The declared plans, in declaration order."""
    from bcapp.billing.plans import declared

    return declared()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bcapp.billing' has no attribute {name!r}")
