"""AES-256-GCM token encryption: round trip, store binding, tampering, rotation, key parsing."""

from __future__ import annotations

import base64
import string

import pytest

from bcapp.crypto import DecryptionError, TokenCipher, new_key_entry, parse_keys
from bcapp.errors import ConfigurationError

TOKEN = "abcdefghijklmnopqrstuvwxyz01234"


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(parse_keys(new_key_entry()))


def test_round_trip_and_no_plaintext(cipher: TokenCipher) -> None:
    blob = cipher.encrypt("abc123", TOKEN)
    assert TOKEN not in blob
    assert cipher.decrypt("abc123", blob) == TOKEN


def test_each_encryption_uses_a_fresh_nonce(cipher: TokenCipher) -> None:
    assert cipher.encrypt("abc123", TOKEN) != cipher.encrypt("abc123", TOKEN)


def test_ciphertext_copied_to_another_store_does_not_decrypt(cipher: TokenCipher) -> None:
    blob = cipher.encrypt("abc123", TOKEN)
    with pytest.raises(DecryptionError):
        cipher.decrypt("zzz999", blob)


@pytest.mark.parametrize("position", [3, 10, -1])
def test_tampered_ciphertext_does_not_decrypt(cipher: TokenCipher, position: int) -> None:
    blob = cipher.encrypt("abc123", TOKEN)
    # Flip the top bit of the character's six: always a data bit, even in the last character,
    # whose low bits may be padding that decoding ignores (a fixed "A" made this test flaky).
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    flipped = alphabet[alphabet.index(blob[position]) ^ 0b100000]
    tampered = blob[:position] + flipped + (blob[position + 1 :] if position != -1 else "")
    with pytest.raises(DecryptionError):
        cipher.decrypt("abc123", tampered)


@pytest.mark.parametrize("blob", ["", "v1", "v1.k1", "v2.k1.AAAA", "v1.k1.!!!!", "v1.../x.AAAA"])
def test_malformed_ciphertext_is_refused(cipher: TokenCipher, blob: str) -> None:
    with pytest.raises(DecryptionError):
        cipher.decrypt("abc123", blob)


def test_rotation_first_key_encrypts_all_keys_decrypt() -> None:
    old, new = new_key_entry(), new_key_entry()
    before = TokenCipher(parse_keys(old)).encrypt("abc123", TOKEN)
    rotated = TokenCipher(parse_keys(f"{new},{old}"))

    assert rotated.decrypt("abc123", before) == TOKEN
    assert rotated.needs_rotation(before)
    after = rotated.encrypt("abc123", TOKEN)
    assert after.split(".")[1] == new.split(":")[0]
    assert not rotated.needs_rotation(after)
    with pytest.raises(DecryptionError):
        TokenCipher(parse_keys(new)).decrypt("abc123", before)  # old key retired


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nokey",
        "k1:not-base64!",
        "k1:" + base64.b64encode(b"short").decode(),
        "bad kid:" + base64.b64encode(bytes(32)).decode(),
        "k1:{0},k1:{0}".format(base64.b64encode(bytes(32)).decode()),
    ],
)
def test_bad_key_configuration_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_keys(text)


def test_key_repr_hides_the_key() -> None:
    [key] = parse_keys(new_key_entry())
    assert base64.b64encode(key.key).decode() not in repr(key)
