"""`bcapp dev`: the development loop of an app in its own repository, in one command."""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

import click

from bcapp.app_spec import app_spec, load_declarations
from bcapp.cli.common import fail
from bcapp.errors import ConfigurationError
from bcapp.settings import PRODUCTION, Settings

# An edited template restarts the web workers as an edited module does (Flask caches templates
# outside debug mode). Patterns, not a tree walk: gunicorn expands them at each look (1 s).
TEMPLATE_PATTERNS = ("templates/**/*.html", "*/templates/**/*.html")


@click.command()
@click.argument("app", required=False)
@click.option("--port", type=click.IntRange(1, 65534), help="the app's port (default: PORT, 8000)")
def dev(app: str | None, port: int | None) -> None:
    """Run your app for development, from your project's directory.

    The web workers and the task worker restart when a Python file changes; without
    BigCommerce credentials the local simulator runs beside them (on the next port), and
    without REDIS_URL the embedded Redis. Ctrl-C stops them all. APP is your app in gunicorn's
    syntax (shop:app, or 'shop:create_app()'); without it, BCAPP_APP names it (set it in .env:
    the task worker finds your webhook handlers through it).
    """
    env = dict(os.environ)  # `.env` included: the command group read it
    if port is not None:
        env["PORT"] = str(port)
    env.setdefault("WEB_CONCURRENCY", "2")  # a restart on each edit: two workers come up fast
    # Refused before anything is read or written (settings keep secrets under instance/).
    if env.get("BCAPP_ENV", "").strip().lower() == PRODUCTION:
        fail("bcapp dev is for development; in production run gunicorn -c python:bcapp.gunicorn")
    try:
        if app is None and app_spec(env) is None:
            fail("name your app: bcapp dev shop:app, or set BCAPP_APP=shop:app in .env")
        # The app's modules are imported here, not in gunicorn's master: modules the master
        # holds would be served unchanged after every reload (bcapp/gunicorn.py, on_starting).
        load_declarations(Settings.from_env(env))
    except ConfigurationError as exc:
        fail(str(exc))
    if app is not None:
        module = app.partition(":")[0]
        if not module or _module_missing(module):
            fail(f"cannot import {module or app}: run bcapp dev from your project's directory")
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:bcapp.gunicorn", "--reload"]
    for pattern in TEMPLATE_PATTERNS:  # gunicorn warns of a pattern matching nothing
        if glob.glob(pattern, recursive=True):
            argv += ["--reload-extra-file", pattern]
    os.execve(sys.executable, [*argv, *([app] if app else [])], env)  # noqa: S606 - gunicorn


def _module_missing(module: str) -> bool:
    """True when `module` cannot be found from here (found, not run: gunicorn's workers run it)."""
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):  # a missing parent package, or a malformed name
        return True
