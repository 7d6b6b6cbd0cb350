"""`@billing.on_change`: receivers of a store's subscription changes, run as Celery tasks.

```python
@billing.on_change
def subscription_changed(store_hash: str, change: str, old: Subscription | None,
                         new: Subscription) -> None:
    ...
```

`change` is "created", "renewed", "plan_changed", "suspended", "cancelled", "reactivated" or
"ended" (a cancelled subscription's paid period is over: access ends now). Each change is
announced once, by the one process that recorded it (billing/records.py), as one task per
receiver (`bcapp.run_signal`: retries and dead letters as webhook handlers have); like every
task, a receiver may run twice after a lost worker, so it should be idempotent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from bcapp import signals
from bcapp.billing.model import Subscription
from bcapp.metrics import BILLING_CHANGES

CHANGED = signals.TaskSignal("billing-subscription-changed")
Receiver = Callable[[str, str, Subscription | None, Subscription], object]


def on_change(receiver: Receiver) -> Receiver:
    """Run `receiver(store_hash, change, old, new)` in a task worker on each change."""

    @functools.wraps(receiver)
    def from_task(store_hash: str, change: str, old: str | None, new: str) -> object:
        kept = Subscription.of_json(new)
        if kept is None:
            raise ValueError("the task carries no readable subscription")
        return receiver(store_hash, change, Subscription.of_json(old), kept)

    CHANGED.connect_task(from_task)
    return receiver


def announce(
    publish: Callable[[str, str, str, dict[str, Any]], None],
    store_hash: str,
    change: str,
    old: Subscription | None,
    new: Subscription,
) -> None:
    """Queue one run of every receiver for this change."""
    BILLING_CHANGES.labels("ended" if change == "ended" else new.status).inc()
    fields = {"change": change, "old": old.as_json() if old else None, "new": new.as_json()}
    for name in signals.task_receiver_names(CHANGED.name):
        publish(CHANGED.name, name, store_hash, json.loads(json.dumps(fields)))
