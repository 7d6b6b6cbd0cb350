"""Keeping a store's App Extensions exactly the declared ones (bcapp/extensions.py), through
the GraphQL Admin API.

The store lists only the extensions of the calling app's token. Per model, the declared
extensions are paired in order with the existing ones (oldest first): a pair whose url or
label differs is updated (the only mutable fields), a pair whose context differs is replaced,
a declaration without a partner is created, an extension without one is deleted. Deleting
first keeps a model within BigCommerce's two per app. Runs after each install (a task) and in
`bcapp reconcile`; a failure is remembered for `bcapp stores show` and never blocks an install.

An app's token is the app's alone: every extension it lists is the app's. A store-level API
account's token is shared with the merchant's other tools, so there only the extensions whose
ids bcapp recorded when it created them (bcapp/store/created.py) are paired, updated or
deleted; the others are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bcapp import extensions
from bcapp.errors import ApiError, GraphQLFailed
from bcapp.extensions import Extension
from bcapp.service.changes import summary
from bcapp.service.store_client import StoreClient
from bcapp.store import CreatedRecords, StoreCache
from bcapp.store.created import EXTENSION

log = logging.getLogger(__name__)
FAILURE = "app-extensions-failure"  # the store's cache entry naming the last failure
FAILURE_SECONDS = 8 * 86400  # past a daily reconcile's next run

LIST = """
query { store { appExtensions { edges { node {
  id context model url label { defaultValue locales { value localeCode } }
} } } } }
"""
CREATE = """
mutation Create($input: CreateAppExtensionInput!) {
  appExtension { createAppExtension(input: $input) { appExtension { id } } }
}
"""
UPDATE = """
mutation Update($input: UpdateAppExtensionInput!) {
  appExtension { updateAppExtension(input: $input) { appExtension { id } } }
}
"""
DELETE = """
mutation Delete($input: DeleteAppExtensionInput!) {
  appExtension { deleteAppExtension(input: $input) { deletedAppExtensionId } }
}
"""


@dataclass
class ExtensionChanges:
    """What one sync changed, by "MODEL url"."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def summary(self) -> str:
        """One line: "created ORDERS /orders/${id}; deleted …", or "unchanged"."""
        kinds = (("created", self.created), ("updated", self.updated), ("deleted", self.deleted))
        return summary(kinds, ordered=True)


def sync_extensions(
    api: StoreClient, declared: tuple[Extension, ...], created: CreatedRecords
) -> ExtensionChanges:
    """Make the store's App Extensions of this app exactly `declared`, changing only bcapp's
    own (see above)."""
    changes = ExtensionChanges()
    existing = _existing(api, created)
    for model in sorted({*existing, *(extension.model for extension in declared)}):
        wanted = [extension for extension in declared if extension.model == model]
        present = existing.get(model, [])
        pairs = list(zip(wanted, present, strict=False))
        replaced = [(w, p) for w, p in pairs if w.context != p["context"]]
        for node in present[len(wanted):] + [p for _, p in replaced]:
            api.graphql(DELETE, {"input": {"id": node["id"]}})
            created.drop_created(api.store_hash, EXTENSION, str(node["id"]))
            changes.deleted.append(f"{model} {node['url']}")
        for extension, node in pairs:
            if (extension, node) in replaced or not _differs(extension, node):
                continue
            data = {"url": extension.url, "label": extension.label_input()}
            api.graphql(UPDATE, {"input": {"id": node["id"], "data": data}})
            changes.updated.append(f"{model} {extension.url}")
        for extension in wanted[len(present):] + [w for w, _ in replaced]:
            answer = api.graphql(CREATE, {"input": extension.as_input()})
            _record(created, api.store_hash, answer, model)
            changes.created.append(f"{model} {extension.url}")
    return changes


def keep_in_step(
    api: StoreClient, granted: frozenset[str], cache: StoreCache, created: CreatedRecords
) -> ExtensionChanges | None:
    """Sync the store's extensions when the app manages any (it declares some, or was granted
    the scope to, so former ones are removed); None when it failed: the failure is remembered
    for `bcapp stores show` until a sync succeeds."""
    declared = extensions.declared()
    if not declared and extensions.SCOPE not in granted:
        return ExtensionChanges()  # never had any: nothing to ask BigCommerce
    try:
        changes = sync_extensions(api, declared, created)
    except ApiError as exc:
        log.warning("store=%s App Extensions not synced: %s", api.store_hash, exc)
        cache.remember(api.store_hash, FAILURE, str(exc)[:300], FAILURE_SECONDS)
        return None
    cache.forget_cached(api.store_hash, FAILURE)
    if changes:
        log.info("store=%s App Extensions: %s", api.store_hash, changes.summary())
    return changes


def _record(created: CreatedRecords, store_hash: str, answer: dict[str, Any], model: str) -> None:
    """Record the id of an extension bcapp created (an answer without one records nothing)."""
    made: Any = answer
    for name in ("appExtension", "createAppExtension", "appExtension", "id"):
        made = made.get(name) if isinstance(made, dict) else None
    if isinstance(made, str) and made:
        created.add_created(store_hash, EXTENSION, made, model)


def _existing(api: StoreClient, created: CreatedRecords) -> dict[str, list[dict[str, Any]]]:
    """The app's extensions on the store by model, oldest first (with a shared token, only
    those bcapp created)."""
    data = api.graphql(LIST)
    # Any level may come back null or malformed ({"data": {"store": null}} made the sync task
    # raise): a failed sync, remembered with its reason like a GraphQL error.
    store = data.get("store")
    if not isinstance(store, dict):
        raise GraphQLFailed("the answer names no store (data.store is null)")
    connection = store.get("appExtensions")
    edges = connection.get("edges") if isinstance(connection, dict) else None
    if not isinstance(edges, list):
        raise GraphQLFailed("the answer holds no list of App Extensions")
    nodes = [edge["node"] for edge in edges if isinstance(edge, dict) and "node" in edge]
    nodes = [node for node in nodes if isinstance(node, dict)]
    if api.shared_token:
        recorded = created.created(api.store_hash, EXTENSION)
        nodes = [node for node in nodes if str(node.get("id")) in recorded]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for node in sorted(nodes, key=_number):
        by_model.setdefault(str(node.get("model")), []).append(node)
    return by_model


def _differs(extension: Extension, node: dict[str, Any]) -> bool:
    label = node.get("label") or {}
    locales = sorted(
        (str(entry.get("localeCode")), str(entry.get("value")))
        for entry in label.get("locales") or []
    )
    return (
        node.get("url") != extension.url
        or label.get("defaultValue") != extension.label
        or tuple(locales) != extension.locales
    )


def _number(node: dict[str, Any]) -> int:
    """`bc/store/appExtension/12` -> 12 (creation order)."""
    tail = str(node.get("id", "")).rsplit("/", 1)[-1]
    return int(tail) if tail.isascii() and tail.isdigit() else 0  # `²` passes isdigit()
