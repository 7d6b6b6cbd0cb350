"""Load-callback throughput under gunicorn (2 sync workers) against two baselines.

Every request carries a unique, valid `signed_payload_jwt` of one installed store and its
owner (the common case: a returning user), so each one is verified, spent and answered with a
fresh session, as in production. Both baselines serve the same paths with the same gunicorn
flags in the same run: benchmarks/bare_app.py (a bare redirect: what the stack costs) and
benchmarks/minimal_load.py (the load's own work and nothing else: what a load must cost on
this stack). The ratio to the minimal view is bcapp's per-request overhead; the goal is 0.90.
The three are served side by side and measured in turn, five rounds; each ratio is the median
of the rounds' own ratios (a round's figures were measured seconds apart).
"""

from __future__ import annotations

import contextlib
import statistics
from urllib.parse import urlencode

from bcapp.app_spec import load_declarations
from bcapp.clock import SystemClock
from bcapp.crypto import TokenCipher, parse_keys
from bcapp.models import Installation, StoreUser
from bcapp.settings import Settings
from bcapp.simulator.signing import jwt_claims, sign_jwt
from bcapp.store.connection import Keyspace, connect
from bcapp.store.installations import RedisInstallationStore
from benchmarks.serving import (
    app_environment,
    free_port,
    gunicorn,
    measure_alternately,
    paired_ratios,
    redis_server,
    span,
    warn_if_unsteady,
)

STORE_HASH = "benchstore"
OWNER = {"id": 1, "email": "owner@example.com"}
SECONDS = 4
ROUNDS = 5
WARM_UP = 6000  # paths for a 1 s warm-up: more than one second's worth
PAYLOADS = 50000


def main() -> None:
    """Print the three rates and the ratios, each the median of the rounds' pairs."""
    with redis_server() as redis_url:
        port = free_port()
        env = app_environment(redis_url, port)
        install_store(env)
        paths = load_paths(env, PAYLOADS)
        minimal_paths = load_paths(env, PAYLOADS, prefix="minimal-")  # unspent payloads
        served = (
            ("bare", "benchmarks.bare_app:app", free_port(), paths),  # spends nothing
            ("minimal", "benchmarks.minimal_load:app", free_port(), minimal_paths),
            ("bcapp", "wsgi:app", port, paths),
        )
        # All three served side by side, taking turns (benchmarks/serving.py): each round's
        # figures were measured seconds apart, so a slow spell of the machine touches all.
        with contextlib.ExitStack() as servers:
            targets = {
                name: (servers.enter_context(gunicorn(module, env, on)), lines)
                for name, module, on, lines in served
            }
            figures = measure_alternately(targets, SECONDS, ROUNDS, warm_up=WARM_UP)
    to_bare = statistics.median(paired_ratios(figures, "minimal", "bare"))
    warn_if_unsteady(figures)
    print(f"baseline bare Flask redirect: {span(figures['bare'])} req/s")
    print(f"baseline minimal load view (same work, same stack): {span(figures['minimal'])} "
          f"req/s  ratio to bare {to_bare:.2f}")
    of_minimal = paired_ratios(figures, "bcapp", "minimal")
    print(f"/bigcommerce/load (verify, spend, session): {span(figures['bcapp'])} req/s  "
          f"ratio to bare {statistics.median(paired_ratios(figures, 'bcapp', 'bare')):.2f}, "
          f"to minimal {statistics.median(of_minimal):.2f} (rounds {min(of_minimal):.2f}-"
          f"{max(of_minimal):.2f}; median of {ROUNDS}; goal: 0.90 of minimal)")


def install_store(env: dict[str, str]) -> None:
    """The store and its owner, as an install leaves them."""
    client = connect(env["REDIS_URL"])
    cipher = TokenCipher(parse_keys(env["TOKEN_ENCRYPTION_KEYS"]))
    store = RedisInstallationStore(client, cipher, Keyspace("bcapp"), SystemClock())
    store.save_installation(
        Installation(
            store_hash=STORE_HASH,
            access_token="t" * 31,
            scopes=load_declarations(Settings.from_env(env)).required_scopes,
            installer_id=OWNER["id"],  # type: ignore[arg-type]
            installer_email="owner@example.com",
            owner_id=1,
            owner_email="owner@example.com",
        ),
        StoreUser(1, "owner@example.com", is_owner=True),
    )
    client.close()


def load_paths(env: dict[str, str], count: int, prefix: str = "") -> list[str]:
    """`count` load URLs, each with a payload of its own (a fresh `jti`)."""
    claims = jwt_claims(env["BC_CLIENT_ID"], STORE_HASH, OWNER, OWNER)
    paths = []
    for n in range(count):
        token = sign_jwt(claims | {"jti": f"bench-{prefix}{n}"}, env["BC_CLIENT_SECRET"])
        paths.append("/bigcommerce/load?" + urlencode({"signed_payload_jwt": token}))
    return paths


if __name__ == "__main__":
    main()
