"""Validators for identifiers that reach Redis keys, URLs and logs (docs/security.md R8)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

STORE_HASH = re.compile(r"[a-z0-9]{1,32}")
_CONTEXT = re.compile(r"stores/([a-z0-9]{1,32})")
MAX_USER_ID = 2**53  # JSON-safe; BigCommerce ids are far below
MAX_EMAIL_CHARS = 254
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_HOST = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


@dataclass(frozen=True)
class Person:
    """A BigCommerce user named in a token response or a signed payload."""

    id: int
    email: str


def store_hash_from_context(context: str) -> str:
    """The hash of ``stores/<hash>`` (lowercase letters and digits); ValueError otherwise."""
    match = _CONTEXT.fullmatch(context)
    if match is None:
        raise ValueError("context must look like stores/<hash>")
    return match.group(1)


def positive_int(value: object) -> int:
    """A positive integer id (bools and floats refused); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_USER_ID:
        raise ValueError("not a positive integer id")
    return value


def person(value: object) -> Person | None:
    """A {id, email} object with a positive integer id and a bounded email, or None."""
    if not isinstance(value, dict):
        return None
    try:
        user_id = positive_int(value.get("id"))
    except ValueError:
        return None
    email = value.get("email", "")
    if not isinstance(email, str) or len(email) > MAX_EMAIL_CHARS:
        return None
    return Person(user_id, email)


def user_and_owner(data: dict[str, object]) -> tuple[Person, Person | None]:
    """The required `user` and optional `owner` of a payload; ValueError names the bad one."""
    user = person(data.get("user"))
    if user is None:
        raise ValueError("user")
    raw_owner = data.get("owner")
    owner = person(raw_owner) if raw_owner is not None else None
    if raw_owner is not None and owner is None:
        raise ValueError("owner")
    return user, owner


def printable(text: str) -> str:
    """`text` with every non-printable character escaped (``\\n``, ``\\x1b``, ``\\u2028``).

    For log lines and terminal output: a value can then never start a new line, move the cursor
    or rewrite the terminal (docs/security.md R7).
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def exact_origin(url: object) -> str | None:
    """``scheme://host[:port]`` of an https URL (http only on loopback hosts), else None.

    For origins that reach a Content-Security-Policy: no wildcard, path, quote or space survives.
    """
    if not isinstance(url, str) or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if not _HOST.fullmatch(host) and host != "::1":
        return None
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{f':{port}' if port else ''}"
