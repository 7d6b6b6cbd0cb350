"""No handled input produces a 500: seeded random methods, paths and queries on every route."""

from __future__ import annotations

import random
import string
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from bcapp.simulator import SimulatorState
from tests.helpers import install, signed

NAMES = [
    "token",
    "page",
    "greeting",
    "csrf_token",
    "_bcs",
    "code",
    "scope",
    "context",
    "account_uuid",
    "external_install",
    "signed_payload_jwt",
    "signed_payload",
    "url",
    "next",
    "installed",
]


def random_value(rng: random.Random, valid_token: str) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 80)))
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))).decode("latin-1")
    if kind == 2:  # a valid token with one character changed
        position = rng.randrange(len(valid_token))
        return valid_token[:position] + rng.choice("aZ0-_.=+/") + valid_token[position + 1 :]
    if kind == 3:
        return "stores/" + "".join(rng.choice("abcXYZ019/._%") for _ in range(rng.randrange(12)))
    if kind == 4:
        return ".".join(
            "".join(rng.choice(string.ascii_letters + "-_") for _ in range(8))
            for _ in range(rng.randrange(1, 5))
        )
    return rng.choice(["", "0", "-1", "null", "[]", "{}", "%00", "\u202e", "é" * 40])


METHODS = ["GET", "GET", "GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE"]


def every_route(client: FlaskClient) -> list[str]:
    """Every route the app serves, read from its URL map (so a new route is fuzzed too)."""
    rules = {rule.rule for rule in client.application.url_map.iter_rules()}
    assert {"/bigcommerce/webhooks", "/bigcommerce/handoff", "/settings", "/metrics"} <= rules
    return sorted(rules)


def random_path(rng: random.Random, routes: list[str]) -> str:
    """A route, sometimes with doubled slashes or percent-encoded characters in it."""
    route = rng.choice(routes)
    kind = rng.randrange(5)
    if kind == 0:
        return route.replace("/", "//", rng.randrange(1, 3))
    if kind == 1:
        return route.replace("/", rng.choice(["%2F", "%2f", "%5C", "/%2E/", "/./"]), 1)
    if kind == 2:
        return "".join(f"%{ord(c):02X}" if rng.random() < 0.3 else c for c in route)
    if kind == 3:
        return route + rng.choice(["/", "//", "%00", "%0a", "%20", ";x"])
    return route


@pytest.mark.parametrize("seed", range(6))
def test_random_requests_never_produce_a_500(
    client: FlaskClient, sim: SimulatorState, seed: int
) -> None:
    install(client, sim)
    routes = every_route(client)
    rng = random.Random(seed)  # noqa: S311 - seeded for reproducible failures, not secrets
    token = signed()
    for _ in range(120):
        params = [(rng.choice(NAMES), random_value(rng, token)) for _ in range(rng.randrange(4))]
        query = "&".join(f"{quote(name)}={quote(value, safe='')}" for name, value in params)
        method, path = rng.choice(METHODS), random_path(rng, routes)
        body = random_value(rng, token).encode("utf-8", "replace") if method != "GET" else b""
        response = client.open(f"{path}?{query}", method=method, data=body)
        status = response.status_code
        assert status < 500 or status in (502, 503), (method, path, query)
        assert status not in (301, 308), "no redirect is built from the request's host"
