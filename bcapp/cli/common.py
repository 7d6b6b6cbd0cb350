"""Helpers every `bcapp` command shares: the service, failures, and safe output."""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar
from urllib.parse import urlsplit

import click

from bcapp.errors import ConfigurationError, StoreUnavailable
from bcapp.models import Installation
from bcapp.settings import Settings
from bcapp.validation import printable

if TYPE_CHECKING:
    from bcapp.service.wiring import Bcapp

T = TypeVar("T")


def service_or_exit() -> Bcapp:
    """bcapp for this command; closed when the command exits, and an embedded Redis that only
    this command needed stops with it (`make run` starts its own before its worker).

    The service is imported here, by the commands that use it: `bcapp simulator` and `bcapp
    keys` start without it (two thirds of the command's import time).
    """
    from bcapp.service.wiring import build

    try:
        service = build(Settings.from_env(), stop_what_it_starts=True)
    except ConfigurationError as exc:
        fail(str(exc))
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(service.close)  # when the command ends, in or out of a test
    else:
        atexit.register(service.close)
    return service


def or_fail(call: Callable[[], T]) -> T:
    try:
        return call()
    except StoreUnavailable as exc:
        fail(f"redis is unavailable ({exc.reason})")


def redis_location(settings: Settings) -> str:
    if settings.redis_url is None:
        return f"embedded (development), data in {settings.instance_dir.resolve()}"
    parts = urlsplit(settings.redis_url)  # never print the password
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    hosts = parts.netloc.rpartition("@")[2]  # host:port[,host:port…] without the credentials
    where = f"{parts.scheme}://{hosts}{parts.path if '+sentinel' in parts.scheme else ''}"
    tls = settings.redis_tls
    if tls is not None:
        trusted = f"CA file {tls.ca_file}" if tls.ca_file else "the system's CAs"
        client = f", client certificate {tls.cert_file}" if tls.cert_file else ""
        where += f" (TLS: {trusted}{client})"
    return where


def status(installation: Installation) -> str:
    """`installed` (and whether it needs re-authorising), or how and when it was uninstalled
    (kept for the grace period)."""
    event = installation.uninstall
    if event is None:
        if installation.token_rejected_at is not None:
            return (
                f"installed, needs re-authorising (the API refused its token at "
                f"{moment(installation.token_rejected_at)})"
            )
        return "installed"
    by = f" by user {event.user_id}" if event.user_id is not None else ""
    return (
        f"uninstalled ({event.source}{by}) at {moment(event.recorded_at)}, "
        "kept for the grace period"
    )


def moment(epoch_seconds: int) -> str:
    """A stored time as people read it: ISO 8601 in UTC (`2026-12-02T12:57:13Z`)."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def echo(line: str) -> None:
    """Print a line holding stored values: control characters are shown escaped, never sent.

    Emails and names come from BigCommerce payloads; an escape sequence in one must not rewrite
    the operator's terminal (docs/security.md R7).
    """
    click.echo(printable(line))


def fail(message: str) -> NoReturn:
    """Print `message` (each of its lines escaped, so a list stays one item a line) and exit 1."""
    first, *rest = message.split("\n")
    click.echo("\n".join([f"error: {printable(first)}", *map(printable, rest)]), err=True)
    sys.exit(1)
