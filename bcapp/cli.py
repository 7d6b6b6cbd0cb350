"""The `bcapp` command line: scopes, keys, configuration check, stores, reconcile."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import click

from bcapp.crypto import new_key_entry
from bcapp.errors import BcappError, ConfigurationError
from bcapp.models import Installation
from bcapp.process import configure_process
from bcapp.scopes import required_scopes
from bcapp.service import AppService, build_service
from bcapp.settings import Settings
from bcapp.validation import STORE_HASH, printable

T = TypeVar("T")


@click.group()
def main() -> None:
    """bcapp: the installation server for BigCommerce apps."""
    configure_process()


@main.command()
def scopes() -> None:
    """Print the scopes the app requires, one per line (paste them into the Developer Portal)."""
    for name in required_scopes():
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
    report = _or_fail(_service_or_exit().rotate_keys)
    for store_hash in report.unreadable:
        _echo(f"store {store_hash}: token could not be read (key not configured, or corrupt)")
    click.echo(f"re-sealed {report.rotated} token(s) with the primary key")
    if report.unreadable:
        _fail(
            f"{len(report.unreadable)} token(s) could not be read; "
            "keep their key in TOKEN_ENCRYPTION_KEYS"
        )


@main.command()
def check() -> None:
    """Validate configuration, reach Redis, report persistence, print the callback URLs."""
    service = _service_or_exit()
    settings = service.settings
    click.echo(f"environment: {settings.env}")
    click.echo(f"client id: {settings.client_id}")
    click.echo(f"token endpoint: {settings.token_url}")
    click.echo(f"redis: {_redis_location(settings)}")
    try:
        found = service.redis_policy()
    except BcappError as exc:
        _fail(f"redis does not answer ({exc.reason})")
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
    if found and policy != "noeviction":
        _fail(
            f"maxmemory-policy is {policy}: Redis may evict replay guards and tombstones "
            "(volatile-*) or installations (allkeys-*); set it to noeviction"
        )


@main.group()
def stores() -> None:
    """Installed stores (tokens are never printed)."""


@stores.command("list")
def stores_list() -> None:
    """List stores with a record, and whether each is installed or in its grace period."""
    service = _service_or_exit()
    for store_hash in _or_fail(service.list_stores):
        details = _or_fail(functools.partial(service.show_store, store_hash))
        _echo(f"{store_hash}  {_status(details.installation) if details else 'unreadable'}")


@stores.command("show")
@click.argument("store_hash")
def stores_show(store_hash: str) -> None:
    """Show one installation and its users."""
    if not STORE_HASH.fullmatch(store_hash):
        _fail("a store hash holds only lowercase letters and digits")
    service = _service_or_exit()
    details = _or_fail(lambda: service.show_store(store_hash))
    if details is None:
        _fail(f"store {store_hash} is not installed")
    installation = details.installation
    _echo(f"store: {installation.store_hash}")
    _echo(f"scopes: {installation.scopes}")
    _echo(f"owner: {installation.owner_id} {installation.owner_email or ''}".rstrip())
    _echo(f"installed by: {installation.installer_id} {installation.installer_email}")
    _echo(f"account uuid: {installation.account_uuid or '-'}")
    _echo(f"installed at: {installation.installed_at}  updated at: {installation.updated_at}")
    _echo(f"status: {_status(installation)}")
    _echo("access token: (encrypted at rest, not shown)")
    for user in details.users:
        _echo(f"user: {user.id} {user.email}{' (owner)' if user.is_owner else ''}")


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
def reconcile(limit: int, interval: int) -> None:
    """Find uninstalls BigCommerce never announced; purge uninstalled stores past their grace.

    Cron-friendly and safe on several machines at once: each store is probed by one run per
    interval. Exits 1 when a probe failed (the store is tried again next interval).
    """
    report = _or_fail(lambda: _service_or_exit().reconcile(limit=limit, interval=interval))
    click.echo(
        f"probed {report.probed}: {report.healthy} healthy, {report.ended} ended "
        f"(token refused); purged {report.purged}; skipped {report.skipped} "
        f"(probed recently or by another run); deferred {report.deferred} (over --limit); "
        f"errors {len(report.errors)}"
    )
    for store_hash in report.errors:
        _echo(f"store {store_hash}: probe failed")
    if report.errors:
        _fail(f"{len(report.errors)} probe(s) failed; they are retried next interval")


@main.command()
@click.option("--port", type=int, default=None, help="port (default: from BCAPP_SIMULATOR_URL)")
def simulator(port: int | None) -> None:
    """Run the local BigCommerce simulator for this app's settings."""
    from bcapp.simulator import ServedApp, create_simulator, seeded_state

    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        _fail(str(exc))
    chosen = port or urlsplit(settings.simulator_url or "http://localhost:8001").port or 8001
    state = seeded_state(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uri=settings.auth_callback_url,
        app_url=settings.app_url,
        app_scopes=str(settings.required_scopes),
        control_panel_url=f"http://localhost:{chosen}",
    )
    server = ServedApp(create_simulator(state), port=chosen)
    click.echo(f"BigCommerce simulator: open http://localhost:{chosen}/")
    click.echo(f"  (playing BigCommerce for the app at {settings.app_url})")
    server.serve_forever()


@main.command()
def demo() -> None:
    """Walk install, load, second user, remove user, uninstall, re-install against the simulator."""
    from bcapp.demo import DemoFailure, run

    try:
        run()
    except DemoFailure as exc:
        _fail(f"demo failed: {exc}")


def _service_or_exit() -> AppService:
    try:
        return build_service(Settings.from_env())
    except ConfigurationError as exc:
        _fail(str(exc))


def _or_fail(call: Callable[[], T]) -> T:
    try:
        return call()
    except BcappError as exc:
        _fail(f"redis is unavailable ({exc.reason})")


def _redis_location(settings: Settings) -> str:
    if settings.redis_url is None:
        return f"embedded (development), data in {settings.instance_dir.resolve()}"
    parts = urlsplit(settings.redis_url)  # never print the password
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"


def _status(installation: Installation) -> str:
    """`installed`, or how and when it was uninstalled (kept for the grace period)."""
    event = installation.uninstall
    if event is None:
        return "installed"
    by = f" by user {event.user_id}" if event.user_id is not None else ""
    return f"uninstalled ({event.source}{by}) at {event.recorded_at}, kept for the grace period"


def _echo(line: str) -> None:
    """Print a line holding stored values: control characters are shown escaped, never sent.

    Emails and names come from BigCommerce payloads; an escape sequence in one must not rewrite
    the operator's terminal (docs/security.md R7).
    """
    click.echo(printable(line))


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
