"""Store-level API accounts: taken in from stdin or the downloaded file, checked, kept encrypted.

Every test runs the real CLI against the simulator over HTTP; every refusal exits non-zero,
stores nothing and prints no secret.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from bcapp.cli import main
from bcapp.crypto import new_key_entry, parse_keys
from bcapp.settings import Settings
from bcapp.simulator import ServedApp, SimulatorState
from bcapp.simulator.control_panel import credentials_text
from bcapp.simulator.state import SimApiAccount
from tests.conftest import service_of
from tests.helpers import install
from tests.test_cli import cli_env

Snapshot = Callable[[], dict[str, Any]]
BOTH = "store_v2_information_read_only store_v2_products_read_only"


@pytest.fixture
def account(sim: SimulatorState) -> SimApiAccount:
    return sim.create_api_account("abc123", "Migration", BOTH)


def api_path(bigcommerce: ServedApp, store_hash: str = "abc123", version: str = "v3") -> str:
    return f"{bigcommerce.url}/stores/{store_hash}/{version}/"


def run(settings: Settings, tmp_path: Path, args: list[str], stdin: str = "", **env: str) -> Result:
    return CliRunner().invoke(main, args, input=stdin, env=cli_env(settings, tmp_path) | env)


def assert_refused(
    result: Result, snapshot: Snapshot, before: dict[str, Any], *secrets: str
) -> None:
    assert result.exit_code == 1, result.output
    assert snapshot() == before, "nothing stored"
    for secret in secrets:
        assert secret not in result.output


def shown(settings: Settings, tmp_path: Path) -> str:
    return run(settings, tmp_path, ["stores", "show", "abc123"]).output


# --- taking credentials in ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v3", "v2"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_add_from_stdin_stores_the_account_encrypted(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    app: Flask,
    version: str,
    slash: str,
) -> None:
    path = api_path(bigcommerce, version=version).rstrip("/") + slash
    result = run(
        settings,
        tmp_path,
        ["stores", "add", "--api-path", path, "--client-id", account.client_id, "--name", "Mig"],
        stdin=f"{account.access_token}\n{account.client_secret}\n",
    )
    assert result.exit_code == 0, result.output
    assert "stored the API account 'Mig' of store abc123" in result.output
    details = service_of(app).operations.show_store("abc123")
    assert details is not None and details.installation.kind == "api_account"
    assert details.installation.access_token == account.access_token
    assert details.installation.client_secret == account.client_secret
    page = shown(settings, tmp_path)
    listed = run(settings, tmp_path, ["stores", "list"]).output
    assert listed == "abc123  installed  (store-level API account)\n"
    assert "kind: store-level API account" in page and "client id: " + account.client_id in page
    for secret in (account.access_token, account.client_secret):
        assert secret not in result.output + page


LAYOUTS: dict[str, Callable[[SimApiAccount, str], str]] = {
    "downloaded, CRLF": credentials_text,
    "lower case, spaced, reordered": lambda a, p: (
        f"  api path :   {p}\nclient id: {a.client_id}\n"
        f"access_token:{a.access_token}\nClient-Secret: {a.client_secret}\nname: Mig\n"
    ),
    "token and path only": lambda a, p: f"Access Token: {a.access_token}\nAPI Path: {p}\n",
    "JSON": lambda a, p: json.dumps(
        {
            "access_token": a.access_token,
            "api_path": p,
            "client_id": a.client_id,
            "client_secret": a.client_secret,
            "name": "Mig",
        }
    ),
    "byte order mark": lambda a, p: "\ufeff" + credentials_text(a, p),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_add_from_a_credentials_file_in_any_layout(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    app: Flask,
    layout: str,
) -> None:
    file = tmp_path / "credentials.txt"
    file.write_bytes(LAYOUTS[layout](account, api_path(bigcommerce)).encode())
    result = run(settings, tmp_path, ["stores", "add", "--from-file", str(file)])
    assert result.exit_code == 0, result.output
    stored = service_of(app).operations.show_store("abc123")
    assert stored is not None and stored.installation.access_token == account.access_token
    assert account.access_token not in result.output


def test_add_from_a_file_on_stdin(
    settings: Settings, tmp_path: Path, bigcommerce: ServedApp, account: SimApiAccount
) -> None:
    text = credentials_text(account, api_path(bigcommerce))
    result = run(settings, tmp_path, ["stores", "add", "--from-file", "-"], stdin=text)
    assert result.exit_code == 0, result.output


# --- refusals: non-zero, nothing stored, nothing echoed -----------------------------------------


def test_a_deleted_accounts_token_is_refused(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    sim: SimulatorState,
    snapshot: Snapshot,
) -> None:
    sim.delete_api_account("abc123", account.id)
    before = snapshot()
    result = run(
        settings,
        tmp_path,
        ["stores", "add", "--api-path", api_path(bigcommerce)],
        stdin=account.access_token + "\n",
    )
    assert_refused(result, snapshot, before, account.access_token)
    assert "not valid for store abc123; was the API account deleted?" in result.output


def test_missing_scopes_are_named_and_stored_only_when_allowed(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    sim: SimulatorState,
    snapshot: Snapshot,
    app: Flask,
) -> None:
    narrow = sim.create_api_account("abc123", "Narrow", "store_v2_information")
    before = snapshot()
    args = ["stores", "add", "--api-path", api_path(bigcommerce)]
    refused = run(settings, tmp_path, args, stdin=narrow.access_token)
    assert_refused(refused, snapshot, before, narrow.access_token)
    assert "store_v2_products_read_only" in refused.output
    assert "store_v2_information_read_only" not in refused.output, "the modify scope covers it"

    allowed = run(settings, tmp_path, [*args, "--allow-missing-scopes"], stdin=narrow.access_token)
    assert allowed.exit_code == 0, allowed.output
    assert "warning: it lacks required scopes: store_v2_products_read_only" in allowed.output
    stored = service_of(app).operations.show_store("abc123")
    assert (
        stored is not None and str(stored.installation.scopes) == "store_v2_information_read_only"
    )


def test_network_failure_stores_nothing(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    snapshot: Snapshot,
) -> None:
    before = snapshot()
    result = run(
        settings,
        tmp_path,
        ["stores", "add", "--api-path", api_path(bigcommerce)],
        stdin=account.access_token,
        BC_API_URL="http://127.0.0.1:9",
    )
    assert_refused(result, snapshot, before, account.access_token)
    assert "could not be reached" in result.output and "nothing was stored" in result.output


@pytest.mark.parametrize(
    "path",
    [
        "https://api.bigcommerce.com/stores/ABC/v3/",
        "https://api.bigcommerce.com/stores/abc123/v4/",
        "https://api.bigcommerce.com/stores/abc123/v3/catalog",
        "http://api.bigcommerce.com/stores/abc123/v3/",
        "abc123",
        "https://api.bigcommerce.com/stores/abc123/v3/?x=1",
    ],
)
def test_a_bad_api_path_is_refused_with_the_expected_form(
    settings: Settings, tmp_path: Path, snapshot: Snapshot, path: str
) -> None:
    before = snapshot()
    result = run(settings, tmp_path, ["stores", "add", "--api-path", path], stdin="x" * 40)
    assert_refused(result, snapshot, before, "x" * 40)
    assert "https://api.bigcommerce.com/stores/<store hash>/v3/" in result.output


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["--api-path", "https://store-abc123.mybigcommerce.com/api/v2/"], "k" * 40),
        (
            ["--from-file", "-"],
            "Username: admin\nAPI Path: https://store-abc123.mybigcommerce.com/api/v2/\nAPI Token: "
            + "k" * 40,
        ),
        (
            ["--from-file", "-"],
            json.dumps(
                {
                    "username": "admin",
                    "api_key": "k" * 40,
                    "api_path": "https://api.bigcommerce.com/stores/abc123/v3/",
                }
            ),
        ),
    ],
)
def test_basic_auth_credentials_are_refused_with_the_way_forward(
    settings: Settings, tmp_path: Path, snapshot: Snapshot, args: list[str], stdin: str
) -> None:
    before = snapshot()
    result = run(settings, tmp_path, ["stores", "add", *args], stdin=stdin)
    assert_refused(result, snapshot, before, "k" * 40)
    assert "legacy Basic Auth" in result.output and "Create an OAuth API account" in result.output


# --- kept like an installation ------------------------------------------------------------------


def test_the_token_works_through_the_apps_lookup_and_client_and_rotates(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    make_app: Callable[..., Flask],
) -> None:
    text = credentials_text(account, api_path(bigcommerce))
    assert run(settings, tmp_path, ["stores", "add", "--from-file", "-"], stdin=text).exit_code == 0
    details = service_of(make_app()).operations.show_store("abc123")
    assert details is not None
    installation = details.installation
    assert service_of(make_app()).stores.information(installation) == {
        "name": "Store abc123",
        "domain": "abc123.mybigcommerce.example",
        "currency": "USD",
        "currency_symbol": "$",
        "currency_symbol_location": "left",
        "decimal_places": "2",
    }
    new = parse_keys(new_key_entry())
    both = ",".join(
        f"{k.kid}:{base64.b64encode(k.key).decode()}" for k in new + settings.token_keys
    )
    rotated = run(settings, tmp_path, ["keys", "rotate"], TOKEN_ENCRYPTION_KEYS=both)
    assert rotated.exit_code == 0 and "re-sealed 1 token(s)" in rotated.output
    only_new = service_of(make_app(token_keys=new)).operations.show_store("abc123")
    assert only_new is not None and only_new.installation.client_secret == account.client_secret


def test_replacing_an_app_installation_asks_and_an_app_install_takes_precedence(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    client: FlaskClient,
    sim: SimulatorState,
    app: Flask,
    snapshot: Snapshot,
) -> None:
    install(client, sim)
    before = snapshot()
    args = ["stores", "add", "--api-path", api_path(bigcommerce)]
    unconfirmed = run(settings, tmp_path, args, stdin=account.access_token)
    assert_refused(unconfirmed, snapshot, before, account.access_token)
    assert "has an app installation here" in unconfirmed.output and "--yes" in unconfirmed.output

    assert run(settings, tmp_path, [*args, "--yes"], stdin=account.access_token).exit_code == 0
    assert service_of(app).operations.show_store("abc123").installation.kind == "api_account"  # type: ignore[union-attr]
    install(client, sim)
    reinstalled = service_of(app).operations.show_store("abc123")
    assert reinstalled is not None and reinstalled.installation.kind == "app"


def test_remove_forgets_and_says_how_to_revoke_for_good(
    settings: Settings,
    tmp_path: Path,
    bigcommerce: ServedApp,
    account: SimApiAccount,
    app: Flask,
) -> None:
    text = credentials_text(account, api_path(bigcommerce))
    run(settings, tmp_path, ["stores", "add", "--from-file", "-", "--name", "Mig"], stdin=text)
    assert run(settings, tmp_path, ["stores", "remove", "abc123"]).exit_code == 1, "confirm"
    removed = run(settings, tmp_path, ["stores", "remove", "abc123", "--yes"])
    assert removed.exit_code == 0
    assert "Store-level API accounts > delete 'Mig' (no undo)" in removed.output
    assert service_of(app).operations.show_store("abc123") is None


# --- the simulator's side -----------------------------------------------------------------------


def test_the_simulator_shows_credentials_once_and_deleting_revokes_at_once(
    bigcommerce: ServedApp, sim: SimulatorState
) -> None:
    created = requests.post(
        bigcommerce.url + "/stores/abc123/api-accounts",
        data={"name": "Mig", "scopes": BOTH},
        timeout=10,
    )
    [account] = sim.stores["abc123"].api_accounts
    assert created.status_code == 200 and account.access_token in created.text
    [link] = re.findall(r'href="([^"]*credentials\.txt)"', created.text)
    first, second = (requests.get(bigcommerce.url + link, timeout=10) for _ in range(2))
    assert first.status_code == 200 and f"ACCESS TOKEN: {account.access_token}" in first.text
    assert second.status_code == 404, "the download is offered once"
    headers = {"X-Auth-Token": account.access_token}
    store_api = bigcommerce.url + "/stores/abc123/v2/store"
    assert requests.get(store_api, headers=headers, timeout=10).status_code == 200
    requests.post(bigcommerce.url + f"/stores/abc123/api-accounts/{account.id}/delete", timeout=10)
    assert requests.get(store_api, headers=headers, timeout=10).status_code == 401


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00not text", b"{" + b'"a":[' * 100_000 + b"]" * 100_000 + b"}"],
    ids=["invalid-utf8", "deeply-nested"],
)
def test_a_credentials_file_that_is_no_text_or_nested_too_deeply_is_refused_cleanly(
    settings: Settings, tmp_path: Path, snapshot: Snapshot, content: bytes
) -> None:
    """Info item of the third review: these crashed `stores add --from-file` with a traceback."""
    file = tmp_path / "credentials.txt"
    file.write_bytes(content[: 60 * 1024])
    before = snapshot()
    result = run(settings, tmp_path, ["stores", "add", "--from-file", str(file)])
    assert_refused(result, snapshot, before)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), "no crash"
    assert "error:" in result.output


def test_a_wrong_token_over_an_existing_account_is_refused_before_any_word_of_replacing(
    settings: Settings, tmp_path: Path, bigcommerce: ServedApp, account: SimApiAccount
) -> None:
    """Issue 20, Build 3: it printed "It is replaced" and then refused."""
    path = api_path(bigcommerce)
    token = f"{account.access_token}\n"
    stored = run(settings, tmp_path, ["stores", "add", "--api-path", path], stdin=token)
    assert stored.exit_code == 0, stored.output
    wrong = run(
        settings, tmp_path, ["stores", "add", "--api-path", path, "--yes"], stdin="wrong-token\n"
    )
    assert wrong.exit_code == 1 and "not valid for store abc123" in wrong.output
    assert "replace" not in wrong.output.lower()


def test_a_real_api_path_says_which_store_api_is_asked(
    settings: Settings, tmp_path: Path, account: SimApiAccount
) -> None:
    """Issue 20, Build 3: the README's own path was sent to the simulator without a word."""
    path = "https://api.bigcommerce.com/stores/abc123/v3/"
    result = run(
        settings, tmp_path, ["stores", "add", "--api-path", path], stdin=f"{account.access_token}\n"
    )
    assert result.exit_code == 0, result.output
    assert "note: the store API at 127.0.0.1:" in result.output
    assert "is asked, not api.bigcommerce.com" in result.output
