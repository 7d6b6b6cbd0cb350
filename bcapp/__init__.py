"""bcapp: the installation server for BigCommerce marketplace apps.

- `bcapp.create_app()`: the Flask app (what `wsgi.py` serves);
- `bcapp.connect()`: the application service for a worker process, from the same settings
  (`installed_stores()`, `store_client(store_hash)`; lifecycle events in `bcapp.signals`).

Both are imported on first use, so a worker never imports Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcapp.service import AppService
    from bcapp.settings import Settings
    from bcapp.web import create_app

__all__ = ["connect", "create_app"]


def connect(settings: Settings | None = None) -> AppService:
    """The application service from `settings` (default: the environment and `.env`)."""
    from bcapp.service import build_service
    from bcapp.settings import Settings

    return build_service(settings or Settings.from_env())


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from bcapp.web import create_app

        return create_app
    raise AttributeError(f"module 'bcapp' has no attribute {name!r}")
