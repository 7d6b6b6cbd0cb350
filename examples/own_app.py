"""An app of your own, with bcapp as a Flask extension: `gunicorn examples.own_app:app`.

You own the Flask app; `bcapp.init_app(app)` adds the BigCommerce callbacks, the session that
works inside the control-panel iframe, error pages, health and metrics, and the landing page
installs and loads open (`/`). Your pages use `app_page`: it checks the session against Redis
on every request and hands them the store, the user, the store's API client and its app data
(`ctx.app_data`). The bundled
example pages are not part of your app unless you ask (`init_app(app, example_pages=True)`).
Your SECRET_KEY, `flask.session`, error handlers and templates stay yours, and
`bcapp.current()` is bcapp's services inside a request (docs/flask-extension.md).

Run it beside the simulator as `make run` does, from the checkout:

    .venv/bin/gunicorn examples.own_app:app --config gunicorn.conf.py
"""

from __future__ import annotations

from flask import Flask

import bcapp
from bcapp import AppContext, app_page

app = Flask(__name__)
bcapp.init_app(app)


@app.get("/orders/summary")
@app_page
def orders_summary(ctx: AppContext) -> str:
    """A page of your own inside the control panel."""
    role = "owner" if ctx.user.is_owner else "staff"
    return f"Store {ctx.store_hash}: hello {ctx.user.email} ({role})"
