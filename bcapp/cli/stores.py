"""`bcapp stores`: installed stores and store-level API accounts; tokens are never printed."""

from __future__ import annotations

import functools

import click

from bcapp.cli.common import echo, fail, or_fail, service_or_exit, status
from bcapp.validation import STORE_HASH


@click.group()
def stores() -> None:
    """Installed stores and store-level API accounts (tokens are never printed)."""


@stores.command("list")
def stores_list() -> None:
    """List stores with a record, and whether each is installed or in its grace period."""
    service = service_or_exit()
    for store_hash in or_fail(service.list_stores):
        details = or_fail(functools.partial(service.show_store, store_hash))
        echo(f"{store_hash}  {status(details.installation) if details else 'unreadable'}")


@stores.command("show")
@click.argument("store_hash")
def stores_show(store_hash: str) -> None:
    """Show one installation and its users."""
    if not STORE_HASH.fullmatch(store_hash):
        fail("a store hash holds only lowercase letters and digits")
    service = service_or_exit()
    details = or_fail(lambda: service.show_store(store_hash))
    if details is None:
        fail(f"store {store_hash} is not installed")
    installation = details.installation
    echo(f"store: {installation.store_hash}")
    echo(f"scopes: {installation.scopes}")
    echo(f"owner: {installation.owner_id} {installation.owner_email or ''}".rstrip())
    echo(f"installed by: {installation.installer_id} {installation.installer_email}")
    echo(f"account uuid: {installation.account_uuid or '-'}")
    echo(f"installed at: {installation.installed_at}  updated at: {installation.updated_at}")
    echo(f"status: {status(installation)}")
    echo("access token: (encrypted at rest, not shown)")
    for user in details.users:
        echo(f"user: {user.id} {user.email}{' (owner)' if user.is_owner else ''}")
