"""AES-256-GCM encryption of access tokens at rest, with key ids and rotation.

Ciphertext format: ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``. The associated data binds
the ciphertext to its store hash and key id, so a blob copied to another store does not decrypt.
The first key encrypts; every configured key decrypts (rotation).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bcapp.errors import ConfigurationError

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE_BYTES = 12
_KEY_BYTES = 32
_VERSION = "v1"
# What a ciphertext holds, bound into its associated data (names, not secrets).
ACCESS_TOKEN = "access-token"  # noqa: S105
CLIENT_SECRET = "client-secret"  # noqa: S105


class DecryptionError(Exception):
    """A ciphertext is malformed, tampered with, bound to another store, or its key is gone."""


@dataclass(frozen=True)
class TokenKey:
    """One AES-256 key and its id."""

    kid: str
    key: bytes = b""

    def __repr__(self) -> str:
        return f"TokenKey(kid={self.kid!r})"


def parse_keys(text: str) -> tuple[TokenKey, ...]:
    """Parse ``KID:BASE64KEY[,KID:BASE64KEY…]``; raise ConfigurationError naming the problem."""
    keys: list[TokenKey] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise ConfigurationError(
                "TOKEN_ENCRYPTION_KEYS entries must look like KID:BASE64KEY "
                "(make one with `bcapp keys new`)"
            )
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(f"TOKEN_ENCRYPTION_KEYS key {kid!r} is not base64") from exc
        if len(key) != _KEY_BYTES:
            raise ConfigurationError(
                f"TOKEN_ENCRYPTION_KEYS key {kid!r} must be 32 bytes (AES-256), got {len(key)}"
            )
        if any(existing.kid == kid for existing in keys):
            raise ConfigurationError(f"TOKEN_ENCRYPTION_KEYS names key id {kid!r} twice")
        keys.append(TokenKey(kid, key))
    if not keys:
        raise ConfigurationError("TOKEN_ENCRYPTION_KEYS is empty (make one with `bcapp keys new`)")
    return tuple(keys)


def new_key_entry() -> str:
    """A fresh ``KID:BASE64KEY`` entry for TOKEN_ENCRYPTION_KEYS."""
    kid = "k" + secrets.token_hex(4)
    return f"{kid}:{base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()}"


class TokenCipher:
    """Encrypts and decrypts access tokens, bound to their store hash."""

    def __init__(self, keys: tuple[TokenKey, ...]) -> None:
        if not keys:
            raise ConfigurationError("at least one token encryption key is required")
        self._primary = keys[0]
        self._by_kid = {key.kid: AESGCM(key.key) for key in keys}

    def encrypt(self, store_hash: str, token: str, purpose: str = ACCESS_TOKEN) -> str:
        """Encrypt `token` for `store_hash` (and `purpose`) with the primary key."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        aead = self._by_kid[self._primary.kid]
        sealed = aead.encrypt(
            nonce, token.encode(), _associated_data(store_hash, self._primary.kid, purpose)
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._primary.kid}.{payload}"

    def decrypt(self, store_hash: str, blob: str, purpose: str = ACCESS_TOKEN) -> str:
        """Decrypt a blob made by `encrypt` for the same store and purpose; else DecryptionError.

        The purpose is bound too: a client secret's ciphertext cannot stand in for a token's.
        """
        if not isinstance(blob, str):
            raise DecryptionError("ciphertext is not text")
        version, _, rest = blob.partition(".")
        kid, _, payload = rest.partition(".")
        if version != _VERSION or not _KID.fullmatch(kid) or not payload:
            raise DecryptionError("malformed ciphertext")
        aead = self._by_kid.get(kid)
        if aead is None:
            raise DecryptionError("ciphertext key id is not configured")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plain = aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated_data(store_hash, kid, purpose)
            )
            return plain.decode()
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise DecryptionError("ciphertext does not authenticate") from exc

    def holds_key_for(self, blob: object) -> bool:
        """True when `blob` has this format and names a configured key; nothing is decrypted.

        A cheap check for readers that only need to know the token could be opened (the load
        path); whoever uses the token decrypts it, which also checks its integrity.
        """
        if not isinstance(blob, str):
            return False
        version, _, rest = blob.partition(".")
        kid, _, payload = rest.partition(".")
        return version == _VERSION and kid in self._by_kid and bool(payload)

    def needs_rotation(self, blob: str) -> bool:
        """True when the blob was sealed with a key other than the primary one."""
        return not blob.startswith(f"{_VERSION}.{self._primary.kid}.")


def _associated_data(store_hash: str, kid: str, purpose: str) -> bytes:
    return f"bcapp/{purpose}/v1/{store_hash}/{kid}".encode()
