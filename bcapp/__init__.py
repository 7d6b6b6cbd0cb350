"""bcapp: the installation server for BigCommerce marketplace apps.

What apps built on bcapp use, in one place:

- `bcapp.init_app(app)`: make a Flask app of your own a BigCommerce app (callbacks, sessions
  in the iframe, error pages, health) as a guest that leaves your SECRET_KEY, session, error
  handlers and templates yours (docs/flask-extension.md); `bcapp.create_app()` is bcapp's own
  app (`wsgi.py`);
- `bcapp.current()`: inside a request (or app context), the `Bcapp` that `init_app` wired into
  the current app (`app.extensions["bcapp"]`); RuntimeError elsewhere;
- `Bcapp`: the type `init_app()`, `connect()` and `current()` return: `stores`, `settings`,
  `operations`, `close()`;
- `app_page` and `AppContext`: your pages inside the control panel (`bcapp.web.kit`);
  `app_api`: their JSON views, called with the page's bearer token (docs/sessions.md);
- `bcapp.connect()`: bcapp for a worker process, from the same settings: a context manager
  whose `stores` has `installed()` and `client(store_hash)`, each a `StoreClient`; it builds
  nothing a worker never uses;
- `signals`: lifecycle events (`app_installed`, `app_uninstalled`, …), with task receivers;
- `webhooks`: handlers of store events (`@webhooks.on("store/order/created")`), run by
  `bcapp worker`;
- `extensions`: App Extensions, menu items of the control panel that open the app on a record;
  `StoreClient.graphql` for the GraphQL Admin API.

Everything is imported on first use, so a worker never imports Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcapp import extensions, signals, webhooks
    from bcapp.service.store_client import StoreClient
    from bcapp.service.wiring import Bcapp
    from bcapp.settings import Settings
    from bcapp.web import create_app, init_app
    from bcapp.web.bearer import app_api
    from bcapp.web.context import current
    from bcapp.web.kit import AppContext, app_page

__all__ = [
    "AppContext",
    "Bcapp",
    "StoreClient",
    "app_api",
    "app_page",
    "connect",
    "create_app",
    "current",
    "extensions",
    "init_app",
    "signals",
    "webhooks",
]

# name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "AppContext": "bcapp.web.kit",
    "Bcapp": "bcapp.service.wiring",
    "current": "bcapp.web.context",
    "app_page": "bcapp.web.kit",
    "app_api": "bcapp.web.bearer",
    "create_app": "bcapp.web",
    "init_app": "bcapp.web",
    "StoreClient": "bcapp.service.store_client",
}


def connect(settings: Settings | None = None) -> Bcapp:
    """bcapp wired from `settings` (default: the environment and `.env`); close it when done."""
    from bcapp.service.wiring import build
    from bcapp.settings import Settings

    return build(settings or Settings.from_env())


def __getattr__(name: str) -> Any:
    if name in ("signals", "webhooks", "extensions"):
        import importlib

        return importlib.import_module(f"bcapp.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bcapp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
