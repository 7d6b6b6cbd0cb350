"""Keeping a store's webhook subscriptions true: the declared scopes, at bcapp's destination.

`GET /v3/hooks` lists only the hooks of the calling token's client (docs/protocol.md
"Webhooks"). For each scope the app wants (the declared handlers' scopes and
`store/app/uninstalled`), a hook to `APP_URL/bigcommerce/webhooks` must exist and be active: a
deactivated one (after 48 h of failed deliveries, or 90 days of silence) is re-activated with
`PUT is_active` rather than duplicated (BigCommerce allows one hook per store, app, scope and
destination); one at bcapp's webhook path on a former app URL named in `APP_URL_PREVIOUS` is
moved (no other destination is ever taken for a former one). Hooks to bcapp's destination for
scopes no longer wanted are deleted. A hook to any other destination is never touched.

bcapp changes only what is its own. An app's token is the app's alone, so every hook it lists
is the app's. A store-level API account's token is the merchant's and often shared with other
tools: there bcapp moves or deletes only hooks whose ids it recorded when it created them
(bcapp/store/created.py), and reports the others as left alone. Runs as a task after each
install and in `bcapp reconcile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bcapp import webhook_scopes, webhooks
from bcapp.service.changes import summary
from bcapp.service.store_client import StoreClient
from bcapp.store import CreatedRecords
from bcapp.store.created import HOOK

HOOKS = "v3/hooks"


@dataclass
class HookChanges:
    """What one sync changed, scope by scope."""

    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # Hooks bcapp would have moved or deleted, left alone: not created by bcapp (API accounts).
    left: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        """True when there is something to say (a change, or a hook left alone)."""
        return bool(self.created or self.reactivated or self.moved or self.deleted or self.left)

    def summary(self) -> str:
        """One line for logs and the CLI: "created store/order/created; deleted …"."""
        return summary((
            ("created", self.created),
            ("re-activated", self.reactivated),
            ("moved", self.moved),
            ("deleted", self.deleted),
            ("left alone (not created by bcapp)", self.left),
        ))


# Why an API-account store without its client secret gets no webhook subscriptions: its hooks'
# deliveries are signed with that secret (bcapp/service/webhooks.py) and would all be refused.
NOT_SUBSCRIBED = (
    "not subscribed: the API account's client secret was not given, so its webhook deliveries "
    "could not be verified (bcapp stores add again with the credentials file)"
)


def wanted_scopes() -> frozenset[str]:
    """What every store is subscribed to: the declared handlers' scopes and the uninstall."""
    return webhooks.scopes() | {webhook_scopes.UNINSTALLED}


@dataclass(frozen=True)
class HookTarget:
    """Where a store's hooks go: bcapp's destination, and where they went under former app URLs
    (`Settings.former_webhook_destinations`)."""

    destination: str
    former: tuple[str, ...] = ()


def sync_hooks(
    api: StoreClient, target: HookTarget, wanted: frozenset[str], created: CreatedRecords
) -> HookChanges:
    """Make the store's hooks at bcapp's destination exactly `wanted`, each active, changing
    only bcapp's own (see above)."""
    changes = HookChanges()
    hooks = [hook for hook in api.pages_v3(HOOKS, limit=250) if _well_formed(hook)]
    recorded = created.created(api.store_hash, HOOK) if api.shared_token else {}

    def owned(hook: dict[str, Any]) -> bool:
        return not api.shared_token or str(hook["id"]) in recorded

    ours = [hook for hook in hooks if hook["destination"] == target.destination]
    former = [hook for hook in hooks if hook["destination"] in target.former]
    movable = [hook for hook in former if owned(hook)]
    for scope in sorted(wanted):
        current = [hook for hook in ours if hook["scope"] == scope]
        if any(hook["is_active"] for hook in current):
            continue
        if current:  # it delivers to bcapp alone: turning it on takes nothing from anyone
            api.put(f"{HOOKS}/{current[0]['id']}", {"is_active": True})
            changes.reactivated.append(scope)
            continue
        moving = next((hook for hook in movable if hook["scope"] == scope), None)
        if moving is not None:
            movable.remove(moving)
            moved = {"destination": target.destination, "is_active": True}
            api.put(f"{HOOKS}/{moving['id']}", moved)
            changes.moved.append(scope)
            continue
        hook = {"scope": scope, "destination": target.destination, "is_active": True}
        _record(created, api.store_hash, api.post(HOOKS, hook), scope)
        changes.created.append(scope)
    # What remains: hooks at bcapp's destination for scopes no longer wanted, and bcapp's hooks
    # at a former destination that nothing moved (they would go to an app URL no longer served).
    leftovers = [hook for hook in ours if hook["scope"] not in wanted] + movable
    leftovers += [hook for hook in former if not owned(hook)]
    for hook in leftovers:
        if not owned(hook):
            changes.left.append(f"{hook['scope']} at {hook['destination']}")
            continue
        api.delete(f"{HOOKS}/{hook['id']}")
        created.drop_created(api.store_hash, HOOK, str(hook["id"]))
        changes.deleted.append(hook["scope"])
    return changes


def _record(created: CreatedRecords, store_hash: str, answer: Any, scope: str) -> None:
    """Record the id of a hook bcapp created (an answer without one records nothing)."""
    data = answer.get("data") if isinstance(answer, dict) else None
    hook_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(hook_id, int):
        created.add_created(store_hash, HOOK, str(hook_id), scope)


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
