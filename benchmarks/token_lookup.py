"""Token lookup latency on a real (embedded) Redis.

Baseline: a bare `GET` of the same key with redis-py, measured in the same run. Figure:
`get_installation` (GET + JSON + AES-GCM decrypt) per second and its ratio to the baseline.
Memory per store is measured at 100,000 stores by benchmarks/store_memory.py.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bcapp.clock import SystemClock
from bcapp.crypto import TokenCipher, new_key_entry, parse_keys
from bcapp.models import Installation, StoreUser
from bcapp.scopes import ScopeSet
from bcapp.store import embedded
from bcapp.store.connection import Keyspace, connect
from bcapp.store.installations import RedisInstallationStore

STORES = 2000
LOOKUPS = 5000


def main() -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory(prefix="bcapp-bench-") as folder:
        instance = Path(folder)
        client = connect(embedded.ensure_running(instance))
        try:
            cipher = TokenCipher(parse_keys(new_key_entry()))
            store = RedisInstallationStore(client, cipher, Keyspace("bcapp"), SystemClock())
            for n in range(STORES):
                store.save_installation(_installation(f"s{n}"), StoreUser(n + 1, "o@example.com"))

            key = Keyspace("bcapp").key("s7", "installation")
            baseline = _rate(lambda: client.get(key))
            lookup = _rate(lambda: store.get_installation("s7"))
        finally:
            client.close()
            embedded.stop(instance)
    print(f"baseline redis GET: {baseline:,.0f}/s")
    print(f"get_installation (GET + JSON + AES-GCM): {lookup:,.0f}/s  "
          f"ratio to baseline {lookup / baseline:.2f}")


def _installation(store_hash: str) -> Installation:
    return Installation(
        store_hash=store_hash,
        access_token="a" * 31,
        scopes=ScopeSet.parse("store_v2_information_read_only store_v2_products_read_only"),
        installer_id=1,
        installer_email="o@example.com",
        owner_id=1,
        owner_email="o@example.com",
    )


def _rate(call: object) -> float:
    assert callable(call)
    started = time.perf_counter()
    for _ in range(LOOKUPS):
        call()
    return LOOKUPS / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
