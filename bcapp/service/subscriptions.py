"""Keeping a store's webhook subscriptions true: the declared scopes, at bcapp's destination.

`GET /v3/hooks` lists only the hooks of the calling app's token (docs/protocol.md "Webhooks").
For each scope the app wants (the declared handlers' scopes and `store/app/uninstalled`), a
hook to `APP_URL/bigcommerce/webhooks` must exist and be active: a deactivated one (after 48 h
of failed deliveries, or 90 days of silence) is re-activated with `PUT is_active` rather than
duplicated (BigCommerce allows one hook per store, app, scope and destination); one whose
destination is bcapp's webhook path on a former `APP_URL` is moved. Hooks to bcapp's
destination for scopes no longer wanted are deleted. A hook to any other destination (the
app's own, outside bcapp) is never touched. Runs as a task after each install and in
`bcapp reconcile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bcapp import webhook_scopes, webhooks
from bcapp.endpoints import WEBHOOKS
from bcapp.service.store_client import StoreClient

HOOKS = "v3/hooks"


@dataclass
class HookChanges:
    """What one sync changed, scope by scope."""

    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.reactivated or self.moved or self.deleted)

    def summary(self) -> str:
        """One line for logs and the CLI: "created store/order/created; deleted …"."""
        parts = [
            f"{what} {', '.join(sorted(scopes))}"
            for what, scopes in (
                ("created", self.created),
                ("re-activated", self.reactivated),
                ("moved", self.moved),
                ("deleted", self.deleted),
            )
            if scopes
        ]
        return "; ".join(parts) or "unchanged"


def wanted_scopes() -> frozenset[str]:
    """What every store is subscribed to: the declared handlers' scopes and the uninstall."""
    return webhooks.scopes() | {webhook_scopes.UNINSTALLED}


def sync_hooks(api: StoreClient, destination: str, wanted: frozenset[str]) -> HookChanges:
    """Make the store's hooks at `destination` exactly `wanted`, each active (see above)."""
    changes = HookChanges()
    hooks = [hook for hook in api.pages_v3(HOOKS, limit=250) if _well_formed(hook)]
    ours = [hook for hook in hooks if hook["destination"] == destination]
    former = [hook for hook in hooks if _is_former_destination(hook["destination"], destination)]
    for scope in sorted(wanted):
        current = [hook for hook in ours if hook["scope"] == scope]
        if any(hook["is_active"] for hook in current):
            continue
        if current:
            api.put(f"{HOOKS}/{current[0]['id']}", {"is_active": True})
            changes.reactivated.append(scope)
            continue
        moving = next((hook for hook in former if hook["scope"] == scope), None)
        if moving is not None:
            api.put(f"{HOOKS}/{moving['id']}", {"destination": destination, "is_active": True})
            changes.moved.append(scope)
            continue
        api.post(HOOKS, {"scope": scope, "destination": destination, "is_active": True})
        changes.created.append(scope)
    for hook in ours:
        if hook["scope"] not in wanted:
            api.delete(f"{HOOKS}/{hook['id']}")
            changes.deleted.append(hook["scope"])
    return changes


def blocked_domains(api: StoreClient) -> list[dict[str, Any]]:
    """`GET /v3/hooks/admin`'s `blocked_domains`: destinations BigCommerce stopped sending to
    for a while (a success ratio under 90 % in two minutes blocks a domain for three)."""
    answer = api.get(f"{HOOKS}/admin")
    data = answer.get("data") if isinstance(answer, dict) else None
    blocked = data.get("blocked_domains") if isinstance(data, dict) else None
    if not isinstance(blocked, list):
        return []
    return [entry for entry in blocked if isinstance(entry, dict)]


def _well_formed(hook: Any) -> bool:
    return (
        isinstance(hook, dict)
        and isinstance(hook.get("id"), int)
        and isinstance(hook.get("scope"), str)
        and isinstance(hook.get("destination"), str)
        and isinstance(hook.get("is_active"), bool)
    )


def _is_former_destination(candidate: str, destination: str) -> bool:
    """True for bcapp's webhook path on another origin (a former APP_URL)."""
    parts = urlsplit(candidate)
    return candidate != destination and parts.path == WEBHOOKS.path and not parts.query
