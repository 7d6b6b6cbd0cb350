"""A one-time handoff of a fresh session to a new tab, for browsers that block the iframe cookie.

After an install or load, the redirect into the app carries a handoff token (`_bcs`). If the
session cookie comes back, the token is spent at once. If it does not (the browser blocks even
partitioned cookies inside the control panel), the page offers "Open the app in a new tab":
there, first-party, the token is redeemed once, within two minutes, for the same session
(docs/security.md R3).
"""

from __future__ import annotations

import json
import re
import secrets

from bcapp.errors import Unauthorized
from bcapp.models import SessionRef
from bcapp.store import ShortLivedRecords

HANDOFF_SECONDS = 120
TOKEN = re.compile(r"([a-z0-9]{1,32})\.[A-Za-z0-9_-]{32,64}")


def new_token(store_hash: str) -> str:
    """A fresh handoff token of a store (its hash routes the lookup to the store's keys)."""
    return f"{store_hash}.{secrets.token_urlsafe(32)}"


def make(ref: SessionRef, short_lived: ShortLivedRecords) -> str:
    """A one-time token that stands for `ref` for two minutes."""
    token = new_token(ref.store_hash)
    value = json.dumps([ref.store_hash, ref.user_id, ref.install_id, ref.access_id, ref.session_id])
    short_lived.put_handoff(ref.store_hash, token, value, HANDOFF_SECONDS)
    return token


def take(token: str, short_lived: ShortLivedRecords) -> SessionRef:
    """The session a token stands for, spending it; Unauthorized when unknown or spent."""
    match = TOKEN.fullmatch(token)
    if match is None:
        raise Unauthorized("handoff_malformed")
    value = short_lived.take_handoff(match.group(1), token)
    if value is None:
        raise Unauthorized("handoff_unknown")
    store_hash, user_id, install_id, access_id, session_id = json.loads(value)
    return SessionRef(store_hash, int(user_id), install_id, access_id, session_id)
