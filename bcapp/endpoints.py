"""BigCommerce's callbacks, each declared once: its path, its one method, how it is counted.

Everything that needs a callback's path or method reads it here: the web layer registers each
declared callback's route with its method guard, its per-address abuse limit and its metrics
label from this table (bcapp/web/routes.py); `Settings.callback_urls` (what `bcapp check`
prints for the Developer Portal) and the webhook destination come from it too.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "/bigcommerce"


@dataclass(frozen=True)
class Callback:
    """One callback route."""

    name: str  # its label in metrics, abuse limits and logs ("load")
    method: str  # the one method BigCommerce sends it with; any other is a 405
    portal_field: str | None = None  # the Developer Portal field it is registered in
    # Counted against the client address before the view runs (load counts its requests in
    # its own one-round-trip script instead; webhooks count only deliveries that fail).
    counts_address_first: bool = True

    @property
    def path(self) -> str:
        """Where it is served: /bigcommerce/<name>."""
        return f"{PREFIX}/{self.name}"


_DECLARED: dict[str, Callback] = {}
_BY_PATH: dict[str, Callback] = {}


def declare(callback: Callback) -> Callback:
    """Add a callback to the table (a name is declared once)."""
    if callback.name in _DECLARED:
        raise ValueError(f"callback {callback.name!r} is already declared")
    _DECLARED[callback.name] = callback
    _BY_PATH[callback.path] = callback
    return callback


def withdraw(name: str) -> None:
    """Remove a declared callback (tests that declare one of their own)."""
    callback = _DECLARED.pop(name, None)
    if callback is not None:
        _BY_PATH.pop(callback.path, None)


def declared() -> tuple[Callback, ...]:
    """Every declared callback, in declaration order."""
    return tuple(_DECLARED.values())


def at_path(path: str) -> Callback | None:
    """The callback served at `path` (no trailing slash), or None."""
    return _BY_PATH.get(path)


def named(name: str) -> Callback | None:
    """The callback declared under `name`, or None."""
    return _DECLARED.get(name)


AUTH = declare(Callback("auth", "GET", "Auth Callback URL"))
LOAD = declare(Callback("load", "GET", "Load Callback URL", counts_address_first=False))
UNINSTALL = declare(Callback("uninstall", "GET", "Uninstall Callback URL"))
REMOVE_USER = declare(Callback("remove-user", "GET", "Remove User Callback URL"))
# Webhooks count an address only when a delivery fails to verify (bcapp/service/app_callbacks.py).
WEBHOOKS = declare(Callback("webhooks", "POST", counts_address_first=False))
HANDOFF = declare(Callback("handoff", "GET"))
