"""LOG_FORMAT=json and the redaction safety net (docs/security.md R7)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import requests

from bcapp.errors import ConfigurationError
from bcapp.logs import JsonFormatter, redact
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import CLIENT_SECRET
from tests.helpers import OWNER, STAFF, auth_query, signed
from tests.servers import environment_for, gunicorn


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (f"GET /bigcommerce/load?signed_payload_jwt={'a' * 20}.{'b' * 30}.{'c' * 40}", "GET /"),
        ("GET /bigcommerce/auth?code=qr8d9s&scope=x", "scope=x"),
        ("legacy " + "A" * 30 + "==." + "B" * 40, "legacy "),
        ("token simtok_" + "f" * 32 + " refused", " refused"),
        ("client_secret=hunter2hunter2 in a message", "in a message"),
    ],
)
def test_anything_shaped_like_a_secret_is_redacted(line: str, kept: str) -> None:
    redacted = redact(line)
    assert "[redacted]" in redacted and kept in redacted
    assert not any(part in redacted for part in ("qr8d9s", "f" * 32, "hunter2", "b" * 30))


def test_ordinary_lines_are_left_alone() -> None:
    line = "GET /bigcommerce/load -> 401 jwt_expired store=abc123 user=7 [f96e47389a09034b]"
    assert redact(line) == line


def test_json_lines_carry_the_known_fields() -> None:
    record = logging.LogRecord(
        "bcapp.x", logging.WARNING, __file__, 1, "opened store=%s user=%s", ("abc123", 7), None
    )
    record.request_id, record.route, record.status = "abc-123-def", "/bigcommerce/load", 401
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "bcapp.x"
    assert line["message"] == "opened store=abc123 user=7"
    assert (line["store_hash"], line["user_id"], line["request_id"]) == ("abc123", 7, "abc-123-def")
    assert (line["route"], line["status"]) == ("/bigcommerce/load", 401)
    assert line["time"].endswith("Z")


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("%s %s -> %s %s", ("GET", "/bigcommerce/nothing/store=victim42/user=31337", 404, "x")),
        ("refused %s", ("store=victim42 user=31337",)),
        ("store=%s user=%s", ("not a store!", "12ab")),
    ],
)
def test_json_lines_take_store_and_user_from_the_call_never_from_text(
    message: str, args: tuple[object, ...]
) -> None:
    """L7: a path or any other argument that merely contains `store=` names no store."""
    record = logging.LogRecord("bcapp.x", logging.WARNING, __file__, 1, message, args, None)
    line = json.loads(JsonFormatter().format(record))
    assert "store_hash" not in line and "user_id" not in line


def test_log_format_is_text_or_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml", "BCAPP_INSTANCE_DIR": str(tmp_path)}, dotenv="")


@pytest.mark.slow
def test_every_line_of_a_whole_flow_through_gunicorn_is_json(
    settings: Settings, sim: SimulatorState, tmp_path: Path
) -> None:
    log_path = tmp_path / "gunicorn.log"
    used: list[str] = []
    with gunicorn(environment_for(settings) | {"LOG_FORMAT": "json"}, log_path) as url:
        install = requests.get(
            f"{url}/bigcommerce/auth?{auth_query(sim)}", allow_redirects=False, timeout=10
        )
        for user in (OWNER, STAFF):
            used.append(signed(user=user))
            requests.get(
                f"{url}/bigcommerce/load",
                params={"signed_payload_jwt": used[-1]},
                allow_redirects=False,
                timeout=10,
            )
        refused = requests.get(
            f"{url}/bigcommerce/load", params={"signed_payload_jwt": used[0]}, timeout=10
        )  # a replay: a warning line
        requests.get(
            f"{url}/bigcommerce/uninstall", params={"signed_payload_jwt": signed()}, timeout=10
        )
    assert install.status_code == 302 and refused.status_code == 401
    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert len(lines) >= 8, "every line parsed as JSON"
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    replay = next(line for line in access if line["status"] == 401)
    assert replay["route"] == "/bigcommerce/load" and replay["duration"] >= 0
    assert replay["request_id"] == refused.headers["X-Request-ID"]
    warning = next(line for line in lines if line["message"].endswith("401 replayed"))
    assert warning["level"] == "WARNING" and warning["request_id"] == replay["request_id"]
    installed = next(line for line in lines if line["message"].startswith("installed store="))
    assert installed["store_hash"] == "abc123" and installed["user_id"] == 1
    for secret in [CLIENT_SECRET, *sim.issued_secrets, *used]:
        assert secret not in text
