"""bcapp's services as the current Flask app holds them (`init_app` put them there), and the
request's own objects for code that reads them many times."""

from __future__ import annotations

from typing import cast

from flask import Request, current_app, g, has_app_context, request
from flask.ctx import _AppCtxGlobals

from bcapp.service.wiring import Bcapp

EXTENSION = "bcapp"


def current() -> Bcapp:
    """The `Bcapp` that `init_app` wired into the current Flask app: `bcapp.current()`.

    RuntimeError outside an app context (a request, a CLI command, `with app.app_context()`)
    and in an app `init_app` was not called on.
    """
    if not has_app_context():
        raise RuntimeError(
            "bcapp.current() works inside a request or an app context of a Flask app "
            "given to bcapp.init_app(app); outside one, use bcapp.connect()"
        )
    found = current_app.extensions.get(EXTENSION)
    if not isinstance(found, Bcapp):
        raise RuntimeError(
            f"bcapp.init_app(app) was not called on the Flask app {current_app.name!r}"
        )
    return found


# What bcapp's own views call: the same lookup.
service = current


# Each read through Flask's `request` or `g` proxy looks the object up in its context variable
# again (about a microsecond each); the request hooks take the object once and read it plainly.
def this_request() -> Request:
    """The current request object itself (RuntimeError outside a request)."""
    return cast(Request, request._get_current_object())  # type: ignore[attr-defined]


def this_globals() -> _AppCtxGlobals:
    """The current app context's `g` itself (RuntimeError outside an app context)."""
    return cast(_AppCtxGlobals, g._get_current_object())
