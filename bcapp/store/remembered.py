"""Records read back on the hot paths, remembered per process by their exact stored text.

Every app page and every load reads its store's installation and user, and those change
rarely: any change is new text, so a miss. What is remembered passed every reader's rules
(bcapp/store/records.py: a fault raises, is logged by the caller and is never kept) and is a
frozen value, so the token is decrypted and the JSON parsed once per stored value and process,
not on every page. Bounded: many stores cost at most this many entries per process.
"""

from __future__ import annotations

import functools

from bcapp.crypto import TokenCipher
from bcapp.models import Installation, StoreUser
from bcapp.store.records import (
    SealedInstallation,
    installation_from_json,
    readable,
    sealed_installation,
    user_from_json,
)

REMEMBERED = 512  # entries per kind of record and process


@functools.lru_cache(maxsize=REMEMBERED)
def remembered_installation(raw: str | bytes, store_hash: str, cipher: TokenCipher) -> Installation:
    """`installation_from_json`, once per stored text, store and cipher."""
    return installation_from_json(raw, store_hash, cipher)


@functools.lru_cache(maxsize=REMEMBERED)
def remembered_sealed(raw: str | bytes, store_hash: str) -> SealedInstallation:
    """`sealed_installation`, once per stored text and store."""
    return sealed_installation(raw, store_hash)


@functools.lru_cache(maxsize=REMEMBERED)
def remembered_user(raw: str | bytes) -> StoreUser:
    """`user_from_json`, once per stored text."""
    return user_from_json(raw)


def read_installation(
    store_hash: str, raw: str | bytes | None, cipher: TokenCipher
) -> Installation | None:
    """records.read_installation, remembered: None when absent or corrupt (logged each time)."""
    return readable(
        "installation",
        store_hash,
        raw,
        lambda text: remembered_installation(text, store_hash, cipher),
    )


def read_user(store_hash: str, raw: str | bytes | None) -> StoreUser | None:
    """records.read_user, remembered: None when absent or corrupt (logged each time)."""
    return readable("user", store_hash, raw, remembered_user)
