"""Helpers shared by tests: Redis snapshots, installs through the simulator, leak checks."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bcapp.models import Installation, StoreUser
from bcapp.simulator import SimulatorState

# What BCAPP_ENV=production must refuse to start without (docs/configuration.md).
REQUIRED_IN_PRODUCTION = (
    "BC_CLIENT_ID",
    "BC_CLIENT_SECRET",
    "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEYS",
    "REDIS_URL",
)
DEFAULT_SCOPE = "store_v2_information_read_only store_v2_products_read_only"


def redis_snapshot(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under `prefix` with its type-appropriate value, request counters aside.

    Counting a refused request is the point of an abuse limit, and the store-API budget mirrors
    BigCommerce's own count of calls made, so those counters (which expire with their window;
    tests/test_limits.py and tests/test_store_client.py check them) are not "state changed".
    Celery's broker keys (`<prefix>:broker:`) are its queue, not bcapp's records: the tests of
    what is queued read the queue (tests/test_webhook_intake.py).
    """
    found: dict[str, Any] = {}
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        if ":hits:" in key or key.endswith(":budget") or key.startswith(f"{prefix}:broker:"):
            continue
        kind = client.type(key)
        if kind == "string":
            found[key] = client.get(key)
        elif kind == "hash":
            found[key] = client.hgetall(key)
        else:
            found[key] = kind
    return found


def auth_query(
    sim: SimulatorState,
    store_hash: str = "abc123",
    user_id: int = 1,
    scope: str = DEFAULT_SCOPE,
    **extra: str,
) -> str:
    """The auth-callback query BigCommerce would send, with a fresh code."""
    code = sim.issue_code(store_hash, user_id, scope)
    params = {"code": code, "scope": scope, "context": f"stores/{store_hash}"} | extra
    return urlencode(params)


def install(
    client: FlaskClient,
    sim: SimulatorState,
    store_hash: str = "abc123",
    user_id: int = 1,
    scope: str = DEFAULT_SCOPE,
) -> TestResponse:
    """Drive one install through the auth callback."""
    return client.get("/bigcommerce/auth?" + auth_query(sim, store_hash, user_id, scope))


def assert_no_secrets(text: str, *secrets: str) -> None:
    """None of `secrets` (non-empty) appears in `text`."""
    for secret in secrets:
        if secret:
            assert secret not in text


OWNER = {"id": 1, "email": "owner@example.com"}
STAFF = {"id": 2, "email": "staff@example.com", "locale": "en-US"}
DROP = object()  # a claims_for() override value that removes the claim


def future(seconds: int) -> dict[str, int]:
    """Time claims of a payload issued `seconds` from now (negative: in the past)."""
    now = int(time.time()) + seconds
    return {"iat": now, "nbf": now - 5, "exp": now + 86400}


def claims_for(store_hash: str = "abc123", user: Any = OWNER, **overrides: Any) -> dict[str, Any]:
    """BigCommerce-shaped claims for the test app; a value of `DROP` removes that claim."""
    from bcapp.simulator.signing import jwt_claims
    from tests.conftest import CLIENT_ID

    claims = jwt_claims(CLIENT_ID, store_hash, user, OWNER)
    for name, value in {"user": user, **overrides}.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def signed(store_hash: str = "abc123", user: Any = OWNER, **overrides: Any) -> str:
    """A `signed_payload_jwt` signed with the test client secret."""
    from bcapp.simulator.signing import sign_jwt
    from tests.conftest import CLIENT_SECRET

    return sign_jwt(claims_for(store_hash, user, **overrides), CLIENT_SECRET)


def installation_of(app: Flask, store_hash: str = "abc123") -> Installation | None:
    """The stored installation of `store_hash`, read through the app's service."""
    from tests.conftest import service_of

    details = service_of(app).operations.show_store(store_hash)
    return details.installation if details else None


def users_of(app: Flask, store_hash: str = "abc123") -> list[StoreUser]:
    """The users with access to `store_hash`, read through the app's service."""
    from tests.conftest import service_of

    details = service_of(app).operations.show_store(store_hash)
    return details.users if details else []


def user_of(app: Flask, store_hash: str, user_id: int) -> StoreUser | None:
    """One user with access to `store_hash`, or None."""
    return next((user for user in users_of(app, store_hash) if user.id == user_id), None)


def app_location(response: Any) -> str:
    """A redirect's Location without the one-time `_bcs` handoff bcapp adds into the app."""
    import re

    location: str = response.headers["Location"]
    return re.sub(r"[?&]_bcs=[^&#]*", "", location)


class Monitor:
    """The commands clients send to Redis about this test's keys, while in a `with` block.

    Redis's own MONITOR shows each command a client sends; commands a script runs are marked
    `lua` and left out (they are not round trips)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client, self._prefix = client, prefix
        self.commands: list[str] = []
        self._ready = threading.Event()

    def __enter__(self) -> Monitor:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.set(f"{self._prefix}:monitor-end", "1")
        self._thread.join(5)

    def _watch(self) -> None:
        with self._client.monitor() as monitor:
            self._ready.set()
            for event in monitor.listen():
                if event["command"].startswith("SET " + f"{self._prefix}:monitor-end"):
                    return
                if self._prefix in event["command"] and event.get("client_type") != "lua":
                    self.commands.append(event["command"].split(" ", 1)[0])
