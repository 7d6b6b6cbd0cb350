"""bcapp: the installation server for BigCommerce marketplace apps.

`bcapp.create_app` (the Flask app factory) is imported on first use, so a worker process that
only needs the service (`bcapp.service.build_service`) never imports Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcapp.web import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from bcapp.web import create_app

        return create_app
    raise AttributeError(f"module 'bcapp' has no attribute {name!r}")
