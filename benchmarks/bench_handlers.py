"""The webhook handler the served intake benchmark declares (BCAPP_RECEIVERS): one task is
queued per delivery; no worker runs it during the measure."""

from __future__ import annotations

from bcapp import webhooks


@webhooks.on("store/order/created")
def order_created(event: webhooks.Event) -> None:
    """Nothing: the benchmark measures the intake."""
