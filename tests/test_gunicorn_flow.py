"""The whole callback flow through gunicorn, as BigCommerce and browsers drive it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import legacy_payload_data, legacy_signed_payload
from tests.conftest import CLIENT_SECRET
from tests.helpers import OWNER, STAFF, auth_query, future, signed
from tests.servers import environment_for, gunicorn

pytestmark = pytest.mark.slow


class Browser:
    """Just enough of a browser: follows nothing, keeps the one session cookie."""

    def __init__(self, base: str) -> None:
        self.base, self.cookie = base, ""

    def get(self, path: str, **params: str) -> requests.Response:
        response = requests.get(
            self.base + path,
            params=params,
            allow_redirects=False,
            headers={"Cookie": self.cookie} if self.cookie else {},
            timeout=10,
        )
        if "Set-Cookie" in response.headers:
            self.cookie = response.headers["Set-Cookie"].split(";")[0]
        return response


def test_install_load_users_remove_uninstall_through_gunicorn(
    settings: Settings,
    sim: SimulatorState,
    redis_client: redis.Redis,
    snapshot: Callable[[], dict[str, Any]],
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "gunicorn.log"
    used: list[str] = []

    def token(**kwargs: Any) -> str:
        used.append(signed(**kwargs))
        return used[-1]

    with gunicorn(environment_for(settings), log_path) as url:
        owner, staff, bigcommerce = Browser(url), Browser(url), Browser(url)
        assert owner.get("/bigcommerce/auth?" + auth_query(sim)).status_code == 302
        assert (
            owner.get("/bigcommerce/load", signed_payload_jwt=token(user=OWNER)).status_code == 302
        )
        assert owner.get("/").status_code == 200

        assert (
            staff.get("/bigcommerce/load", signed_payload_jwt=token(user=STAFF)).status_code == 302
        )
        staff_page = staff.get("/")
        assert staff_page.status_code == 200 and "staff@example.com" in staff_page.text

        legacy = legacy_signed_payload(legacy_payload_data("abc123", OWNER, OWNER), CLIENT_SECRET)
        used.append(legacy)
        assert Browser(url).get("/bigcommerce/load", signed_payload=legacy).status_code == 302

        removed = bigcommerce.get("/bigcommerce/remove-user", signed_payload_jwt=token(user=STAFF))
        assert removed.status_code == 200 and removed.json()["removed"] is True
        assert staff.get("/").status_code == 401, "the removed user is refused"
        assert owner.get("/").status_code == 200, "the owner is not affected"

        issued_before_uninstall = token(user=OWNER, **future(-5 * 60))
        gone = bigcommerce.get("/bigcommerce/uninstall", signed_payload_jwt=token(user=OWNER))
        assert gone.status_code == 200 and gone.json()["changed"] is True
        assert owner.get("/").status_code == 401, "every session dies with the uninstall"
        refused = owner.get("/bigcommerce/load", signed_payload_jwt=issued_before_uninstall)
        assert refused.status_code == 401 and "not installed" in refused.text
        again = bigcommerce.get("/bigcommerce/uninstall", signed_payload_jwt=token(user=OWNER))
        assert again.status_code == 200 and again.json()["changed"] is False

    lasting = [key for key in snapshot() if redis_client.ttl(key) == -1]
    assert lasting == [], "after uninstall every record of the store carries a TTL"
    log = log_path.read_text()
    for secret in [CLIENT_SECRET, *sim.issued_secrets, *used]:
        assert secret not in log
    assert "signed_payload" not in log and "GET /bigcommerce/load " in log
