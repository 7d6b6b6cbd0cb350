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
    # bcapp never builds absolute URLs from the Host header: redirects are relative and the
    # token exchange's redirect_uri comes from settings (SECURITY.md A2.4).
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024)
    sessions.configure(app, settings)
    app.extensions["bcapp"] = build_runtime(settings, clock)
    web.install(app, settings)

    from bcapp.blueprints import app as app_pages
    from bcapp.blueprints import callbacks, health

    app.register_blueprint(callbacks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(app_pages.bp)
    _configure_logging()
    return app


def _configure_logging() -> None:
    """bcapp's INFO lines to stderr with UTC times, unless the host process set up logging."""
    logging.getLogger("bcapp").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        formatter = logging.Formatter(
            "%(asctime)sZ %(levelname)s %(name)s [%(request_id)s] %(message)s"
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.addFilter(web.RequestIdFilter())
        logging.getLogger().addHandler(handler)


def _template_folder() -> str:
    """templates/ of a checkout, or the copy shipped inside an installed package."""
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return str(checkout)
    return str(resources.files("bcapp") / "templates")
