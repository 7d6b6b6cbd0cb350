"""A store's own API account (Settings > Store-level API accounts), kept like an installation.

BigCommerce shows an API account's client id, client secret and access token once, with the
API path `https://api.bigcommerce.com/stores/<hash>/v3/`, and offers the same as a `.txt`
download (docs/protocol.md "Store-level API accounts"). bcapp takes them from standard input or
that file, checks the token with one authenticated call per required scope before storing
anything, and keeps them exactly like an installed token: encrypted and bound to the store.
Legacy Basic Auth credentials (a username and API key on `store-<hash>.mybigcommerce.com/api/v2`)
are refused: they cannot use webhooks or the v3 API, and BigCommerce is retiring them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from bcapp.bigcommerce import BigCommerce
from bcapp.errors import ApiError, BcappError, TokenRejected
from bcapp.models import Installation
from bcapp.scopes import ScopeSet
from bcapp.store import InstallationStore
from bcapp.validation import LOOPBACK_HOSTS

log = logging.getLogger(__name__)

API_PATH_FORM = "https://api.bigcommerce.com/stores/<store hash>/v3/"
_API_PATH = re.compile(r"/stores/([a-z0-9]{1,32})/v[23]/?")
_TOKEN = re.compile(r"[A-Za-z0-9._~-]{8,1024}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_MAX_NAME_CHARS = 100
BASIC_AUTH_ADVICE = (
    "These are legacy Basic Auth credentials (a username and API key on "
    "store-<hash>.mybigcommerce.com/api/v2/). They cannot use webhooks or the v3 API and "
    "BigCommerce is retiring them, so bcapp does not take them. Create an OAuth API account "
    "instead: control panel > Settings > Store-level API accounts > Create API account, then "
    "give bcapp its API path and access token (or the .txt file it downloads)."
)
# One authenticated GET that needs each scope (its read-only twin, which the modify scope
# covers); required scopes without a probe cannot be checked before storing.
SCOPE_PROBES: dict[str, tuple[str, dict[str, str | int]]] = {
    "store_v2_information_read_only": ("v2/store", {}),
    "store_v2_products_read_only": ("v3/catalog/products", {"limit": 1}),
    "store_v2_orders_read_only": ("v2/orders/count", {}),
    "store_v2_customers_read_only": ("v3/customers", {"limit": 1}),
    "store_v2_content_read_only": ("v3/content/widgets", {"limit": 1}),
}
# Labels of the downloaded file (any case and spacing) and of a JSON object.
_FIELDS = {
    "access token": "access_token",
    "accesstoken": "access_token",
    "token": "access_token",
    "client id": "client_id",
    "client secret": "client_secret",
    "api path": "api_path",
    "name": "name",
    "client name": "name",
    "username": "basic_auth",
    "user name": "basic_auth",
    "api key": "basic_auth",
    "api token": "basic_auth",
}


class ApiAccountRefused(BcappError):
    """The credentials are not taken; `detail` says why and what to do instead (400)."""

    status = 400
    title = "These API credentials cannot be used"


@dataclass(frozen=True)
class ApiAccountCredentials:
    """What the control panel shows once for a store-level API account."""

    api_path: str
    access_token: str = field(repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    name: str | None = None

    @property
    def store_hash(self) -> str:
        """The store hash of the API path."""
        return store_hash_from_api_path(self.api_path)


def store_hash_from_api_path(api_path: str) -> str:
    """The hash of `https://api.bigcommerce.com/stores/<hash>/v3/` (v2 too, slash optional)."""
    text = api_path.strip()
    parts = urlsplit(text)
    if (parts.hostname or "").endswith(".mybigcommerce.com") or "/api/v2" in parts.path:
        raise ApiAccountRefused("basic_auth", BASIC_AUTH_ADVICE)
    match = _API_PATH.fullmatch(parts.path)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    )
    if match is None or not secure or parts.query or parts.fragment:
        raise ApiAccountRefused(
            "api_path", f"The API path must look like {API_PATH_FORM} (or .../v2/)."
        )
    return match.group(1)


def credentials(
    api_path: str,
    access_token: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    name: str | None = None,
) -> ApiAccountCredentials:
    """Validated credentials; ApiAccountRefused naming what is wrong (never echoing a secret)."""
    store_hash_from_api_path(api_path)
    token = access_token.strip()
    if not _TOKEN.fullmatch(token):
        raise ApiAccountRefused("access_token", "The access token is missing or malformed.")
    if client_id is not None and not _CLIENT_ID.fullmatch(client_id.strip()):
        raise ApiAccountRefused("client_id", "The client id is malformed.")
    secret = client_secret.strip() if client_secret else None
    if secret is not None and not _TOKEN.fullmatch(secret):
        raise ApiAccountRefused("client_secret", "The client secret is malformed.")
    label = (name or "").strip()[:_MAX_NAME_CHARS] or None
    return ApiAccountCredentials(
        api_path.strip(), token, client_id.strip() if client_id else None, secret, label
    )


def parse_credentials_file(text: str) -> ApiAccountCredentials:
    """Credentials from the downloaded `.txt` (`Label: value` lines) or a JSON object."""
    text = text.lstrip("\ufeff").strip()
    found = _from_json(text) if text.startswith("{") else _from_lines(text)
    if "basic_auth" in found:
        raise ApiAccountRefused("basic_auth", BASIC_AUTH_ADVICE)
    if "api_path" not in found or "access_token" not in found:
        raise ApiAccountRefused(
            "file_fields",
            "The file must hold at least an access token and an API path "
            "(the lines 'ACCESS TOKEN: ...' and 'API PATH: ...' of the downloaded .txt file).",
        )
    return credentials(
        found["api_path"],
        found["access_token"],
        found.get("client_id"),
        found.get("client_secret"),
        found.get("name"),
    )


def _label(raw: str) -> str | None:
    return _FIELDS.get(" ".join(raw.replace("_", " ").replace("-", " ").lower().split()))


def _from_lines(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        label, separator, value = line.partition(":")
        field_name = _label(label) if separator else None
        if field_name is not None and value.strip():
            found.setdefault(field_name, value.strip())
    return found


def _from_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested beyond Python's stack
        raise ApiAccountRefused(
            "file_json", "The file looks like JSON but does not parse."
        ) from exc
    if not isinstance(data, dict):
        raise ApiAccountRefused("file_json", "The JSON file must hold one object.")
    found: dict[str, str] = {}
    for key, value in data.items():
        field_name = _label(str(key))
        if field_name is not None and isinstance(value, str) and value.strip():
            found.setdefault(field_name, value.strip())
    return found


def missing_scopes(
    bigcommerce: BigCommerce, account: ApiAccountCredentials, required: ScopeSet
) -> list[str]:
    """Required scopes the token lacks (403 on their probe); TokenRejected on a 401.

    Other failures (network, 5xx) raise ApiError: nothing may be stored on a guess.
    """
    store_hash, token = account.store_hash, account.access_token
    bigcommerce.get(store_hash, token, "v2/time")  # authenticates the token at all
    missing = []
    for scope in sorted(required.names):
        probe = SCOPE_PROBES.get(scope)
        if probe is None:
            log.warning("required scope %s cannot be checked for an API account", scope)
            continue
        path, params = probe
        try:
            bigcommerce.get(store_hash, token, path, **params)
        except TokenRejected:
            raise
        except ApiError as exc:
            if exc.reason != "status_403":
                raise
            missing.append(scope)
    return missing


def as_installation(account: ApiAccountCredentials) -> Installation:
    """The record kept for an API account (no installer, no users)."""
    return Installation(
        store_hash=account.store_hash,
        access_token=account.access_token,
        scopes=ScopeSet(frozenset()),
        installer_id=0,
        installer_email="",
        kind="api_account",
        name=account.name,
        client_id=account.client_id,
        client_secret=account.client_secret,
    )


def check_account(
    bigcommerce: BigCommerce,
    account: ApiAccountCredentials,
    required: ScopeSet,
    allow_missing_scopes: bool,
) -> list[str]:
    """Check the token against the store; the required scopes it lacks (allowed only with
    `allow_missing_scopes`), or ApiAccountRefused. Nothing is stored."""
    store_hash = account.store_hash
    try:
        missing = missing_scopes(bigcommerce, account, required)
    except TokenRejected as exc:
        raise ApiAccountRefused(
            "token_rejected",
            f"This token is not valid for store {store_hash}; was the API account deleted?",
        ) from exc
    except ApiError as exc:
        raise ApiAccountRefused(
            "unreachable",
            f"BigCommerce could not be reached to check the token ({exc.reason}); "
            "nothing was stored. Try again.",
        ) from exc
    if missing and not allow_missing_scopes:
        raise ApiAccountRefused(
            "missing_scopes",
            "The API account lacks scopes the app requires: "
            + ", ".join(missing)
            + ". Add them to the API account in the control panel, or pass "
            "--allow-missing-scopes to store it anyway.",
        )
    return missing


def store_account(
    store: InstallationStore, account: ApiAccountCredentials, required: ScopeSet, missing: list[str]
) -> Installation:
    """Keep a checked account (`check_account`) in place of whatever the store had."""
    granted = ScopeSet(required.names - set(missing))
    saved = store.save_api_account(replace(as_installation(account), scopes=granted))
    log.info(
        "stored API account for store=%s (missing scopes: %s)",
        account.store_hash,
        missing or "none",
    )
    return saved
