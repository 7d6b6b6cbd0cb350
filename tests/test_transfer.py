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
    service_of(app).stores.app_data("abc123").set_many({"greeting": "Moved"})
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
    assert service_of(moved).stores.app_data("abc123").get_all() == {"greeting": "Moved"}
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


def uninstalled_by(source: str) -> Callable[[dict[str, Any]], None]:
    """xyz789's line is the uninstalled one; this sets its uninstall's source."""
    return set_field(("installation", "uninstall", "source"), source)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (set_field(("installation", "token_rejected_at"), 10**20), "token_rejected_at"),
        (set_field(("installation", "installed_at"), -1), "installed_at"),
        (set_field(("installation", "owner_since"), 2**63), "owner_since"),
        (set_field(("installation", "installer_id"), "1"), "installer_id"),
        (set_field(("installation", "owner_id"), 0), "owner_id"),
        (set_field(("installation", "kind"), "operator"), "kind"),
        (set_field(("installation", "install_id"), ""), "install_id"),
        (set_field(("installation", "shadow_token"), "x"), "'shadow_token'"),
        (set_field(("installation", "uninstall"), {"at": 1, "source": "callback",
                                                     "recorded_at": 1, "why": "x"}), "'why'"),
        (set_field(("installation", "uninstall"), {"at": 1, "source": "operator",
                                                     "recorded_at": 1}), "source"),
        (set_field(("installation", "uninstall"), {"at": 1, "source": "callback",
                                                     "recorded_at": 10**15}), "recorded_at"),
        (set_field(("users", "1", "role"), "admin"), "user 1: bcapp never writes 'role'"),
        (set_field(("users", "2", "added_at"), 10**20), "user 2: added_at"),
        (set_field(("users", "2", "is_owner"), 0), "user 2: is_owner"),
        (set_field(("settings", "greeting"), "x" * 2_000_000), "setting 'greeting'"),
        (set_field(("settings", "g" * 300), "x"), "a setting's name"),
        (set_field(("settings",), {f"s{n}": "x" for n in range(1001)}), "1001 settings"),
        (set_field(("expires_in",), 10**12), "expires_in"),
        (set_field(("comment",), "x"), "bcapp never writes 'comment'"),
    ],
    ids=[
        "huge-token-rejected-at", "negative-time", "huge-owner-since", "text-id", "zero-owner",
        "kind", "empty-install-id", "unknown-field", "unknown-uninstall-field",
        "unknown-source", "huge-recorded-at", "unknown-user-field", "huge-added-at",
        "int-owner-flag", "2mb-setting", "long-setting-name", "many-settings", "huge-ttl",
        "unknown-top-field",
    ],
)
def test_import_refuses_a_field_bcapp_never_writes_naming_it_and_stores_nothing(
    exported: str,
    settings: Settings,
    tmp_path: Path,
    redis_client: Any,
    change: Callable[[dict[str, Any]], None],
    named: str,
) -> None:
    """L9 of the fourth review: a huge `token_rejected_at` made `stores list` crash for every
    store, an unknown `uninstall.source` made reconcile purge without probing, and unknown keys
    and a 2 MB setting were written verbatim. Each line is refused by name, its store left
    unwritten; the other lines are imported, as before (the import is per line)."""
    good, = (line for line in exported.splitlines() if '"abc123"' in line)
    line = tampered(good, change)
    target = "v" + settings.redis_prefix[1:]
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}
    result = CliRunner().invoke(main, ["import"], input=line + "\n", env=env)
    assert result.exit_code == 1 and "imported 0 store(s); 0 unchanged; 1 refused" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), "no crash"
    assert "line 1: refused: store abc123: " in result.output and named in result.output
    assert not list(redis_client.scan_iter(match=f"{target}:*")), "nothing stored"
    dry = CliRunner().invoke(main, ["import", "--dry-run"], input=line + "\n", env=env)
    assert "would import 0 store(s); 0 unchanged; 1 refused" in dry.output, dry.output


def test_an_unknown_uninstall_source_is_refused_not_purged_unprobed(
    exported: str, settings: Settings, tmp_path: Path, redis_client: Any
) -> None:
    """The uninstalled store's line, with a source reconcile does not know as forgeable."""
    ended, = (line for line in exported.splitlines() if '"xyz789"' in line)
    target = "u" + settings.redis_prefix[1:]
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}
    line = tampered(ended, uninstalled_by("operator"))
    result = CliRunner().invoke(main, ["import"], input=line + "\n", env=env)
    assert result.exit_code == 1 and "store xyz789: uninstall: source" in result.output
    assert not list(redis_client.scan_iter(match=f"{target}:*")), "nothing stored"
    for source in ("callback", "webhook", "reconcile"):
        accepted = CliRunner().invoke(
            main, ["import"], input=tampered(ended, uninstalled_by(source)) + "\n", env=env
        )
        assert accepted.exit_code == 0, accepted.output
    for key in redis_client.scan_iter(match=f"{target}:*"):
        redis_client.delete(key)


def test_an_imported_record_is_stored_as_bcapp_writes_it(
    exported: str, settings: Settings, tmp_path: Path, redis_client: Any
) -> None:
    """A record is rebuilt from the installation it parses to: a field spelt null, `kind: app`
    or in another order is stored as bcapp would have stored it, and the dry run and the
    import agree on it (and on a second run: unchanged)."""
    good, = (line for line in exported.splitlines() if '"abc123"' in line)
    exported_record = json.loads(good)["installation"]

    def spelt_otherwise(document: dict[str, Any]) -> None:
        record = document["installation"]
        record |= {"token_rejected_at": None, "kind": "app", "name": None, "uninstall": None}
        document["installation"] = dict(reversed(list(record.items())))
        document["users"]["1"] = dict(reversed(list(document["users"]["1"].items())))

    line = tampered(good, spelt_otherwise)
    target = "w" + settings.redis_prefix[1:]
    env = cli_env(settings, tmp_path) | {"BCAPP_REDIS_PREFIX": target}

    def run(*dry: str) -> str:
        result = CliRunner().invoke(main, ["import", *dry], input=line + "\n", env=env)
        assert result.exit_code == 0, result.output
        return result.output.rsplit("import", 1)[1].split(" ", 1)[1].strip()

    assert run("--dry-run") == run() == "1 store(s); 0 unchanged; 0 refused"
    stored = redis_client.get(f"{target}:{{abc123}}:installation")
    assert json.loads(stored) == exported_record, "no nulls, no kind for an app"
    assert stored.startswith('{"store_hash":"abc123","access_token":"v1.'), "bcapp's order"
    assert '"name"' not in stored and '"kind"' not in stored and ": " not in stored
    assert run("--dry-run") == run() == "0 store(s); 1 unchanged; 0 refused"
    for key in redis_client.scan_iter(match=f"{target}:*"):
        redis_client.delete(key)


def test_a_stores_own_api_account_moves_with_its_sealed_secret(
    settings: Settings, tmp_path: Path, sim: SimulatorState, bigcommerce: Any, redis_client: Any
) -> None:
    """An API account is written with no installer (id 0) and a sealed client secret: the
    rules for what bcapp writes take it in as it is, and a second run leaves it alone."""
    account = sim.create_api_account(
        "abc123", "Migration", "store_v2_information_read_only store_v2_products_read_only"
    )
    env = cli_env(settings, tmp_path)
    added = CliRunner().invoke(
        main,
        ["stores", "add", "--api-path", f"{bigcommerce.url}/stores/abc123/v3/",
         "--client-id", account.client_id, "--name", "Mig"],
        input=f"{account.access_token}\n{account.client_secret}\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    exported = CliRunner().invoke(main, ["export"], env=env).stdout
    assert '"kind": "api_account"' in exported and '"installer_id": 0' in exported
    target = "a" + settings.redis_prefix[1:]
    moved = env | {"BCAPP_REDIS_PREFIX": target}
    for expected in ("1 store(s); 0 unchanged", "0 store(s); 1 unchanged"):
        dry = CliRunner().invoke(main, ["import", "--dry-run"], input=exported, env=moved)
        done = CliRunner().invoke(main, ["import"], input=exported, env=moved)
        assert done.exit_code == 0, done.output
        assert f"would import {expected}" in dry.output and f"imported {expected}" in done.output
    listed = CliRunner().invoke(main, ["stores", "list"], env=moved).output
    assert listed == "abc123  installed  (store-level API account)\n"
    for key in redis_client.scan_iter(match=f"{target}:*"):
        redis_client.delete(key)
