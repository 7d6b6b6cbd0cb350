"""`bcapp export | bcapp import`: a populated deployment moves to another one and keeps working."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from bcapp.cli import main
from bcapp.crypto import new_key_entry, parse_keys
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import STAFF, install, signed
from tests.test_cli import cli_env


def populate(client: FlaskClient, sim: SimulatorState, app: Flask) -> None:
    sim.add_store("xyz789", owner_id=7)
    install(client, sim)
    client.get(f"/bigcommerce/load?signed_payload_jwt={signed(user=STAFF)}")
    install(client, sim, store_hash="xyz789", user_id=7)
    service_of(app).stores.save_app_settings("abc123", {"greeting": "Moved"})
    sim.revoke("xyz789")
    owner_of_xyz = {"id": 7, "email": "o@x.example"}
    client.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed('xyz789', user=owner_of_xyz)}")


def test_export_then_import_moves_a_deployment_and_it_serves_loads(
    client: FlaskClient,
    sim: SimulatorState,
    app: Flask,
    settings: Settings,
    tmp_path: Path,
    make_app: Callable[..., Flask],
    redis_client: Any,
) -> None:
    populate(client, sim, app)
    exported = CliRunner().invoke(main, ["export"], env=cli_env(settings, tmp_path))
    assert exported.exit_code == 0
    lines = exported.stdout.splitlines()
    assert len(lines) == 2 and sim.stores["abc123"].access_token not in exported.output
    assert '"access_token": "v1.' in lines[0], "tokens stay sealed, naming their key id"

    target = "m" + settings.redis_prefix[1:]  # another deployment's namespace
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}
    dry = CliRunner().invoke(main, ["import", "--dry-run"], input=exported.stdout, env=env)
    assert dry.exit_code == 0 and "would import 2 store(s)" in dry.output
    assert not list(redis_client.scan_iter(match=f"{target}:*")), "a dry run writes nothing"
    first = CliRunner().invoke(main, ["import"], input=exported.stdout, env=env)
    again = CliRunner().invoke(main, ["import"], input=exported.stdout, env=env)
    assert "imported 2 store(s); 0 unchanged" in first.output
    dry_again = CliRunner().invoke(main, ["import", "--dry-run"], input=exported.stdout, env=env)
    again_says = again.output.split("imported ", 1)[1].splitlines()[0]
    assert f"would import {again_says}" in dry_again.output, "a dry run counts as the import"
    assert "imported 0 store(s); 2 unchanged" in again.output, "idempotent"

    moved = make_app(redis_prefix=target)
    assert service_of(moved).stores.app_settings("abc123") == {"greeting": "Moved"}
    users = service_of(moved).operations.show_store("abc123").users  # type: ignore[union-attr]
    assert [user.id for user in users] == [1, 2]
    ended = service_of(moved).operations.show_store("xyz789")
    assert ended is not None and not ended.installation.is_installed
    assert redis_client.ttl(f"{target}:{{xyz789}}:installation") > 0, "the grace TTL moved too"
    opened = moved.test_client().get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert opened.status_code == 302, "the moved deployment serves loads"
    for key in redis_client.scan_iter(match=f"{target}:*"):
        redis_client.delete(key)


def test_import_refuses_records_for_keys_it_does_not_hold(
    client: FlaskClient,
    sim: SimulatorState,
    app: Flask,
    settings: Settings,
    tmp_path: Path,
    redis_client: Any,
) -> None:
    populate(client, sim, app)
    exported = CliRunner().invoke(main, ["export"], env=cli_env(settings, tmp_path)).stdout
    other_keys = ",".join(
        f"{k.kid}:{base64.b64encode(k.key).decode()}" for k in parse_keys(new_key_entry())
    )
    target = "k" + settings.redis_prefix[1:]
    env = cli_env(replace(settings), tmp_path) | {
        "BCAPP_REDIS_PREFIX": target,
        "TOKEN_ENCRYPTION_KEYS": other_keys,
    }
    result = CliRunner().invoke(main, ["import"], input=exported + "not json\n", env=env)
    assert result.exit_code == 1
    assert (
        "does not decrypt with TOKEN_ENCRYPTION_KEYS" in result.output
        and "3 refused" in result.output
    )
    assert "line 3: refused: not JSON: each line of an export is one JSON object" in result.output
    assert "Expecting value" not in result.output
    assert not list(redis_client.scan_iter(match=f"{target}:*"))


def tampered(line: str, change: Callable[[dict[str, Any]], None]) -> str:
    document = json.loads(line)
    change(document)
    return json.dumps(document)


def set_field(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return change


def swap_users(document: dict[str, Any]) -> None:
    users = document["users"]
    users["1"], users["2"] = users["2"], users["1"]  # staff's record filed as the owner's


@pytest.mark.parametrize(
    "change",
    [
        set_field(("installation", "control_panel_url"), "*"),
        set_field(
            ("installation", "control_panel_url"),
            "https://a.example; report-uri https://evil.example; sandbox allow-scripts",
        ),
        set_field(("installation", "control_panel_url"), "https://a.example\r\nX-Evil: 1"),
        set_field(("installation", "owner_email"), "o@x.example\r\nSet-Cookie: a=b"),
        set_field(("users", "2", "is_owner"), True),
        swap_users,
        set_field(("settings", "greeting"), ["not", "text"]),
    ],
    ids=["wildcard", "csp-injection", "crlf-panel", "crlf-email", "staff-owner", "swapped", "set"],
)
def test_import_refuses_fields_bcapp_would_never_write_and_stores_nothing(
    exported: str,
    settings: Settings,
    tmp_path: Path,
    redis_client: Any,
    change: Callable[[dict[str, Any]], None],
) -> None:
    """L3: the sealed token is not the only field a header or a page trusts."""
    line = next(line for line in exported.splitlines() if '"abc123"' in line)
    target = "h" + settings.redis_prefix[1:]
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}
    result = CliRunner().invoke(main, ["import"], input=tampered(line, change) + "\n", env=env)
    assert result.exit_code == 1 and "1 refused" in result.output, result.output
    assert not list(redis_client.scan_iter(match=f"{target}:*")), "nothing stored"


def test_a_stored_control_panel_that_is_no_origin_never_reaches_the_csp(
    installed: FlaskClient, redis_client: Any, prefix: str
) -> None:
    """Defence in depth for L3: whatever Redis holds, frame-ancestors names only origins."""
    key = f"{prefix}:{{abc123}}:installation"
    record = json.loads(redis_client.get(key))
    record["control_panel_url"] = "https://a.example; sandbox allow-scripts\r\n"
    redis_client.set(key, json.dumps(record))
    loaded = installed.get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert loaded.status_code == 302
    policy = loaded.headers["Content-Security-Policy"]
    assert "sandbox" not in policy and "https://store-abc123.mybigcommerce.com" in policy


@pytest.fixture
def exported(
    client: FlaskClient, sim: SimulatorState, app: Flask, settings: Settings, tmp_path: Path
) -> str:
    """`bcapp export` of the populated deployment."""
    populate(client, sim, app)
    return str(CliRunner().invoke(main, ["export"], env=cli_env(settings, tmp_path)).stdout)


def test_one_bad_line_is_refused_and_the_run_goes_on(
    exported: str, settings: Settings, tmp_path: Path, redis_client: Any
) -> None:
    """Info item of the third review: a deeply nested line or `expires_in: "abc"` stopped the
    whole import."""
    good = next(line for line in exported.splitlines() if '"abc123"' in line)
    odd_expiry = tampered(good, set_field(("expires_in",), "abc"))
    nested = "[" * 100_000 + "]" * 100_000
    target = "n" + settings.redis_prefix[1:]
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}
    result = CliRunner().invoke(
        main, ["import"], input="\n".join([nested, odd_expiry, good]) + "\n", env=env
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), "no crash"
    assert "imported 1 store(s)" in result.output and "2 refused" in result.output
    assert "line 1: refused: nested too deeply" in result.output
    assert "expires_in must be a positive whole number" in result.output
    assert redis_client.exists(f"{target}:{{abc123}}:installation")
    for key in redis_client.scan_iter(match=f"{target}:*"):
        redis_client.delete(key)


def test_a_dry_run_says_what_the_import_then_does_for_a_record_with_a_ttl(
    exported: str, settings: Settings, tmp_path: Path, redis_client: Any
) -> None:
    """Issue 27: a dry run said "unchanged" and the import a second later rewrote the record
    in its grace period, its seconds left having moved on. Whether a record expires is
    compared, not in how many seconds; re-importing never restarts its grace period."""
    target = "d" + settings.redis_prefix[1:]
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}

    def run(*dry: str) -> str:
        result = CliRunner().invoke(main, ["import", *dry], input=exported, env=env)
        assert result.exit_code == 0, result.output
        return result.output.rsplit("import", 1)[1].split(" ", 1)[1].strip()  # "N store(s); …"

    assert run() == "2 store(s); 0 unchanged; 0 refused"
    record = f"{target}:{{xyz789}}:installation"
    assert run("--dry-run") == "0 store(s); 2 unchanged; 0 refused"
    left = redis_client.ttl(record)
    redis_client.expire(record, left - 30)  # half a minute on, as the grace period runs
    dry = run("--dry-run")
    assert run() == dry == "0 store(s); 2 unchanged; 0 refused"
    assert redis_client.ttl(record) <= left - 30, "the grace period was not restarted"

    redis_client.persist(record)  # a record that no longer expires: a real difference
    dry = run("--dry-run")
    assert run() == dry == "1 store(s); 1 unchanged; 0 refused"
    assert redis_client.ttl(record) > 0, "the export's expiry is back"
    for key in redis_client.scan_iter(match=f"{target}:*"):
        redis_client.delete(key)
