"""`bcapp storefront`: the app's storefront scripts on the stores (docs/storefront.md)."""

from __future__ import annotations

import click

from bcapp.cli.common import echo, fail, or_fail, service_or_exit
from bcapp.errors import NotInstalled, TokenRejected
from bcapp.storefront.scripts import declared
from bcapp.validation import STORE_HASH


@click.group()
def storefront() -> None:
    """Storefront scripts: the declared ones, and putting back those a merchant removed."""


@storefront.command("scripts")
def storefront_scripts() -> None:
    """List the declared storefront scripts."""
    for script in declared():
        channels = ", ".join(str(channel) for channel in script.channels)
        echo(f"{script.name}: {script.src} ({script.location}, {script.visibility}, "
             f"consent {script.consent_category}, {script.load_method}; channels {channels})")
    if not declared():
        echo("no storefront script is declared (storefront.script(...) in your app's module)")


@storefront.command("restore")
@click.argument("store_hash")
def storefront_restore(store_hash: str) -> None:
    """Put back the declared scripts a store's merchant removed (BigCommerce asks apps to do it
    only when asked), and sync the others."""
    if not STORE_HASH.fullmatch(store_hash):
        fail("a store hash holds only lowercase letters and digits")
    service = service_or_exit()
    try:
        changes = or_fail(lambda: service.stores.restore_scripts(store_hash))
    except (NotInstalled, TokenRejected) as exc:
        fail(f"store {store_hash} cannot be reached ({exc.reason})")
    if isinstance(changes, str):
        fail(f"the Scripts API failed: {changes}")
    echo(f"{store_hash}: storefront scripts {changes.summary()}")
