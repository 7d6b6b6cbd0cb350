"""The JSON mapping of stored records, and what a corrupt record is.

Values are JSON, never pickle; access tokens are AES-GCM ciphertext bound to their store hash
(bcapp/crypto.py). Every reader turns a record that does not parse, misses a field or whose
token does not decrypt into `CorruptRecord`, which the store logs by name and treats as absent
(docs/architecture.md, "Corrupt records").
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bcapp.crypto import CLIENT_SECRET, DecryptionError, TokenCipher
from bcapp.models import Installation, StoreUser, UninstallEvent
from bcapp.scopes import ScopeSet

log = logging.getLogger(__name__)
T = TypeVar("T")


class CorruptRecord(Exception):
    """A stored record cannot be read back; `reason` says how (never the record's content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def report_corrupt(kind: str, store_hash: str, error: CorruptRecord) -> None:
    """The one log line for a corrupt record, naming the store, the record and the fault."""
    log.error(
        "corrupt %s record for store=%s (%s): treated as absent", kind, store_hash, error.reason
    )


def readable(
    kind: str, store_hash: str, raw: str | bytes | None, parse: Callable[[str | bytes], T]
) -> T | None:
    """`parse(raw)`; None when the record is absent, or corrupt (then logged by name).

    The one rule every reader of the store follows (docs/architecture.md, "Corrupt records").
    """
    if raw is None:
        return None
    try:
        return parse(raw)
    except CorruptRecord as error:
        report_corrupt(kind, store_hash, error)
        return None


def read_installation(
    store_hash: str, raw: str | bytes | None, cipher: TokenCipher
) -> Installation | None:
    """A stored installation with its token decrypted; None when absent or corrupt (logged)."""
    return readable(
        "installation",
        store_hash,
        raw,
        lambda text: installation_from_json(text, store_hash, cipher),
    )


def read_user(store_hash: str, raw: str | bytes | None) -> StoreUser | None:
    """A stored user; None when absent or corrupt (logged)."""
    return readable("user", store_hash, raw, user_from_json)


def installation_to_json(installation: Installation, cipher: TokenCipher) -> str:
    """The stored form of an installation, its token sealed for its store.

    Optional fields that are empty are left out (readers default them), which keeps a record
    near 1 KiB of Redis memory per store.
    """
    fields = {
        "store_hash": installation.store_hash,
        "access_token": cipher.encrypt(installation.store_hash, installation.access_token),
        "scopes": str(installation.scopes),
        "installer_id": installation.installer_id,
        "installer_email": installation.installer_email,
        "owner_id": installation.owner_id,
        "owner_email": installation.owner_email,
        "account_uuid": installation.account_uuid,
        "installed_at": installation.installed_at,
        "updated_at": installation.updated_at,
        "install_id": installation.install_id,
        "control_panel_url": installation.control_panel_url,
        "uninstall": event_to_dict(installation.uninstall),
        "kind": installation.kind,
        "token_rejected_at": installation.token_rejected_at,
        "owner_since": installation.owner_since,
        "name": installation.name,
        "client_id": installation.client_id,
        "client_secret": (
            None
            if installation.client_secret is None
            else cipher.encrypt(installation.store_hash, installation.client_secret, CLIENT_SECRET)
        ),
    }
    return json.dumps(
        {
            name: value
            for name, value in fields.items()
            if value is not None and not (name == "kind" and value == "app")
        },
        separators=(",", ":"),
    )


def installation_fields(raw: str | bytes) -> dict[str, Any]:
    """The JSON object of a stored installation, without decrypting anything."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CorruptRecord("not_json") from exc
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise CorruptRecord("not_an_installation")
    if type(data.get("updated_at")) is not int or type(data.get("installed_at")) is not int:
        raise CorruptRecord("times")
    return data


@dataclass(frozen=True)
class SealedInstallation:
    """A stored installation read without decrypting its token: what the load's fast path
    and the list of installed stores need, under the same rules as every other reader."""

    install_id: str
    scopes: ScopeSet
    sealed_token: str
    installed: bool
    owner_id: int | None
    control_panel_url: str | None


# A stored grant's scopes, parsed once per process for each distinct text: every session check
# reads the installation, and a deployment's stores share a handful of grants.
parsed_scopes = functools.lru_cache(maxsize=256)(ScopeSet.parse)


def sealed_installation(raw: str | bytes, store_hash: str) -> SealedInstallation:
    """The record of `store_hash`, its token left sealed; CorruptRecord on any fault."""
    data = installation_fields(raw)
    install_id, scope_text, panel = (
        data.get("install_id"),
        data.get("scopes"),
        data.get("control_panel_url"),
    )
    owner_id = data.get("owner_id")
    if data.get("store_hash") != store_hash or not isinstance(install_id, str):
        raise CorruptRecord("fields")
    if not isinstance(scope_text, str) or (owner_id is not None and type(owner_id) is not int):
        raise CorruptRecord("fields")
    try:
        scopes = parsed_scopes(scope_text)
    except ValueError as exc:
        raise CorruptRecord("fields") from exc
    return SealedInstallation(
        install_id=install_id,
        scopes=scopes,
        sealed_token=data["access_token"],
        installed=data.get("uninstall") is None,
        owner_id=owner_id,
        control_panel_url=panel if isinstance(panel, str) else None,
    )


def installation_from_json(raw: str | bytes, store_hash: str, cipher: TokenCipher) -> Installation:
    """An installation read back, its token decrypted; CorruptRecord on any fault."""
    data = installation_fields(raw)
    try:
        token = cipher.decrypt(store_hash, data["access_token"])
        sealed_secret = data.get("client_secret")
        secret = (
            None
            if sealed_secret is None
            else cipher.decrypt(store_hash, sealed_secret, CLIENT_SECRET)
        )
    except DecryptionError as exc:
        raise CorruptRecord("token_does_not_decrypt") from exc
    try:
        installation = Installation(
            store_hash=data["store_hash"],
            access_token=token,
            scopes=parsed_scopes(data["scopes"]),
            installer_id=data["installer_id"],
            installer_email=data["installer_email"],
            owner_id=data.get("owner_id"),
            owner_email=data.get("owner_email"),
            account_uuid=data.get("account_uuid"),
            installed_at=data["installed_at"],
            updated_at=data["updated_at"],
            install_id=data["install_id"],
            control_panel_url=data.get("control_panel_url"),
            uninstall=event_from_dict(data.get("uninstall")),
            kind=data.get("kind", "app"),
            token_rejected_at=data.get("token_rejected_at"),
            owner_since=data.get("owner_since"),
            name=data.get("name"),
            client_id=data.get("client_id"),
            client_secret=secret,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptRecord("fields") from exc
    if installation.store_hash != store_hash or not isinstance(installation.install_id, str):
        raise CorruptRecord("fields")
    return installation


def event_to_dict(event: UninstallEvent | None) -> dict[str, Any] | None:
    """The stored form of an uninstall event."""
    if event is None:
        return None
    return {
        "at": event.at,
        "source": event.source,
        "recorded_at": event.recorded_at,
        "user_id": event.user_id,
    }


def event_from_dict(data: object) -> UninstallEvent | None:
    """An uninstall event read back (None stays None); CorruptRecord when malformed."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CorruptRecord("uninstall")
    try:
        event = UninstallEvent(
            at=data["at"],
            source=data["source"],
            recorded_at=data["recorded_at"],
            user_id=data.get("user_id"),
        )
    except KeyError as exc:
        raise CorruptRecord("uninstall") from exc
    if type(event.at) is not int or type(event.recorded_at) is not int:
        raise CorruptRecord("uninstall")
    return event


def event_from_json(raw: str | bytes) -> UninstallEvent:
    """An uninstall marker read back; CorruptRecord when it does not parse."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CorruptRecord("not_json") from exc
    event = event_from_dict(data)
    if event is None:
        raise CorruptRecord("uninstall")
    return event


def user_to_json(user: StoreUser) -> str:
    """The stored form of a user's access."""
    return json.dumps(
        {
            "id": user.id,
            "email": user.email,
            "is_owner": user.is_owner,
            "access_id": user.access_id,
            "added_at": user.added_at,
        },
        separators=(",", ":"),
    )


def user_from_json(raw: str | bytes) -> StoreUser:
    """A user read back; CorruptRecord on any fault."""
    try:
        data = json.loads(raw)
        user = StoreUser(
            id=data["id"],
            email=data["email"],
            is_owner=data["is_owner"],
            access_id=data["access_id"],
            added_at=data["added_at"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptRecord("user_fields") from exc
    if type(user.id) is not int or not isinstance(user.access_id, str):
        raise CorruptRecord("user_fields")
    return user
