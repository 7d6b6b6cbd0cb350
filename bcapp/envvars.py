"""Reading configuration values from the environment: typed, bounded, or a clear error.

Each helper names the variable in its ConfigurationError, so an operator knows what to fix.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

from bcapp.errors import ConfigurationError

# Values that are not secrets, whatever a sample .env suggested.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "xxx", "todo", "replace-me"})


def kept_secret(instance_dir: Path, name: str, make: Callable[[], str] | None = None) -> str:
    """A development secret generated once and kept under instance/ (never in production).

    Several gunicorn workers may race here: the value is written to a private temporary file
    and hard-linked into place, so exactly one value wins and every worker reads that one.
    """
    path = instance_dir / name
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        value = make() if make else secrets.token_urlsafe(48)
        temporary = instance_dir / f".{name}.{secrets.token_hex(8)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(value)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def as_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def as_flag(env: Mapping[str, str], name: str, default: bool = True) -> bool:
    """A strict boolean: true/false, yes/no, on/off, 1/0; anything else is an error."""
    value = env.get(name, "").strip().lower()
    if value in ("", "default"):
        return default
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigurationError(f"{name} must be true or false")
    return value in ("1", "true", "yes", "on")


def as_int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    """An integer within [low, high]."""
    try:
        value = int(env.get(name, str(default)))
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}")
    return value


def as_float(
    env: Mapping[str, str], name: str, default: float, *, low: float, high: float
) -> float:
    """A number of seconds (fractions allowed) within [low, high]."""
    try:
        value = float(env.get(name, str(default)))
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number of seconds, such as 10 or 0.5") from exc
    if not low <= value <= high:  # also refuses nan
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g}")
    return value


PORTAL = "copy it from the BigCommerce Developer Portal (My Apps > View Client ID)"


def require_client_secret(env: Mapping[str, str]) -> None:
    """In development, a client id of BigCommerce's needs its secret: bcapp would otherwise make
    one up, and every install would fail its signature checks."""
    if env.get("BC_CLIENT_ID", "").strip() and not env.get("BC_CLIENT_SECRET", "").strip():
        raise ConfigurationError(
            f"BC_CLIENT_ID is set without its secret; set these variables:\n"
            f"  BC_CLIENT_SECRET: {PORTAL}"
        )


def require_production(env: Mapping[str, str]) -> None:
    """ConfigurationError naming each production variable left unset or a placeholder."""
    portal = PORTAL
    how = {
        "BC_CLIENT_ID": portal,
        "BC_CLIENT_SECRET": portal,
        "SECRET_KEY": "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
        "TOKEN_ENCRYPTION_KEYS": "make one with: bcapp keys new",
        "REDIS_URL": "point it at your Redis (redis://, rediss://, unix://, redis+sentinel:// or "
        "redis+cluster://); "
        "the embedded Redis is for development only",
    }
    missing = [name for name in how if env.get(name, "").strip().lower() in PLACEHOLDERS]
    if missing:
        lines = "\n".join(f"  {name}: {how[name]}" for name in missing)
        raise ConfigurationError(
            f"BCAPP_ENV=production refuses to start; set these variables:\n{lines}"
        )


SESSION_MODES = ("both", "bearer", "cookie")


def as_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset); anything else is an error naming them."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}")
    return value


def installed_version() -> str:
    """bcapp's installed version (`0` when run from a tree that was never installed)."""
    try:
        return metadata.version("bcapp")
    except metadata.PackageNotFoundError:
        return "0"
