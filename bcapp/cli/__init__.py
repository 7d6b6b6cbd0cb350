"""The `bcapp` command line: scopes, keys, configuration check, stores, export and import,
reconcile, worker, webhooks, dev, new, simulator and demo."""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import click

from bcapp import tracing
from bcapp.app_spec import (
    declaration_modules,
    declared_scopes,
    make_current_directory_importable,
)
from bcapp.cli.billing import billing
from bcapp.cli.common import echo, fail, or_fail, redis_location, service_or_exit
from bcapp.cli.dev import dev
from bcapp.cli.new import new_command
from bcapp.cli.simulator import simulator
from bcapp.cli.storefront import storefront
from bcapp.cli.stores import stores
from bcapp.cli.tasks import webhooks, worker
from bcapp.cli.transfer import export_command, import_command
from bcapp.crypto import new_key_entry
from bcapp.errors import BcappError, ConfigurationError
from bcapp.process import configure_process
from bcapp.settings import Settings
from bcapp.validation import STORE_HASH

# Commands that serve: the worker and gunicorn's workers start traces of their own.
_SERVERS = frozenset({"dev", "worker", "simulator", "demo"})


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="also print bcapp's INFO log lines (stderr)")
@click.version_option(package_name="bcapp", prog_name="bcapp")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """bcapp: the installation server for BigCommerce apps.

    Run it from your app's directory: `.env` there is read by every command (the environment
    wins), and BCAPP_APP (e.g. shop:app) names your app, imported from that directory.
    """
    from dotenv import load_dotenv  # imported when read: its parser takes 30 ms to import

    load_dotenv(".env", override=False)
    make_current_directory_importable()
    configure_process()
    # Traces when OTEL_* asks: one span per command; servers trace in their own processes.
    if ctx.invoked_subcommand not in _SERVERS and tracing.start("cli"):
        ctx.with_resource(tracing.command_span(str(ctx.invoked_subcommand)))
    if not verbose:  # a command's output is its answer; warnings and errors still show
        for name in ("bcapp", "werkzeug"):  # werkzeug: the demo's in-process simulator
            logging.getLogger(name).setLevel(logging.WARNING)


main.add_command(dev)
main.add_command(new_command)
main.add_command(stores)
main.add_command(export_command)
main.add_command(import_command)
main.add_command(worker)
main.add_command(webhooks)
main.add_command(simulator)
main.add_command(billing)
main.add_command(storefront)


@main.command()
def scopes() -> None:
    """Print the scopes the app requires, one per line (paste them into the Developer Portal):
    those your app declares (`bcapp.scopes.require`), bcapp's own, and those its other
    declarations imply (App Extensions: store_app_extensions_manage)."""
    # The declaring modules alone, not the whole settings: printing scopes needs no secrets
    # (in CI) and writes none (development keeps generated ones under instance/).
    try:
        mode = os.environ.get("BCAPP_ENV", "development").strip().lower() or "development"
        names = declared_scopes(declaration_modules(os.environ, mode))
    except ConfigurationError as exc:
        fail(str(exc))
    for name in names:
        click.echo(name)


@main.group()
def keys() -> None:
    """Token encryption keys."""


@keys.command("new")
def keys_new() -> None:
    """Print a fresh KID:BASE64KEY entry for TOKEN_ENCRYPTION_KEYS."""
    click.echo(new_key_entry())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-seal every stored token with the first key of TOKEN_ENCRYPTION_KEYS."""
    report = or_fail(service_or_exit().operations.rotate_keys)
    for store_hash in report.unreadable:
        echo(f"store {store_hash}: token could not be read (key not configured, or corrupt)")
    click.echo(f"re-sealed {report.rotated} token(s) with the primary key")
    if report.unreadable:
        fail(
            f"{len(report.unreadable)} token(s) could not be read; "
            "keep their key in TOKEN_ENCRYPTION_KEYS"
        )


@main.command()
@click.option(
    "--marketplace",
    is_flag=True,
    help="also apply the rules of BigCommerce's app review that a server can check",
)
def check(marketplace: bool) -> None:
    """Validate configuration, reach Redis, report persistence, print the callback URLs."""
    service = service_or_exit()
    settings = service.settings
    click.echo(f"environment: {settings.env}")
    click.echo(f"client id: {settings.client_id}")
    click.echo(f"token endpoint: {settings.token_url}")
    click.echo(f"redis: {redis_location(settings)}")
    try:
        found = service.operations.redis_policy()
    except BcappError as exc:
        fail(f"redis does not answer ({exc.reason})")
    policy = found.get("maxmemory-policy")
    if not found:  # CONFIG may be denied by an ACL or a managed service
        click.echo("redis persistence: unknown (CONFIG GET refused)")
        click.echo("warning: confirm that maxmemory-policy is noeviction (docs/security.md R6)")
    else:
        click.echo(
            f"redis persistence: appendonly={found.get('appendonly', '?')} "
            f"save={found.get('save', '') or 'off'!r} maxmemory-policy={policy}"
        )
    click.echo("register these URLs in the Developer Portal:")
    for label, url in settings.callback_urls().items():
        click.echo(f"  {label}: {url}")
    click.echo("required scopes: " + str(settings.required_scopes))
    paid = settings.billing
    click.echo(
        "unified billing: off (docs/billing.md)" if paid is None else
        f"unified billing: app {paid.app_id}, partner account {paid.partner_account_uuid} "
        "(bcapp billing check proves the token)"
    )
    port = urlsplit(settings.app_url).port
    if settings.is_production and port not in (None, 443):
        fail(
            f"APP_URL is on port {port}: BigCommerce delivers webhooks only to port 443; "
            "serve the app on https://host/ behind a proxy"
        )
    if marketplace:
        _check_marketplace(service.settings)
    if found and policy != "noeviction":
        fail(
            f"maxmemory-policy is {policy}: Redis may evict replay guards and tombstones "
            "(volatile-*) or installations (allkeys-*); set it to noeviction"
        )


def _check_marketplace(settings: Settings) -> None:
    """Print each review rule's finding; exit 1 when one fails."""
    from bcapp.marketplace import review

    findings = review(settings)
    click.echo("marketplace review:")
    for finding in findings:
        echo(f"  {'ok  ' if finding.passed else 'FAIL'} {finding.line}")
    failed = sum(not finding.passed for finding in findings)
    if failed:
        fail(f"{failed} marketplace rule(s) failed; each line above says what to change")


@main.command()
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="most stores to probe in this run (the next run takes the rest)",
)
@click.option(
    "--interval",
    type=click.IntRange(60),
    default=86400,
    show_default=True,
    help="seconds before a store is probed again",
)
@click.option("--store", "store_hash", help="probe this one store now (its lease is ignored)")
def reconcile(limit: int, interval: int, store_hash: str | None) -> None:
    """Find uninstalls BigCommerce never announced; purge uninstalled stores past their grace.

    Cron-friendly and safe on several machines at once: each store is probed by one run per
    interval. Exits 1 when a probe failed (the store is tried again next interval). With
    --store HASH, that store alone is checked at once, however recently it was.
    """
    if store_hash is not None and not STORE_HASH.fullmatch(store_hash):
        fail("a store hash holds only lowercase letters and digits")
    service = service_or_exit()
    report = or_fail(
        lambda: service.operations.reconcile(limit=limit, interval=interval, only=store_hash)
    )
    click.echo(report.summary())
    for line in report.hooks:  # "store abc: created store/order/created; App Extensions …"
        echo(line)
    for destination in sorted(report.blocked):
        echo(f"BigCommerce blocks webhooks to {destination} for now (too many failed deliveries)")
    for store_hash in report.errors:
        echo(f"store {store_hash}: probe failed")
    if report.errors:
        fail(f"{len(report.errors)} probe(s) failed; they are retried next interval")


@main.command()
def demo() -> None:
    """Walk install, load, second user, remove user, uninstall, re-install against the simulator."""
    from bcapp.demo import DemoFailure, run

    try:
        run()
    except DemoFailure as exc:
        fail(f"demo failed: {exc}")
