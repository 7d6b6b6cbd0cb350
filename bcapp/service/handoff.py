"""A one-time handoff of a fresh session to a new tab, for browsers that block the iframe cookie.

After an install or load, the redirect into the app carries a handoff token (`_bcs`). If the
session cookie comes back, the token is spent at once. If it does not (the browser blocks even
partitioned cookies inside the control panel), the page offers "Open the app in a new tab":
there, first-party, the token is redeemed once, within two minutes, for the same session
(docs/security.md R3). How a handoff is stored is the store's business
(bcapp/store/ephemeral.py); this module knows the token.
"""

from __future__ import annotations

import re
import secrets

from bcapp.errors import Unauthorized
from bcapp.models import SessionRef
from bcapp.store import SessionTokens

HANDOFF_SECONDS = 120
TOKEN = re.compile(r"([a-z0-9]{1,32})\.[A-Za-z0-9_-]{32,64}")


def new_token(store_hash: str) -> str:
    """A fresh handoff token of a store (its hash routes the lookup to the store's keys)."""
    return f"{store_hash}.{secrets.token_urlsafe(32)}"


def take(token: str, sessions: SessionTokens) -> SessionRef:
    """The session a token stands for, spending it; Unauthorized when unknown or spent."""
    store_hash = store_of(token)
    if store_hash is None:
        raise Unauthorized("handoff_malformed")
    ref = sessions.take_handoff(store_hash, token)
    if ref is None or ref.store_hash != store_hash:
        raise Unauthorized("handoff_unknown")
    return ref


def store_of(token: str) -> str | None:
    """The store a well-formed handoff token belongs to; None for anything else."""
    match = TOKEN.fullmatch(token)
    return match.group(1) if match else None
