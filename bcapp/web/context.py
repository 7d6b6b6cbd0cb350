"""bcapp's services as the current Flask app holds them (`init_app` put them there)."""

from __future__ import annotations

from flask import current_app, has_app_context

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
