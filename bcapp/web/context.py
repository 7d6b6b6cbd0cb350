"""The application service of the current Flask app."""

from __future__ import annotations

from flask import current_app

from bcapp.service import AppService

EXTENSION = "bcapp"


def service() -> AppService:
    """The AppService wired into the current app by `create_app`."""
    value = current_app.extensions[EXTENSION]
    assert isinstance(value, AppService)
    return value
