"""Redis memory per installed store at 100,000 stores, against the least any server stores.

Each store is written as an install leaves it: the installation record (token sealed with
AES-GCM, the control panel's origin, the install id) and its owner in the users hash, with
bcapp's own serialisation and key layout (bcapp/store/records.py), pipelined so the run takes
seconds. The baseline, written to the same server after a FLUSHALL, is one plain `SET` per
store of the bare token under a short key: what the naive samples keep. Goal: at most 1 KiB.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

import redis

from bcapp.crypto import TokenCipher, new_key_entry, parse_keys
from bcapp.models import Installation, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.store.connection import Keyspace
from bcapp.store.records import installation_to_json, user_to_json
from benchmarks.serving import redis_server

STORES = 100_000
BATCH = 2000
SCOPES = ScopeSet.parse("store_v2_information_read_only store_v2_products_read_only")


def main() -> None:
    """Print bytes per store for bcapp and the baseline, and their ratio."""
    with redis_server() as url:
        client = redis.Redis.from_url(url)
        try:
            bcapp = per_store(client, write_installations)
            client.flushall()
            baseline = per_store(client, write_bare_tokens)
        finally:
            client.close()
    print(f"baseline bare token per store: {baseline:,.0f} bytes")
    print(f"redis memory per installed store ({STORES:,} stores): {bcapp:,.0f} bytes  "
          f"ratio to baseline {bcapp / baseline:.2f}  (goal: at most 1,024 bytes)")


def per_store(client: redis.Redis, write: object) -> float:
    """Redis's `used_memory` growth per store while `write` adds STORES stores."""
    assert callable(write)
    before = int(client.info("memory")["used_memory"])
    write(client)
    return (int(client.info("memory")["used_memory"]) - before) / STORES


def write_installations(client: redis.Redis) -> None:
    """STORES installations and owners, as `save_installation` stores them."""
    cipher, keys = TokenCipher(parse_keys(new_key_entry())), Keyspace("bcapp")
    for start in range(0, STORES, BATCH):
        pipe = client.pipeline(transaction=False)
        for n in range(start, start + BATCH):
            store_hash = f"{n:010x}"
            installation = _installation(store_hash)
            owner = StoreUser(n + 1, f"owner{n}@example.com", True, secrets.token_urlsafe(12),
                              installation.installed_at)
            record = installation_to_json(installation, cipher)
            pipe.set(keys.key(store_hash, "installation"), record)
            pipe.hset(keys.key(store_hash, "users"), str(owner.id), user_to_json(owner))
        pipe.execute()


def write_bare_tokens(client: redis.Redis) -> None:
    """STORES plain tokens under short keys."""
    for start in range(0, STORES, BATCH):
        pipe = client.pipeline(transaction=False)
        for n in range(start, start + BATCH):
            pipe.set(f"store:{n:010x}", secrets.token_hex(16)[:31])
        pipe.execute()


def _installation(store_hash: str) -> Installation:
    return replace(
        Installation(
            store_hash=store_hash,
            access_token=secrets.token_hex(16)[:31],
            scopes=SCOPES,
            installer_id=1,
            installer_email=f"owner-{store_hash}@example.com",
            owner_id=1,
            owner_email=f"owner-{store_hash}@example.com",
        ),
        installed_at=1_790_000_000,
        updated_at=1_790_000_000,
        install_id=secrets.token_urlsafe(12),
        control_panel_url=f"https://store-{store_hash}.mybigcommerce.com",
    )


if __name__ == "__main__":
    main()
