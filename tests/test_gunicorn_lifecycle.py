"""Uninstall integrity through gunicorn (issue acceptance): a forged uninstall, then a genuine one.

Nothing sleeps: the install is dated back (its record says it happened a minute ago), and each
payload is minted with the time it was "issued" at, so the story's order is in the claims.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store.keys import KINDS, Lifetime
from tests.helpers import OWNER, STAFF, auth_query, future, signed
from tests.servers import REPO, environment_for, gunicorn

pytestmark = pytest.mark.slow


def get(url: str, cookie: str = "", **params: str) -> requests.Response:
    return requests.get(
        url,
        params=params,
        headers={"Cookie": cookie} if cookie else {},
        allow_redirects=False,
        timeout=10,
    )


def cookie_of(response: requests.Response) -> str:
    return response.headers["Set-Cookie"].split(";")[0]


def installed_a_minute_ago(redis_client: redis.Redis, key: str) -> None:
    """Date the stored install back (its times are plain JSON fields beside the sealed token)."""
    record = json.loads(redis_client.get(key) or "{}")
    assert record["installed_at"] == record["updated_at"], "a fresh install"
    record["installed_at"] = record["updated_at"] = int(time.time()) - 60
    redis_client.set(key, json.dumps(record))


def test_a_forged_uninstall_is_undone_and_a_genuine_one_purged_after_the_grace(
    settings: Settings,
    sim: SimulatorState,
    redis_client: redis.Redis,
    snapshot: Callable[[], dict[str, Any]],
    tmp_path: Path,
) -> None:
    env = environment_for(settings) | {"BCAPP_JWT_LEEWAY": "1", "BCAPP_UNINSTALL_GRACE": "2"}
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as url:
        assert get(url + "/bigcommerce/auth?" + auth_query(sim)).status_code == 302
        installed_a_minute_ago(redis_client, f"{settings.redis_prefix}:{{abc123}}:installation")

        forged_payload = signed(user=STAFF, **future(-40))  # a staff member's, after the install
        forged = get(url + "/bigcommerce/uninstall", signed_payload_jwt=forged_payload)
        assert forged.status_code == 200 and forged.json()["changed"] is True

        owner_returns = signed(user=OWNER, **future(-30))  # issued after the forged uninstall
        opened = get(url + "/bigcommerce/load", signed_payload_jwt=owner_returns)
        assert opened.status_code == 302, "the owner's next load opens the app"
        page = get(url + "/", cookie_of(opened))
        assert page.status_code == 200 and "Store abc123" in page.text, "the token still works"

        kept = signed(user=OWNER, **future(-20))  # issued before the genuine uninstall
        sim.revoke("abc123")  # BigCommerce uninstalls the app, then calls
        genuine_payload = signed(user=OWNER, **future(-10))  # its grace (2 s) is over by now
        genuine = get(url + "/bigcommerce/uninstall", signed_payload_jwt=genuine_payload)
        assert genuine.status_code == 200 and genuine.json()["changed"] is True
        refused = get(url + "/bigcommerce/load", signed_payload_jwt=kept)
        assert refused.status_code == 401 and "not installed" in refused.text

    assert all(redis_client.ttl(key) > 0 for key in snapshot()), "kept only with a TTL"
    purge_log = tmp_path / "purged.log"
    cli_env = (
        {"PATH": "/usr/bin:/bin"}
        | env
        | {
            "BCAPP_RECEIVERS": "tests.purge_receiver",
            "BCAPP_TEST_PURGE_LOG": str(purge_log),
        }
    )
    runs = [
        subprocess.run(
            [sys.executable, "-m", "bcapp.cli", "reconcile"],
            cwd=REPO,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], [run.stdout for run in runs]
    assert "purged 1" in runs[0].stdout and "purged 0" in runs[1].stdout
    assert purge_log.read_text().splitlines() == ["installation_purged abc123"], "fired once"
    remaining = snapshot()
    assert all(redis_client.ttl(key) > 0 for key in remaining), "nothing without a TTL"
    short_lived = tuple(f":{kind.name}" for kind in KINDS if kind.lifetime is Lifetime.SHORT)
    assert all(any(kind in key for kind in short_lived) for key in remaining), remaining.keys()
