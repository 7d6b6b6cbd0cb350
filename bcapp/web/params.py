"""Strict query-parameter reading: exactly one value, non-empty, bounded (docs/security.md R8)."""

from __future__ import annotations

from flask import request

from bcapp.errors import BadRequest


def single(name: str, max_length: int, *, required: bool = True) -> str | None:
    """The only value of query parameter `name`; BadRequest when missing, repeated or oversized."""
    values = request.args.getlist(name)
    if not values:
        if required:
            raise BadRequest(f"missing_{name}")
        return None
    if len(values) > 1:
        raise BadRequest(f"repeated_{name}")
    value = values[0]
    if not value or len(value) > max_length:
        raise BadRequest(f"invalid_{name}")
    return value
