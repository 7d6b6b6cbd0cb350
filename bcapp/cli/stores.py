"""`bcapp stores`: installed stores and store-level API accounts; tokens are never printed."""

from __future__ import annotations

import functools
import sys
from dataclasses import replace
from typing import TextIO
from urllib.parse import urlsplit

import click

from bcapp.cli.common import echo, fail, moment, or_fail, service_or_exit, status
from bcapp.models import Installation
from bcapp.service.api_accounts import (
    API_PATH_FORM,
    ApiAccountCredentials,
    ApiAccountRefused,
    credentials,
    parse_credentials_file,
    store_hash_from_api_path,
)
from bcapp.service.store_client import unverifiable
from bcapp.service.subscriptions import NOT_SUBSCRIBED
from bcapp.validation import STORE_HASH

KINDS = {"app": "app installation", "api_account": "store-level API account"}
MAX_FILE_CHARS = 64 * 1024


@click.group()
def stores() -> None:
    """Installed stores and store-level API accounts (tokens are never printed)."""


@stores.command("list")
def stores_list() -> None:
    """List stores with a record, and whether each is installed or in its grace period."""
    service = service_or_exit()
    for store_hash in or_fail(service.operations.list_stores):
        details = or_fail(functools.partial(service.operations.show_store, store_hash))
        if details is None:
            echo(f"{store_hash}  unreadable")
            continue
        kind = KINDS.get(details.installation.kind, details.installation.kind)
        echo(f"{store_hash}  {status(details.installation)}  ({kind})")


@stores.command("show")
@click.argument("store_hash")
def stores_show(store_hash: str) -> None:
    """Show one installation and its users."""
    if not STORE_HASH.fullmatch(store_hash):
        fail("a store hash holds only lowercase letters and digits")
    service = service_or_exit()
    details = or_fail(lambda: service.operations.show_store(store_hash))
    if details is None:
        fail(f"store {store_hash} is not installed")
    installation = details.installation
    echo(f"store: {installation.store_hash}")
    echo(f"kind: {KINDS.get(installation.kind, installation.kind)}")
    echo(f"scopes: {installation.scopes}")
    if installation.kind == "api_account":
        echo(f"name: {installation.name or '-'}")
        echo(f"client id: {installation.client_id or '-'}")
        secret = "stored encrypted, not shown" if installation.client_secret else "not stored"
        echo(f"client secret: ({secret})")
        if unverifiable(installation):
            echo(f"webhooks: {NOT_SUBSCRIBED}")
    else:
        echo(f"owner: {installation.owner_id} {installation.owner_email or ''}".rstrip())
        echo(f"installed by: {installation.installer_id} {installation.installer_email}")
        echo(f"account uuid: {installation.account_uuid or '-'}")
    echo(
        f"installed at: {moment(installation.installed_at)}  "
        f"updated at: {moment(installation.updated_at)}"
    )
    echo(f"status: {status(installation)}")
    failure = or_fail(lambda: service.operations.extensions_failure(store_hash))
    if failure:
        echo(f"App Extensions: the last sync failed ({failure}); bcapp reconcile tries again")
    removed = or_fail(lambda: service.stores.scripts_removed(store_hash))
    if removed:
        echo(f"storefront scripts removed by the merchant: {removed} "
             f"(bcapp storefront restore {store_hash} puts them back)")
    echo("access token: (encrypted at rest, not shown)")
    for user in details.users:
        echo(f"user: {user.id} {user.email}{' (owner)' if user.is_owner else ''}")


@stores.command("add")
@click.option("--api-path", help="the API account's API path, e.g. " + API_PATH_FORM)
@click.option("--client-id", help="the API account's client id (optional)")
@click.option("--name", help="a label for the API account (optional)")
@click.option(
    "--from-file",
    type=click.File("r", encoding="utf-8-sig"),
    help="the credentials .txt file the control panel downloads, or JSON ('-' for stdin)",
)
@click.option("--allow-missing-scopes", is_flag=True, help="store it even if it lacks scopes")
@click.option("--yes", is_flag=True, help="replace the store's current record without asking")
def stores_add(
    api_path: str | None,
    client_id: str | None,
    name: str | None,
    from_file: TextIO | None,
    allow_missing_scopes: bool,
    yes: bool,
) -> None:
    """Keep a store's own API account (Settings > Store-level API accounts), encrypted.

    With --api-path, the access token (and, on a second line, the client secret) is read from
    standard input, or prompted for without echo: never from a flag, so it stays out of shell
    history and process lists. The token is checked against the store before anything is kept.
    """
    account = _account(api_path, client_id, name, from_file)
    service = service_or_exit()
    asked = urlsplit(service.settings.api_url).netloc
    if urlsplit(account.api_path).netloc != asked:
        echo(  # the API path names the store; calls go where this deployment sends them
            f"note: the store API at {asked} is asked, not {urlsplit(account.api_path).netloc}"
            + (" (development: the local simulator)" if service.settings.simulator_url else "")
        )
    try:  # checked against BigCommerce before anything is said about replacing
        missing = or_fail(
            lambda: service.operations.check_api_account(account, allow_missing_scopes)
        )
    except ApiAccountRefused as refused:  # nothing was stored
        fail(refused.detail)
    current = or_fail(lambda: service.operations.show_store(account.store_hash))
    if current is not None:
        _confirm_replacing(current.installation, yes)
    saved = or_fail(lambda: service.operations.store_api_account(account, missing))
    label = f" '{saved.name}'" if saved.name else ""
    echo(f"stored the API account{label} of store {saved.store_hash} (encrypted; never shown)")
    if missing:
        echo("warning: it lacks required scopes: " + ", ".join(missing))
    if unverifiable(saved):
        echo(f"warning: webhooks {NOT_SUBSCRIBED}")
    else:
        echo(
            "its webhook subscriptions are made by the next reconcile "
            f"(bcapp reconcile --store {saved.store_hash} makes them now)"
        )


@stores.command("remove")
@click.argument("store_hash")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def stores_remove(store_hash: str, yes: bool) -> None:
    """Forget a store's credentials here, and say how to revoke them for good."""
    if not STORE_HASH.fullmatch(store_hash):
        fail("a store hash holds only lowercase letters and digits")
    service = service_or_exit()
    details = or_fail(lambda: service.operations.show_store(store_hash))
    if details is None:
        fail(f"store {store_hash} has no credentials here")
    kind = details.installation.kind
    if not yes:
        _ask(f"Forget the {KINDS.get(kind, kind)} of store {store_hash}?")
    or_fail(lambda: service.operations.forget_store(store_hash))
    echo(f"forgot the credentials of store {store_hash}")
    if kind == "api_account":
        name = details.installation.name or "the API account"
        echo(
            f"They still work on BigCommerce. To revoke them for good: control panel of store "
            f"{store_hash} > Settings > Store-level API accounts > delete '{name}' (no undo)."
        )
    else:
        echo(
            "The app is still installed on BigCommerce: uninstall it in the control panel "
            "(Apps > My Apps) to revoke its token; until then opening it says it is not installed."
        )


def _account(
    api_path: str | None, client_id: str | None, name: str | None, from_file: TextIO | None
) -> ApiAccountCredentials:
    if (api_path is None) == (from_file is None):
        fail("give either --api-path URL (the token on standard input) or --from-file FILE")
    try:
        if from_file is not None:
            try:
                text = from_file.read(MAX_FILE_CHARS)
            except UnicodeDecodeError:
                fail("the credentials file is not UTF-8 text: use the .txt or .json downloaded")
            account = parse_credentials_file(text)
            return replace(
                account, name=name or account.name, client_id=client_id or account.client_id
            )
        assert api_path is not None
        store_hash_from_api_path(api_path)  # refuse a bad path before asking for the token
        token, secret = _read_secrets()
        return credentials(api_path, token, client_id, secret, name)
    except ApiAccountRefused as refused:
        fail(refused.detail)


def _read_secrets() -> tuple[str, str | None]:
    """The access token and optional client secret: prompted without echo, or from stdin."""
    if sys.stdin.isatty():
        token = click.prompt("Access token", hide_input=True)
        secret = click.prompt(
            "Client secret (optional, Enter to skip)",
            hide_input=True,
            default="",
            show_default=False,
        )
        return token, secret or None
    lines = sys.stdin.read(MAX_FILE_CHARS).splitlines()
    piped_secret = lines[1].strip() if len(lines) > 1 else ""
    return (lines[0].strip() if lines else ""), piped_secret or None


def _confirm_replacing(current: Installation, yes: bool) -> None:
    store_hash = current.store_hash
    if current.kind == "api_account":
        what = (
            f"Store {store_hash} already has an API account here ('{current.name or '-'}'). "
            "The new one (checked: it works) replaces it; the old one stays valid on BigCommerce "
            "until you delete it there."
        )
    else:
        what = (
            f"Store {store_hash} has an app installation here. The API account replaces its "
            "token in bcapp; the app stays installed on BigCommerce, and its next install or "
            "re-authorisation replaces the API account again (installs take precedence)."
        )
    echo(what)
    if not yes:
        _ask("Replace it?")


def _ask(question: str) -> None:
    """Confirm on a terminal; without one, --yes is required."""
    if not sys.stdin.isatty():
        fail("not replaced or removed: pass --yes to confirm without a terminal")
    if not click.confirm(question, default=False):
        fail("nothing changed")
