"""bcapp: the installation server for BigCommerce marketplace apps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from flask import Flask

from bcapp import sessions, web
from bcapp.runtime import build_runtime
from bcapp.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> Flask:
    """Wire settings, services, blueprints and error handlers; no network at import time."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=_template_folder(), static_folder=None)
    app.config.update(TRUSTED_HOSTS=None, MAX_CONTENT_LENGTH=64 * 1024, JSON_SORT_KEYS=False)
    sessions.configure(app, settings)
    app.extensions["bcapp"] = build_runtime(settings, clock)
    web.install(app, settings)

    from bcapp.blueprints import app as app_pages
    from bcapp.blueprints import callbacks, health

    app.register_blueprint(callbacks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(app_pages.bp)
    logging.getLogger("bcapp").setLevel(logging.INFO)
    return app


def _template_folder() -> str:
    """templates/ of a checkout, or the copy shipped inside an installed package."""
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return str(checkout)
    return str(resources.files("bcapp") / "templates")
