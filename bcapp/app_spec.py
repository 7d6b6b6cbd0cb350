"""Where the app built on bcapp is found: `BCAPP_APP` names the developer's Flask app (or its
factory) for every `bcapp` command, the worker and the gunicorn settings; importing its module
runs the app's declarations (scopes, webhook handlers, App Extensions, signal receivers).

`BCAPP_RECEIVERS` names more modules to import; without either, bcapp's own app (`make run` in
this repository) declares its bundled example.

Reading settings imports none of them: `load_declarations` does, at wiring time (`build()`,
gunicorn's master before it binds, `bcapp dev`, `bcapp scopes`), and raises the settings'
required scopes to what the declarations require.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bcapp.envvars import as_flag, as_list
from bcapp.errors import ConfigurationError
from bcapp.scopes import ScopeSet, required_scopes

if TYPE_CHECKING:
    from bcapp.settings import Settings

DEVELOPMENT = "development"
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_APP_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\(\))?")


def make_current_directory_importable() -> None:
    """Put the working directory first on `sys.path`, as the `flask` command does, so the app's
    package is found in its own repository without PYTHONPATH."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


def app_spec(env: Mapping[str, str]) -> str | None:
    """BCAPP_APP (`module:attribute`, the attribute an app or a factory, maybe called as
    `module:create_app()` in gunicorn's syntax); ConfigurationError when malformed."""
    spec = env.get("BCAPP_APP", "").strip()
    if not spec:
        return None
    module, _, attribute = spec.partition(":")
    if not _DOTTED.fullmatch(module) or not _APP_ATTRIBUTE.fullmatch(attribute or "app"):
        raise ConfigurationError(
            "BCAPP_APP names your Flask app as module:app or module:create_app, such as shop:app"
        )
    return spec


def declaration_modules(env: Mapping[str, str], mode: str) -> tuple[str, ...]:
    """The modules whose import declares the app, in order: BCAPP_APP's module, then
    BCAPP_RECEIVERS (set, even empty: exactly those) or, without either, bcapp's own example
    (bcapp/example_events.py) when its pages are on, so `make run` shows store events."""
    spec = app_spec(env)
    app_module = (spec.partition(":")[0],) if spec else ()
    if "BCAPP_RECEIVERS" in env:
        return app_module + tuple(
            name for name in as_list(env, "BCAPP_RECEIVERS") if name not in app_module
        )
    if example_pages(env, mode):
        return (*app_module, "bcapp.example_events")
    return app_module


def example_pages(env: Mapping[str, str], mode: str) -> bool:
    """The bundled example pages: on in development for bcapp's own app, off for an app named
    in BCAPP_APP and in production, unless BCAPP_EXAMPLE_PAGES says otherwise."""
    default = mode == DEVELOPMENT and not env.get("BCAPP_APP", "").strip()
    return as_flag(env, "BCAPP_EXAMPLE_PAGES", default=default)


def load_declarations(settings: Settings) -> Settings:
    """`settings` once the app's declarations are loaded: its modules imported (once per
    process; Python keeps them) and `required_scopes` raised to every scope they declare or
    imply. A scope the settings already name stays: configuration adds, never drops one."""
    return replace(
        settings,
        required_scopes=settings.required_scopes | declared_scopes(settings.receiver_modules),
    )


def declared_scopes(modules: tuple[str, ...]) -> ScopeSet:
    """Import the app's declaring modules and return the scopes the app requires: bcapp's own,
    its declarations and what they imply (bcapp/scopes.py, `requirements`)."""
    import_receivers(modules)
    return required_scopes()


def import_receivers(modules: tuple[str, ...]) -> None:
    """Import the app's modules (its BCAPP_APP module and BCAPP_RECEIVERS: scopes, signal
    receivers, webhook handlers, App Extensions); one that does not import stops start-up
    naming it. The working directory is importable first, so a script of the app's project
    (`python scripts/report.py` calling `bcapp.connect()`) finds the app as the CLI does."""
    if modules:
        make_current_directory_importable()
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(
                f"cannot import {module} (named by BCAPP_APP or BCAPP_RECEIVERS): {exc}; "
                "run bcapp from your project's directory"
            ) from exc


def load_app(spec: str) -> Any:
    """The WSGI app `spec` names: `module:attribute`, the attribute an app (anything with a
    `wsgi_app`, as a Flask app has) or a factory called without arguments (`create_app` or
    `create_app()`); ConfigurationError naming what is wrong."""
    module_name, _, attribute = spec.partition(":")
    name = (attribute or "app").removesuffix("()")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"BCAPP_APP: cannot import {module_name}: {exc}; run bcapp from your project's "
            "directory"
        ) from exc
    found = getattr(module, name, None)
    if found is None:
        raise ConfigurationError(f"BCAPP_APP: {module_name} has no {name}")
    if not hasattr(found, "wsgi_app") and callable(found):
        found = found()  # a factory
    if not hasattr(found, "wsgi_app"):
        raise ConfigurationError(f"BCAPP_APP: {spec} is neither a Flask app nor a factory of one")
    return found


def served_app() -> Any:
    """The app BCAPP_APP names, for gunicorn (bcapp/gunicorn.py), built in each worker."""
    spec = app_spec(os.environ)
    if spec is None:
        raise ConfigurationError("BCAPP_APP is not set: name your app, such as shop:app")
    return load_app(spec)
