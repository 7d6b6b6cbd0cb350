"""bcapp: the installation server for BigCommerce marketplace apps.

- `bcapp.create_app()`: the Flask app (what `wsgi.py` serves);
- `bcapp.connect()`: bcapp for a worker process, from the same settings: a context manager
  whose `stores` has `installed()` and `client(store_hash)` (lifecycle events in
  `bcapp.signals`); it builds nothing a worker never uses.

Both are imported on first use, so a worker never imports Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcapp.service.wiring import Bcapp
    from bcapp.settings import Settings
    from bcapp.web import create_app

__all__ = ["connect", "create_app"]


def connect(settings: Settings | None = None) -> Bcapp:
    """bcapp wired from `settings` (default: the environment and `.env`); close it when done."""
    from bcapp.service.wiring import build
    from bcapp.settings import Settings

    return build(settings or Settings.from_env())


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from bcapp.web import create_app

        return create_app
    raise AttributeError(f"module 'bcapp' has no attribute {name!r}")
