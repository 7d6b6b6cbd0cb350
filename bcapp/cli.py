"""The `bcapp` command line: scopes, keys, configuration check, installed stores."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import click
import redis

from bcapp.crypto import DecryptionError, new_key_entry
from bcapp.errors import BcappError, ConfigurationError
from bcapp.runtime import Runtime, build_runtime
from bcapp.scopes import required_scopes
from bcapp.settings import Settings
from bcapp.validation import STORE_HASH

T = TypeVar("T")


@click.group()
def main() -> None:
    """bcapp: the installation server for BigCommerce apps."""


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
    rt = _runtime_or_exit()
    rotated = failed = 0
    for store_hash in _or_fail(rt.store.list_store_hashes):
        try:
            rotated += _or_fail(functools.partial(rt.store.reencrypt, store_hash))
        except DecryptionError:
            failed += 1
            click.echo(f"store {store_hash}: token sealed with a key that is not configured")
    click.echo(f"re-sealed {rotated} token(s) with the primary key")
    if failed:
        _fail(f"{failed} token(s) could not be read; keep their key in TOKEN_ENCRYPTION_KEYS")


@main.command()
def check() -> None:
    """Validate configuration, reach Redis, report persistence, print the callback URLs."""
    rt = _runtime_or_exit()
    settings = rt.settings
    click.echo(f"environment: {settings.env}")
    click.echo(f"client id: {settings.client_id}")
    click.echo(f"token endpoint: {settings.token_url}")
    click.echo(f"redis: {_redis_location(settings)}")
    try:
        rt.store.ping()
        persistence = rt.redis.config_get("appendonly") | rt.redis.config_get("save")
        policy = rt.redis.config_get("maxmemory-policy").get("maxmemory-policy", "?")
    except BcappError as exc:
        _fail(f"redis does not answer ({exc.reason})")
    except redis.RedisError as exc:  # CONFIG may be denied by an ACL; report, don't fail
        click.echo(f"redis persistence: unknown ({type(exc).__name__})")
    else:
        click.echo(
            f"redis persistence: appendonly={persistence.get('appendonly', '?')} "
            f"save={persistence.get('save', '') or 'off'!r} maxmemory-policy={policy}"
        )
        if policy not in (
            "noeviction",
            "volatile-lru",
            "volatile-lfu",
            "volatile-ttl",
            "volatile-random",
        ):
            click.echo("warning: maxmemory-policy may evict installations; use noeviction")
    click.echo("register these URLs in the Developer Portal:")
    for label, url in settings.callback_urls().items():
        click.echo(f"  {label}: {url}")
    click.echo("required scopes: " + str(settings.required_scopes))


@main.group()
def stores() -> None:
    """Installed stores (tokens are never printed)."""


@stores.command("list")
def stores_list() -> None:
    """List installed store hashes."""
    rt = _runtime_or_exit()
    for store_hash in _or_fail(rt.store.list_store_hashes):
        click.echo(store_hash)


@stores.command("show")
@click.argument("store_hash")
def stores_show(store_hash: str) -> None:
    """Show one installation and its users."""
    if not STORE_HASH.fullmatch(store_hash):
        _fail("a store hash holds only lowercase letters and digits")
    rt = _runtime_or_exit()
    installation = _or_fail(lambda: rt.store.get_installation(store_hash))
    if installation is None:
        _fail(f"store {store_hash} is not installed")
    click.echo(f"store: {installation.store_hash}")
    click.echo(f"scopes: {installation.scopes}")
    click.echo(f"owner: {installation.owner_id} {installation.owner_email or ''}".rstrip())
    click.echo(f"installed by: {installation.installer_id} {installation.installer_email}")
    click.echo(f"account uuid: {installation.account_uuid or '-'}")
    click.echo(f"installed at: {installation.installed_at}  updated at: {installation.updated_at}")
    click.echo("access token: (encrypted at rest, not shown)")
    for user in _or_fail(lambda: rt.store.list_users(store_hash)):
        click.echo(f"user: {user.id} {user.email}{' (owner)' if user.is_owner else ''}")


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
    server = ServedApp(create_simulator(seeded_state(settings)), port=chosen)
    click.echo(f"BigCommerce simulator: open http://localhost:{chosen}/")
    click.echo(f"  (playing BigCommerce for the app at {settings.app_url})")
    server.serve_forever()


@main.command()
def demo() -> None:
    """Walk install, load, second user, remove user, uninstall, re-install against the simulator."""
    from bcapp.simulator.demo import DemoFailure, run

    try:
        run()
    except DemoFailure as exc:
        _fail(f"demo failed: {exc}")


def _runtime_or_exit() -> Runtime:
    try:
        return build_runtime(Settings.from_env())
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


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
