"""Records remembered per process on the hot paths (bcapp/store/remembered.py): a session check
parses and decrypts a stored value once, yet every change, every fault and every key still
counts on the next read, against a real Redis."""

from __future__ import annotations

import json

import pytest
import redis

from bcapp.crypto import TokenCipher, new_key_entry, parse_keys
from bcapp.models import Installation, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.store.connection import Keyspace
from bcapp.store.records import CorruptRecord, installation_to_json, user_to_json
from bcapp.store.remembered import (
    remembered_installation,
    remembered_sealed,
    remembered_user,
)
from bcapp.store.session_reads import RedisSessionReads

STORE = "abc123"


def a_cipher() -> TokenCipher:
    return TokenCipher(parse_keys(new_key_entry()))


def an_installation(install_id: str = "install-1", token: str = "tok-1") -> Installation:
    return Installation(
        store_hash=STORE,
        access_token=token,
        scopes=ScopeSet.parse("store_v2_products"),
        installer_id=1,
        installer_email="owner@example.com",
        owner_id=1,
        installed_at=1,
        updated_at=1,
        install_id=install_id,
    )


def stored(
    client: redis.Redis, prefix: str, cipher: TokenCipher, installation: Installation
) -> RedisSessionReads:
    """The installation and its owner in Redis, a live session `s1`, and the reads on them."""
    client.set(f"{prefix}:{{{STORE}}}:installation", installation_to_json(installation, cipher))
    owner = StoreUser(1, "owner@example.com", is_owner=True, access_id="access-1")
    client.hset(f"{prefix}:{{{STORE}}}:users", "1", user_to_json(owner))
    client.set(f"{prefix}:{{{STORE}}}:session:s1", "1", ex=60)
    return RedisSessionReads(client, cipher, Keyspace(prefix))


def test_a_stored_value_is_parsed_once_and_every_change_is_read_anew(
    redis_client: redis.Redis, prefix: str
) -> None:
    cipher = a_cipher()
    reads = stored(redis_client, prefix, cipher, an_installation())

    first = reads.resume(STORE, "s1", 1, 60)
    again = reads.resume(STORE, "s1", 1, 60)
    assert first is not None and again is not None
    assert again[0] is first[0] and again[1] is first[1], "the same stored text: remembered"
    assert first[0] is not None and first[0].access_token == "tok-1"

    stored(redis_client, prefix, cipher, an_installation("install-2", "tok-2"))  # re-install
    after = reads.resume(STORE, "s1", 1, 60)
    assert after is not None and after[0] is not None
    assert (after[0].install_id, after[0].access_token) == ("install-2", "tok-2")


def test_a_corrupt_record_is_logged_on_every_read_and_never_remembered(
    redis_client: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    cipher = a_cipher()
    reads = stored(redis_client, prefix, cipher, an_installation())
    redis_client.set(f"{prefix}:{{{STORE}}}:installation", "{not json")
    redis_client.hset(f"{prefix}:{{{STORE}}}:users", "1", "{broken")

    for _ in range(2):
        assert reads.resume(STORE, "s1", 1, 60) == (None, None)
    assert caplog.text.count(f"corrupt installation record for store={STORE}") == 2
    assert caplog.text.count(f"corrupt user record for store={STORE}") == 2
    assert redis_client.get(f"{prefix}:{{{STORE}}}:installation") == "{not json", "unchanged"


def test_the_store_and_the_keys_are_checked_for_a_remembered_text() -> None:
    cipher = a_cipher()
    raw = installation_to_json(an_installation(), cipher)
    assert remembered_installation(raw, STORE, cipher).access_token == "tok-1"

    with pytest.raises(CorruptRecord, match="token_does_not_decrypt"):
        remembered_installation(raw, "other1", cipher)  # bound to its store
    with pytest.raises(CorruptRecord, match="token_does_not_decrypt"):
        remembered_installation(raw, STORE, a_cipher())  # a deployment without its key
    with pytest.raises(CorruptRecord, match="fields"):
        remembered_sealed(raw, "other1")
    assert remembered_sealed(raw, STORE).install_id == "install-1"


def test_a_remembered_user_is_the_one_stored() -> None:
    raw = user_to_json(StoreUser(5, "staff@example.com", access_id="a5"))
    assert remembered_user(raw) is remembered_user(raw)
    assert remembered_user(raw).access_id == "a5"
    with pytest.raises(CorruptRecord):
        remembered_user(json.dumps({"id": "5"}))
