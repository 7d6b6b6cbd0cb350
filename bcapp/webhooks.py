"""Handlers of BigCommerce webhook events, declared by the app built on bcapp.

In a module of the app (`BCAPP_APP`'s, or one named in `BCAPP_RECEIVERS`: every bcapp process
imports them once, when it wires bcapp, bcapp/app_spec.py)::

    from bcapp import webhooks

    @webhooks.on("store/order/created")
    def order_created(event: webhooks.Event) -> None:
        order = event.api.get(f"v2/orders/{event.data['id']}")

bcapp subscribes every installed store to the declared scopes (and `store/app/uninstalled`),
acknowledges each delivery within milliseconds, and runs each handler whose scope receives the
event in a Celery worker (`bcapp worker`), with retries and dead letters (docs/webhooks.md).
Delivery is at least once and in no guaranteed order: a handler must be idempotent. A scope
BigCommerce does not offer stops the process at import, naming the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bcapp import webhook_scopes
from bcapp.errors import ConfigurationError

if TYPE_CHECKING:
    from bcapp.service.app_data import AppData
    from bcapp.service.store_client import StoreClient

__all__ = ["Event", "Handler", "declared", "on", "scopes"]


def _no_app_data() -> AppData:
    raise LookupError("this Event was built without its store's app data (app_data_of_store)")


@dataclass(frozen=True)
class Event:
    """One webhook event, as a handler receives it."""

    id: str  # the delivery's `webhook-id`
    store_hash: str
    scope: str  # e.g. "store/order/created"
    data: dict[str, Any]  # the payload's `data`, e.g. {"type": "order", "id": 173331}
    hash: str  # BigCommerce's digest of the event: equal for every delivery of one event
    created_at: int  # when the event happened (epoch seconds)
    attempt: int  # 1 for the first run of this handler, 2 for its first retry, ...
    client_of_store: Callable[[], StoreClient] = field(repr=False, compare=False)
    # The worker passes how to reach the store's app data; an event built by hand has none.
    app_data_of_store: Callable[[], AppData] = field(
        default=_no_app_data, repr=False, compare=False
    )

    @cached_property
    def api(self) -> StoreClient:
        """The store's API client (shared rate budget), built on first use: the store is read
        and its token decrypted only for handlers that call the API. NotInstalled when the
        store was uninstalled since the event (the run then ends without a retry)."""
        return self.client_of_store()

    @cached_property
    def app_data(self) -> AppData:
        """The app's own data for the store (`event.data` is the payload's), as pages see it
        in `ctx.app_data`: field-level writes and an atomic `update`, so a handler and a page
        saving at once both keep their changes. NotInstalled, like `api`, when the store was
        uninstalled since the event."""
        return self.app_data_of_store()


@dataclass(frozen=True)
class Handler:
    """A declared handler: the scopes it receives and the function that runs (a function
    declared for several scopes runs once for an event that more than one of them receives)."""

    scopes: tuple[str, ...]
    function: Callable[[Event], object]

    @property
    def name(self) -> str:
        """`module:qualname`: how tasks and dead letters name the handler."""
        return name_of(self.function)

    def receives(self, scope: str) -> bool:
        """True when an event of `scope` is this handler's."""
        return any(webhook_scopes.receives(mine, scope) for mine in self.scopes)


def name_of(function: Callable[..., object]) -> str:
    """`module:qualname` of a handler function."""
    return f"{function.__module__}:{function.__qualname__}"


_declared: dict[str, Handler] = {}


def on(scope: str) -> Callable[[Callable[[Event], object]], Callable[[Event], object]]:
    """Declare the decorated function a handler of `scope` (wildcards as BigCommerce offers
    them, e.g. ``store/order/*``)."""

    def declare(function: Callable[[Event], object]) -> Callable[[Event], object]:
        name = name_of(function)
        try:
            webhook_scopes.check(scope)
        except ValueError as exc:
            raise ConfigurationError(f"@webhooks.on in {name}: {exc}") from None
        known = _declared.get(name)
        earlier = known.scopes if known is not None else ()
        _declared[name] = Handler((*earlier, scope) if scope not in earlier else earlier, function)
        return function

    return declare


def declared() -> tuple[Handler, ...]:
    """Every declared handler, in declaration order."""
    return tuple(_declared.values())


def scopes() -> frozenset[str]:
    """The scopes the declared handlers receive (what each store is subscribed to, with
    `store/app/uninstalled`)."""
    return frozenset(scope for handler in _declared.values() for scope in handler.scopes)


def handlers_for(scope: str) -> list[Handler]:
    """The handlers that receive an event of `scope`."""
    return [handler for handler in _declared.values() if handler.receives(scope)]


def named(name: str) -> Handler | None:
    """The handler declared as `name` (`module:qualname`), if it still is."""
    return _declared.get(name)


def withdraw(name: str) -> None:
    """Forget a declaration (tests, and apps that declare handlers conditionally)."""
    _declared.pop(name, None)
