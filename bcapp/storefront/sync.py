"""Keeping a store's storefront scripts the declared ones, through the Scripts API
(`/v3/content/scripts`), as App Extensions are kept (bcapp/service/app_extensions.py).

Each declared script is placed once per channel it names, with `auto_uninstall` (BigCommerce
deletes it when the app is uninstalled). bcapp records the uuid of each script it creates with
its name, channel and the installation it belongs to (bcapp/store/created.py) and touches only
those: a recorded script whose fields differ from its declaration is updated, one no longer
declared is deleted, a declaration without a script is created. A script bcapp created in this
installation that is gone was deleted by the merchant: BigCommerce asks apps not to put it
back on their own, so it is reported (`bcapp stores show`, reconcile) and restored only when
asked (`bcapp storefront restore HASH`). Runs in the install's follow-up task and in reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bcapp.service.changes import summary
from bcapp.service.store_client import StoreClient
from bcapp.store import CreatedRecords
from bcapp.store.created import SCRIPT
from bcapp.storefront.scripts import Script

SCRIPTS = "v3/content/scripts"
COMPARED = ("description", "src", "load_method", "location", "visibility", "consent_category",
            "integrity_hashes", "auto_uninstall", "kind")


@dataclass
class ScriptChanges:
    """What one sync did, by "name (channel N)"."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    removed_by_merchant: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.removed_by_merchant)

    def summary(self) -> str:
        """One line: "created badge (channel 1); removed by the merchant …", or "unchanged"."""
        return summary((
            ("created", self.created),
            ("updated", self.updated),
            ("deleted", self.deleted),
            ("removed by the merchant (bcapp storefront restore puts them back)",
             self.removed_by_merchant),
        ), ordered=True)


def keep_scripts(
    api: StoreClient,
    declared: tuple[Script, ...],
    created: CreatedRecords,
    app_url: str,
    restore: bool = False,
) -> ScriptChanges:
    """Make the store's scripts of this app exactly `declared` (see above); with `restore`,
    scripts the merchant removed are put back too."""
    changes = ScriptChanges()
    store_hash = api.store_hash
    recorded = created.created(store_hash, SCRIPT)
    listed = {str(node["uuid"]): node for node in api.pages_v3(SCRIPTS, limit=250)
              if isinstance(node, dict) and isinstance(node.get("uuid"), str)}
    wanted = {(script.name, channel): script for script in declared for channel in script.channels}
    present: dict[tuple[str, int], str] = {}
    for uuid, what in recorded.items():
        name, channel, install_id = _parts(what)
        node = listed.get(uuid)
        key = (name, channel)
        if node is not None and key not in present:
            present[key] = uuid
            continue
        if node is not None or restore or install_id != api.install_id or key not in wanted:
            if node is not None:  # a second copy of one declaration
                api.delete(f"{SCRIPTS}/{uuid}")
                changes.deleted.append(_label(key))
            created.drop_created(store_hash, SCRIPT, uuid)
            continue
        present[key] = ""  # removed by the merchant in this installation: left out
        changes.removed_by_merchant.append(_label(key))
    for key, uuid in present.items():
        if not uuid:
            continue
        script = wanted.get(key)
        if script is None:
            api.delete(f"{SCRIPTS}/{uuid}")
            created.drop_created(store_hash, SCRIPT, uuid)
            changes.deleted.append(_label(key))
        elif _differs(listed[uuid], script.as_body(key[1], app_url)):
            api.put(f"{SCRIPTS}/{uuid}", script.as_body(key[1], app_url))
            changes.updated.append(_label(key))
    for key, script in wanted.items():
        if key in present:
            continue
        made = _uuid_of(api.post(SCRIPTS, script.as_body(key[1], app_url)))
        if made:
            created.add_created(store_hash, SCRIPT, made, f"{key[0]}|{key[1]}|{api.install_id}")
        changes.created.append(_label(key))
    return changes


def _parts(what: str) -> tuple[str, int, str]:
    name, _, rest = what.partition("|")
    channel, _, install_id = rest.partition("|")
    return name, int(channel) if channel.isascii() and channel.isdigit() else 0, install_id


def _differs(node: dict[str, Any], body: dict[str, Any]) -> bool:
    return any(node.get(name) != body.get(name) for name in COMPARED if name in node)


def _uuid_of(answer: Any) -> str | None:
    data = answer.get("data") if isinstance(answer, dict) else None
    uuid = data.get("uuid") if isinstance(data, dict) else None
    return uuid if isinstance(uuid, str) and uuid else None


def _label(key: tuple[str, int]) -> str:
    return f"{key[0]} (channel {key[1]})"
