"""bcapp's services as the current Flask app holds them (`init_app` put them there)."""

from __future__ import annotations

from flask import current_app

from bcapp.service.wiring import Bcapp

EXTENSION = "bcapp"


def service() -> Bcapp:
    """The bcapp wired into the current app by `init_app` (or `create_app`)."""
    value = current_app.extensions[EXTENSION]
    assert isinstance(value, Bcapp)
    return value
