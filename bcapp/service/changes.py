"""How a sync says what it changed: one line, "created a, b; deleted c", or "unchanged"."""

from __future__ import annotations

from collections.abc import Iterable


def summary(kinds: Iterable[tuple[str, list[str]]], ordered: bool = False) -> str:
    """`kinds` as (what was done, to which items); sorted items unless `ordered`."""
    parts = [
        f"{what} {', '.join(items if ordered else sorted(items))}"
        for what, items in kinds
        if items
    ]
    return "; ".join(parts) or "unchanged"
