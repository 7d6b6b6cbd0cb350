"""The `bcapp` command line."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from bcapp.cli import main
from bcapp.crypto import parse_keys
from bcapp.errors import TokenRejected
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store import embedded
from tests.conftest import CLIENT_SECRET, service_of
from tests.helpers import install, signed
from tests.servers import environment_for


def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The test settings for a CLI run (tests/servers.py::environment_for), with an instance
    folder of its own and an https APP_URL, so `bcapp check` judges a production-like URL."""
    env = environment_for(settings) | {
        "BCAPP_ENV": "development",
        "BCAPP_INSTANCE_DIR": str(tmp_path / "cli-instance"),
        "APP_URL": "https://app.example.com",
    }
    del env["SECRET_KEY"], env["BC_AUTH_CALLBACK_URL"]
    return env


def test_scopes_prints_one_per_line() -> None:
    """bcapp's own app in development: its example declares the products scope, an App
    Extension, which implies the extensions scope, Unified Billing plans, which imply
    `store_v2_information` (the merchant's account UUID; it covers the read-only scope bcapp
    needs, which is still listed), and a storefront script (`store_v2_content`)."""
    result = CliRunner().invoke(main, ["scopes"], env={"BCAPP_ENV": "development"})
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "store_app_extensions_manage",
        "store_v2_content",
        "store_v2_information",
        "store_v2_information_read_only",
        "store_v2_products_read_only",
    ]


def test_scopes_without_the_example_are_bcapps_own() -> None:
    result = CliRunner().invoke(main, ["scopes"], env={"BCAPP_EXAMPLE_PAGES": "false"})
    assert result.exit_code == 0
    assert result.output.splitlines() == ["store_v2_information_read_only"]


def test_scopes_refuses_an_app_that_does_not_import(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["scopes"], env={"BCAPP_APP": "no_such_app_module:app"})
    assert result.exit_code == 1
    assert "cannot import no_such_app_module (named by BCAPP_APP" in result.output


def test_check_refuses_a_client_id_without_its_secret(tmp_path: Path) -> None:
    env = {"BC_CLIENT_ID": "abc123", "BC_CLIENT_SECRET": "",
           "BCAPP_INSTANCE_DIR": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "error: BC_CLIENT_ID is set without its secret; set these variables:",
        "  BC_CLIENT_SECRET: copy it from the BigCommerce Developer Portal "
        "(My Apps > View Client ID)",
    ]
    assert not (tmp_path / "instance").exists()  # no secret was made up for it


def test_version_names_the_installed_release() -> None:
    from importlib import metadata

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"bcapp, version {metadata.version('bcapp')}\n"


def test_keys_new_prints_a_usable_entry() -> None:
    result = CliRunner().invoke(main, ["keys", "new"])
    assert result.exit_code == 0
    [key] = parse_keys(result.output.strip())
    assert len(key.key) == 32


def test_check_reports_redis_and_callback_urls(settings: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check"], env=cli_env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    assert "Auth Callback URL: https://app.example.com/bigcommerce/auth" in result.output
    assert "Uninstall Callback URL: https://app.example.com/bigcommerce/uninstall" in result.output
    assert "redis persistence:" in result.output
    assert CLIENT_SECRET not in result.output


def test_check_fails_in_production_when_app_url_is_not_on_port_443(
    settings: Settings, tmp_path: Path
) -> None:
    """BigCommerce delivers webhooks only to port 443 (issue 18, Build 2)."""
    production = cli_env(settings, tmp_path) | {
        "BCAPP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
    }
    env = production | {"APP_URL": "https://app.example.com:8443"}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert "APP_URL is on port 8443" in result.output and "443" in result.output
    explicit = production | {"APP_URL": "https://app.example.com:443"}
    assert CliRunner().invoke(main, ["check"], env=explicit).exit_code == 0
    assert CliRunner().invoke(main, ["check"], env=production).exit_code == 0


def test_a_cluster_deployment_must_name_a_broker(settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings, tmp_path) | {"REDIS_URL": "redis+cluster://127.0.0.1:7000"}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1 and "BCAPP_BROKER_URL must name" in result.output


def test_check_fails_when_redis_is_down(settings: Settings, tmp_path: Path) -> None:
    env = cli_env(settings, tmp_path) | {"REDIS_URL": "redis://:hunter2pass@127.0.0.1:9/0"}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert "redis does not answer" in result.output
    assert "hunter2pass" not in result.output


def test_check_fails_on_bad_configuration(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check"], env={"BCAPP_ENV": "production"})
    assert result.exit_code == 1
    assert "BC_CLIENT_SECRET" in result.output


def test_stores_list_and_show_never_print_tokens(
    client: FlaskClient, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    install(client, sim)
    env = cli_env(settings, tmp_path)
    listed = CliRunner().invoke(main, ["stores", "list"], env=env)
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=env)

    assert listed.exit_code == 0
    assert listed.output.splitlines() == ["abc123  installed  (app installation)"]
    assert shown.exit_code == 0, shown.output
    assert (
        "owner@example.com" in shown.output and "user: 1 owner@example.com (owner)" in shown.output
    )
    token = sim.stores["abc123"].access_token
    assert token and token not in shown.output + listed.output


def test_stores_show_human_times_and_the_reauthorisation_flag(
    client: FlaskClient, app: Flask, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    """Issue 20, Build 3: ISO 8601 UTC times, and the flag the README promises."""
    install(client, sim)
    sim.revoke("abc123")
    with pytest.raises(TokenRejected):
        service_of(app).stores.client("abc123").get("v2/store")  # the API refuses the token
    env = cli_env(settings, tmp_path)
    listed = CliRunner().invoke(main, ["stores", "list"], env=env).output.splitlines()
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=env).output
    assert listed[0].startswith("abc123  installed, needs re-authorising (the API refused")
    assert re.search(r"installed at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  updated at: ", shown)
    assert "needs re-authorising" in shown


@pytest.mark.parametrize("store_hash", ["nope00", "BAD!"])
def test_stores_show_unknown_or_malformed(
    settings: Settings, tmp_path: Path, store_hash: str
) -> None:
    result = CliRunner().invoke(
        main, ["stores", "show", store_hash], env=cli_env(settings, tmp_path)
    )
    assert result.exit_code == 1


def test_keys_rotate_reseals_tokens_with_the_new_primary_key(
    client: FlaskClient,
    sim: SimulatorState,
    settings: Settings,
    tmp_path: Path,
    redis_client: Any,
    prefix: str,
) -> None:
    install(client, sim)
    old_env = cli_env(settings, tmp_path)
    new_entry = CliRunner().invoke(main, ["keys", "new"]).output.strip()
    rotated_env = old_env | {
        "TOKEN_ENCRYPTION_KEYS": f"{new_entry},{old_env['TOKEN_ENCRYPTION_KEYS']}"
    }

    first = CliRunner().invoke(main, ["keys", "rotate"], env=rotated_env)
    again = CliRunner().invoke(main, ["keys", "rotate"], env=rotated_env)

    assert first.exit_code == 0 and "re-sealed 1 token(s)" in first.output
    assert again.exit_code == 0 and "re-sealed 0 token(s)" in again.output
    record = redis_client.get(f"{prefix}:{{abc123}}:installation")
    assert f'"v1.{new_entry.split(":")[0]}.' in record
    only_new = old_env | {"TOKEN_ENCRYPTION_KEYS": new_entry}
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=only_new)
    assert shown.exit_code == 0, "the old key can now be retired"


def test_keys_rotate_reports_tokens_it_cannot_read(
    client: FlaskClient, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    install(client, sim)
    stranger = CliRunner().invoke(main, ["keys", "new"]).output.strip()
    env = cli_env(settings, tmp_path) | {"TOKEN_ENCRYPTION_KEYS": stranger}
    result = CliRunner().invoke(main, ["keys", "rotate"], env=env)
    assert result.exit_code == 1 and "could not be read" in result.output


def test_stores_show_escapes_control_characters_in_stored_values(
    installed: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    hostile = {"id": 7, "email": "x@example.com\x1b]0;owned\x07\r\x1b[2Kroot@bank.example"}
    response = installed.get(f"/bigcommerce/load?signed_payload_jwt={signed(user=hostile)}")
    assert response.status_code == 302
    shown = CliRunner().invoke(main, ["stores", "show", "abc123"], env=cli_env(settings, tmp_path))

    assert shown.exit_code == 0, shown.output
    assert not any(char in shown.output for char in "\x1b\x07\r")
    assert "user: 7 x@example.com\\x1b]0;owned\\x07\\r\\x1b[2Kroot@bank.example" in shown.output


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-ttl", "allkeys-lru"])
def test_check_fails_unless_redis_never_evicts(
    settings: Settings, tmp_path: Path, policy: str
) -> None:
    """A volatile-* policy evicts exactly the TTL'd security records (replay guards)."""
    instance = tmp_path / "evicting-redis"
    url = embedded.ensure_running(instance)
    try:
        client = redis.Redis.from_url(url)
        client.config_set("maxmemory-policy", policy)
        client.close()
        env = cli_env(settings, tmp_path) | {"REDIS_URL": url}
        result = CliRunner().invoke(main, ["check"], env=env)
    finally:
        embedded.stop(instance)
    assert result.exit_code == 1
    assert f"maxmemory-policy is {policy}" in result.output and "noeviction" in result.output


def installed_pair(client: FlaskClient, sim: SimulatorState) -> None:
    """abc123 stays installed on BigCommerce; xyz789 was uninstalled there, no callback came."""
    sim.add_store("xyz789", owner_id=7)
    install(client, sim)
    install(client, sim, store_hash="xyz789", user_id=7)
    sim.revoke("xyz789")


def test_reconcile_ends_a_revoked_store_and_leaves_a_healthy_one(
    client: FlaskClient, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    installed_pair(client, sim)
    env = cli_env(settings, tmp_path)
    result = CliRunner().invoke(main, ["reconcile"], env=env)
    assert result.exit_code == 0, result.output
    assert "probed 2: 1 healthy, 1 ended" in result.output and "errors 0" in result.output
    listed = CliRunner().invoke(main, ["stores", "list"], env=env).output.splitlines()
    assert listed[0] == "abc123  installed  (app installation)"
    assert listed[1].startswith("xyz789  uninstalled (reconcile)")
    again = CliRunner().invoke(main, ["reconcile"], env=env)
    assert "probed 0" in again.output and "skipped 1" in again.output
    now = CliRunner().invoke(main, ["reconcile", "--store", "abc123"], env=env)
    assert "probed 1: 1 healthy" in now.output, "one store, now, its lease ignored"
    bad = CliRunner().invoke(main, ["reconcile", "--store", "NOT-A-HASH"], env=env)
    assert bad.exit_code == 1 and "store hash" in bad.output


def test_reconcile_exits_non_zero_when_a_probe_fails(
    client: FlaskClient, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    install(client, sim)
    env = cli_env(settings, tmp_path) | {"BC_API_URL": "http://127.0.0.1:9"}
    result = CliRunner().invoke(main, ["reconcile"], env=env)
    assert result.exit_code == 1
    assert "store abc123: probe failed" in result.output and "errors 1" in result.output


def test_two_concurrent_reconcile_runs_do_the_work_once(
    client: FlaskClient, sim: SimulatorState, settings: Settings, tmp_path: Path
) -> None:
    installed_pair(client, sim)
    quota_before = sim.stores["abc123"].requests_left
    # No handler declared (cli_env): only the uninstall hook is wanted.
    env = {"PATH": "/usr/bin:/bin"} | cli_env(settings, tmp_path)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bcapp.cli", "reconcile"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    probed = sum(int(re.search(r"probed (\d+)", output).group(1)) for output in outputs)  # type: ignore[union-attr]
    assert probed == 2, outputs
    # One probe of the healthy store, then its webhooks made true once: list, create the
    # uninstall hook (no worker ran the install's task here), and the admin read.
    assert sim.stores["abc123"].requests_left == quota_before - 4, "one probe, one hook sync"
    assert len(sim.stores["abc123"].hooks) == 1
    assert all(run.returncode == 0 for run in runs)


def test_a_command_stops_the_embedded_redis_it_started_and_leaves_make_runs_alone(
    tmp_path: Path,
) -> None:
    """Issue 20, Build 3: `bcapp check` without `make run` left its redis-server running."""
    from bcapp.store import embedded

    instance = tmp_path / "instance"
    env = {"BCAPP_INSTANCE_DIR": str(instance), "REDIS_URL": "", "BC_CLIENT_ID": ""}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert "redis: embedded" in result.output, result.output
    assert not embedded.is_running(instance), "the command stopped what it started"

    embedded.ensure_running(instance)  # `make run` is running
    try:
        CliRunner().invoke(main, ["check"], env=env)
        assert embedded.is_running(instance), "a running server is left alone"
    finally:
        embedded.stop(instance)


def test_commands_are_quiet_unless_asked_and_log_to_stderr(tmp_path: Path) -> None:
    """Issue 20, Build 3: INFO lines were mixed into command output; `-v` brings them back."""
    import subprocess
    import sys

    from tests.servers import REPO

    env = {"BCAPP_INSTANCE_DIR": str(tmp_path / "instance"), "PATH": "/usr/bin:/bin"}
    quiet = subprocess.run(
        [sys.executable, "-m", "bcapp.cli", "check"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    verbose = subprocess.run(
        [sys.executable, "-m", "bcapp.cli", "-v", "check"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert " INFO " not in quiet.stdout + quiet.stderr
    assert " INFO bcapp" in verbose.stderr and " INFO " not in verbose.stdout


MARKETPLACE_READY = {
    "BCAPP_EXAMPLE_PAGES": "true",  # the products scope is the example's
    "BCAPP_SUPPORT_URL": "https://help.example.com/app",
    "BCAPP_PRIVACY_URL": "https://example.com/privacy",
}


def test_check_marketplace_passes_on_a_ready_configuration(
    settings: Settings, tmp_path: Path
) -> None:
    env = cli_env(settings, tmp_path) | MARKETPLACE_READY
    result = CliRunner().invoke(main, ["check", "--marketplace"], env=env)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert "ok   scope store_v2_information_read_only: GET v2/store" in result.output
    assert "ok   support page: https://help.example.com/app" in result.output


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"APP_URL": "https://app.example.com:8443"}, "APP_URL https://app.example.com:8443"),
        ({"APP_URL": "https://10.0.0.5"}, "webhook destination https://10.0.0.5"),
        ({"BCAPP_MULTI_USER": "false"}, "BCAPP_MULTI_USER is off"),
        ({"BCAPP_SUPPORT_URL": ""}, "BCAPP_SUPPORT_URL: set it"),
        ({"BCAPP_PRIVACY_URL": "http://example.com/privacy"}, "BCAPP_PRIVACY_URL: set it"),
        ({"BCAPP_SUPPORT_URL": "https://help.example.com/?token=hunter2x"}, "BCAPP_SUPPORT_URL: "
         "this URL carries a secret"),
    ],
)
def test_check_marketplace_fails_on_each_rule_saying_what_to_change(
    settings: Settings, tmp_path: Path, change: dict[str, str], complaint: str
) -> None:
    env = cli_env(settings, tmp_path) | MARKETPLACE_READY | change
    result = CliRunner().invoke(main, ["check", "--marketplace"], env=env)
    assert result.exit_code == 1
    assert f"FAIL {complaint}" in result.output, result.output
    assert "marketplace rule(s) failed" in result.output
    assert "hunter2x" not in result.output


def test_check_marketplace_names_a_scope_without_a_reason_and_a_bad_extension(
    settings: Settings,
) -> None:
    from dataclasses import replace

    from bcapp import extensions
    from bcapp.marketplace import review
    from bcapp.scopes import ScopeSet

    extensions.add(model="ORDERS", context="PANEL", url="/bigcommerce/load", label="Oops")
    ready = replace(
        settings,
        app_url="https://app.example.com",
        support_url="https://help.example.com",
        privacy_url="https://example.com/privacy",
        example_pages=True,
        required_scopes=ScopeSet.parse("store_v2_information_read_only store_v2_orders"),
    )
    failed = [finding.line for finding in review(ready) if not finding.passed]
    assert failed == [
        "scope store_v2_orders: no reason given; declare it with "
        "bcapp.scopes.require('store_v2_orders', reason=...), or drop it if no code needs it",
        "App Extension url /bigcommerce/load points at bcapp's callbacks: give it a page of the "
        "app",
    ]
