"""The Scripts API's rules, from BigCommerce's `reference/scripts.v3.yml` and
`docs/integrations/scripts.mdx`: field types, enums and limits, the 422 body's `errors` by
field, and a script's JSON.

Where BigCommerce documents no exact words (the per-app limit, which fields clash), the
messages are the simulator's own; the status (422) and the error body's shape are the
reference's: `{"status", "title", "type", "errors": {field: message}}`.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from bcapp.simulator.storefront_model import SimScript

MAX_SCRIPTS_PER_APP = 10  # "Each app can have 10 API-created scripts" (per store)
MAX_INTEGRITY_HASHES = 5
MAX_SCRIPT_TAGS = 5  # inline (`script_tag`) html: up to five `<script>` tags
MAX_HTML = 65_536
MAX_NAME = 255
KINDS = ("src", "script_tag")
LOAD_METHODS = ("default", "async", "defer")
LOCATIONS = ("head", "footer")
VISIBILITIES = ("storefront", "all_pages", "checkout", "order_confirmation")
ON_CHECKOUT = ("checkout", "all_pages")  # need `store_content_checkout` (the reference)
CONSENT_CATEGORIES = ("essential", "functional", "analytics", "targeting")
SORTS = ("name", "description", "date_created", "date_modified")
ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
LIMIT_REACHED = f"The app has reached its limit of {MAX_SCRIPTS_PER_APP} scripts on this store."
_INTEGRITY = re.compile(r"sha(256|384|512)-[A-Za-z0-9+/]+={0,2}")
_SCRIPT_TAG = re.compile(r"<script\b", re.IGNORECASE)
# Writable fields and the type each must have (read-only ones sent are ignored, as the API does).
_TYPES: dict[str, type] = {
    "name": str, "description": str, "html": str, "src": str, "auto_uninstall": bool,
    "load_method": str, "location": str, "visibility": str, "kind": str,
    "consent_category": str, "enabled": bool, "channel_id": int, "integrity_hashes": list,
}
_ENUMS: dict[str, tuple[str, ...]] = {
    "load_method": LOAD_METHODS, "location": LOCATIONS, "visibility": VISIBILITIES,
    "kind": KINDS, "consent_category": CONSENT_CATEGORIES,
}


def error_body(status: int, title: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """The reference's error payload (`Error Response`)."""
    body: dict[str, Any] = {"status": status, "title": title, "type": ERROR_TYPE}
    if errors is not None:
        body["errors"] = errors
    return body


def checked_fields(
    body: object, current: SimScript | None, channels: list[int]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields a create (`current` None) or an update of `current` sets, and the errors by
    field (empty when the script may be saved)."""
    if not isinstance(body, dict):
        return {}, {"body": "Send one script as a JSON object."}
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for name, kind in _TYPES.items():
        if name not in body:
            continue
        value = body[name]
        # bool is an int in Python: a channel_id of `true` is not a channel
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors[name] = f"{name} must be a {_type_word(kind)}."
        elif name in _ENUMS and value not in _ENUMS[name]:
            errors[name] = f"{name} must be one of: {', '.join(_ENUMS[name])}."
        else:
            fields[name] = value
    if current is None and "name" not in body:
        errors["name"] = "name is required."
    if "kind" in fields:  # the other kind's field goes: a script is a src or a script_tag
        fields.setdefault("html" if fields["kind"] == "src" else "src", "")
    merged = {**(asdict(current) if current is not None else {}), **fields}
    errors.update(_clashes(merged, fields, current is None, channels))
    return fields, {name: errors[name] for name in sorted(errors)}


def _clashes(
    merged: dict[str, Any], sent: dict[str, Any], creating: bool, channels: list[int]
) -> dict[str, str]:
    """Rules between fields: name length, src/html by kind, load method, hashes, channel."""
    errors: dict[str, str] = {}
    name = merged.get("name", "")
    if "name" in sent and not 1 <= len(name.strip()) <= MAX_NAME:
        errors["name"] = f"name must be 1 to {MAX_NAME} characters."
    kind = merged.get("kind", "src")
    if kind == "src":
        if sent.get("html"):
            errors["html"] = "Do not send html for a script of kind src."
        if (creating or "src" in sent or "kind" in sent) and not _script_url(
            merged.get("src", "")
        ):
            errors["src"] = "src must be the script's http(s) URL for a script of kind src."
    else:
        if sent.get("src"):
            errors["src"] = "Do not send src for a script of kind script_tag."
        tags = len(_SCRIPT_TAG.findall(merged.get("html", "")))
        if len(merged.get("html", "")) > MAX_HTML:
            errors["html"] = f"html must be at most {MAX_HTML} characters."
        elif not 1 <= tags <= MAX_SCRIPT_TAGS:
            errors["html"] = f"html must hold 1 to {MAX_SCRIPT_TAGS} <script> tags."
        if merged.get("load_method", "default") != "default":
            errors["load_method"] = "A script of kind script_tag must use load_method default."
    hashes = merged.get("integrity_hashes", [])
    if len(hashes) > MAX_INTEGRITY_HASHES:
        errors["integrity_hashes"] = f"At most {MAX_INTEGRITY_HASHES} integrity hashes."
    elif not all(isinstance(one, str) and _INTEGRITY.fullmatch(one) for one in hashes):
        errors["integrity_hashes"] = "Each integrity hash is sha256-, sha384- or sha512-<base64>."
    channel = merged.get("channel_id", 1)
    if "channel_id" in sent and channel not in channels:
        errors["channel_id"] = f"The store has no channel {channel}."
    return errors


def _script_url(src: str) -> bool:
    parts = urlsplit(src)
    return parts.scheme in ("http", "https", "") and bool(parts.netloc) and src.startswith(
        ("http://", "https://", "//")
    )


def _type_word(kind: type) -> str:
    return {str: "string", bool: "boolean", int: "integer", list: "list of strings"}[kind]


def script_json(script: SimScript) -> dict[str, Any]:
    """A script as the API answers it (`script_Full`)."""
    return asdict(script)


def sort_key(script: SimScript, field_name: str) -> str:
    """The value `sort=` orders by."""
    return str(getattr(script, field_name)).lower()
