"""What `bcapp import` takes in: only what bcapp itself would have written.

A document is rebuilt as bcapp writes it (L3 of the third review, L9 of the fourth): a record
that decrypts with the configured keys, no field bcapp never writes, ids, times and sizes in
bcapp's ranges; the sealed ciphertexts are kept as they came. bcapp/store/transfer.py moves the
rebuilt document in and out of Redis.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import fields
from typing import Any

from bcapp.crypto import TokenCipher
from bcapp.models import Installation, StoreUser, UninstallEvent
from bcapp.store.records import (
    CorruptRecord,
    installation_from_json,
    installation_to_json,
    user_from_json,
    user_to_json,
)
from bcapp.validation import STORE_HASH, exact_origin, positive_int

FORMAT = "bcapp-export/1"
# The fields bcapp writes, and nothing else.
DOCUMENT_FIELDS = ("format", "store_hash", "installation", "users", "settings", "expires_in")
INSTALLATION_FIELDS = frozenset(field.name for field in fields(Installation))
USER_FIELDS = frozenset(field.name for field in fields(StoreUser))
UNINSTALL_FIELDS = frozenset(field.name for field in fields(UninstallEvent))
UNINSTALL_SOURCES = frozenset({"callback", "webhook", "reconcile"})  # bcapp/models.py
KINDS = frozenset({"app", "api_account"})
# bcapp writes its clock's seconds: nothing before 1970 nor after 2100 (a time past year 9999
# made `stores list` crash for every store).
LATEST_TIME = 4_102_444_800
# The longest grace period BCAPP_UNINSTALL_GRACE accepts (bcapp/settings.py), plus the day the
# records outlive it.
MAX_EXPIRES_IN = 10**8 + 86400
# Settings: the app writes them from its pages, one request at most 64 KiB
# (bcapp/web/__init__.py MAX_REQUEST_BYTES), and from its handlers, in small values.
MAX_SETTINGS = 1000
MAX_SETTING_NAME_CHARS = 256
MAX_SETTING_CHARS = 64 * 1024


def rebuilt_document(document: object, cipher: TokenCipher) -> dict[str, Any]:
    """The document as bcapp would have written it; ValueError naming the store, the record
    and the field when it holds anything bcapp never writes."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a bcapp export line")
    store_hash = document.get("store_hash")
    if not isinstance(store_hash, str) or not STORE_HASH.fullmatch(store_hash):
        raise ValueError("no valid store hash")
    _known_fields(f"store {store_hash}", document, DOCUMENT_FIELDS)
    record, users = document.get("installation"), document.get("users")
    if not isinstance(record, dict) or not isinstance(users, dict):
        raise ValueError(f"store {store_hash}: installation or users malformed")
    _known_fields(f"store {store_hash}: installation", record, INSTALLATION_FIELDS)
    uninstall = record.get("uninstall")
    if isinstance(uninstall, dict):
        _known_fields(f"store {store_hash}: uninstall", uninstall, UNINSTALL_FIELDS)
    try:
        installation = installation_from_json(json.dumps(record), store_hash, cipher)
    except CorruptRecord as exc:
        if exc.reason == "token_does_not_decrypt":
            raise ValueError(
                f"store {store_hash}: its record does not decrypt with TOKEN_ENCRYPTION_KEYS"
            ) from exc
        raise ValueError(f"store {store_hash}: its record is malformed ({exc.reason})") from exc
    _refuse_unsafe_installation(installation)
    expires = document.get("expires_in")
    if expires is not None and (type(expires) is not int or not 0 < expires <= MAX_EXPIRES_IN):
        raise ValueError(
            f"store {store_hash}: expires_in must be a positive whole number of seconds "
            f"up to {MAX_EXPIRES_IN}"
        )
    # The sealed token and secret are kept as they came (sealing again would change them
    # on every import); every other field is what bcapp writes for the parsed installation.
    rebuilt = json.loads(installation_to_json(installation, cipher))
    for sealed in ("access_token", "client_secret"):
        if sealed in rebuilt:
            rebuilt[sealed] = record[sealed]
    return {
        "format": FORMAT,
        "store_hash": store_hash,
        "installation": rebuilt,
        "users": _rebuilt_users(installation, users),
        "settings": _checked_settings(store_hash, document.get("settings")),
        "expires_in": expires,
    }


def _known_fields(where: str, record: dict[Any, Any], known: Collection[str]) -> None:
    """ValueError naming the first field of `record` bcapp never writes."""
    for name in record:
        if name not in known:
            raise ValueError(f"{where}: bcapp never writes {_quoted(name)}")


def _quoted(name: object) -> str:
    """A name from the document, bounded, for a message (the CLI escapes control characters)."""
    return repr(str(name)[:64])


def _refuse_unsafe_installation(installation: Installation) -> None:
    """ValueError unless every field is what bcapp itself would have written (L3 of the third
    review, L9 of the fourth): the sealed token is not the only field a page, a header, a
    listing or reconcile trusts."""
    where = f"store {installation.store_hash}"
    texts = {
        "installer_email": installation.installer_email,
        "owner_email": installation.owner_email,
        "account_uuid": installation.account_uuid,
        "install_id": installation.install_id,
        "name": installation.name,
        "client_id": installation.client_id,
        "control_panel_url": installation.control_panel_url,
    }
    for name, text in texts.items():
        if (text is not None or name == "installer_email") and not _plain(text):
            raise ValueError(f"{where}: {name} holds control characters or is too long")
    if not installation.install_id:
        raise ValueError(f"{where}: install_id is empty")
    panel = installation.control_panel_url
    if panel is not None and exact_origin(panel) != panel:
        raise ValueError(f"{where}: control_panel_url is not an https origin")
    if installation.kind not in KINDS:
        raise ValueError(f"{where}: kind is none of {', '.join(sorted(KINDS))}")
    no_installer = type(installation.installer_id) is int and installation.installer_id == 0
    if not (installation.kind == "api_account" and no_installer):  # an account has none: 0
        _id(where, "installer_id", installation.installer_id)
    _id(where, "owner_id", installation.owner_id, optional=True)
    _time(where, "installed_at", installation.installed_at)
    _time(where, "updated_at", installation.updated_at)
    _time(where, "token_rejected_at", installation.token_rejected_at, optional=True)
    _time(where, "owner_since", installation.owner_since, optional=True)
    event = installation.uninstall
    if event is not None:
        if event.source not in UNINSTALL_SOURCES:
            # reconcile probes only a forgeable source before it purges (bcapp/service/reconcile.py)
            raise ValueError(
                f"{where}: uninstall: source is none of {', '.join(sorted(UNINSTALL_SOURCES))}"
            )
        _time(f"{where}: uninstall", "at", event.at)
        _time(f"{where}: uninstall", "recorded_at", event.recorded_at)
        _id(f"{where}: uninstall", "user_id", event.user_id, optional=True)


def _rebuilt_users(installation: Installation, users: dict[str, Any]) -> dict[str, Any]:
    """Each user as bcapp writes it; ValueError naming the user and the field otherwise."""
    store_hash = installation.store_hash
    owner_id = installation.installer_id if installation.owner_id is None else installation.owner_id
    rebuilt = {}
    for uid, record in users.items():
        where = f"store {store_hash}: user {str(uid)[:32]}"  # the CLI escapes what it prints
        if not isinstance(record, dict):
            raise ValueError(f"{where} malformed")
        _known_fields(where, record, USER_FIELDS)
        try:
            user = user_from_json(json.dumps(record))
        except CorruptRecord as exc:
            raise ValueError(f"{where} malformed") from exc
        _id(where, "id", user.id)
        if str(user.id) != uid or not _plain(user.email) or not _plain(user.access_id):
            raise ValueError(f"{where} is filed under another id")
        if type(user.is_owner) is not bool:
            raise ValueError(f"{where}: is_owner is not true or false")
        if user.is_owner != (user.id == owner_id):
            raise ValueError(f"{where}'s owner flag contradicts the owner")
        _time(where, "added_at", user.added_at)
        rebuilt[uid] = json.loads(user_to_json(user))
    return rebuilt


def _checked_settings(store_hash: str, settings: object) -> dict[str, str]:
    """The store's settings, text to text within bcapp's sizes; ValueError otherwise."""
    where = f"store {store_hash}"
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: settings malformed")
    if len(settings) > MAX_SETTINGS:
        raise ValueError(f"{where}: {len(settings)} settings, more than {MAX_SETTINGS}")
    for name, value in settings.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"{where}: settings must map text to text")
        if not name or not _plain(name, MAX_SETTING_NAME_CHARS):
            raise ValueError(f"{where}: a setting's name is empty, too long or not printable")
        if len(value) > MAX_SETTING_CHARS:
            raise ValueError(f"{where}: setting {_quoted(name)} is over {MAX_SETTING_CHARS} chars")
    return dict(settings)


def _id(where: str, name: str, value: object, optional: bool = False) -> None:
    """ValueError unless `value` is a positive integer id (or None, when `optional`)."""
    if optional and value is None:
        return
    try:
        positive_int(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {name} is not a positive whole number") from exc


def _time(where: str, name: str, value: object, optional: bool = False) -> None:
    """ValueError unless `value` is a time bcapp could have written (or None, when `optional`)."""
    if optional and value is None:
        return
    if type(value) is not int or not 0 <= value <= LATEST_TIME:
        raise ValueError(f"{where}: {name} is no time bcapp writes (seconds from 1970 to 2100)")


def _plain(text: object, limit: int = 512) -> bool:
    """Printable text of a sane length: nothing that could break a header or a page."""
    return isinstance(text, str) and len(text) <= limit and text.isprintable()
