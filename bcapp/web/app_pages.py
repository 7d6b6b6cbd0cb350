"""The app's own pages inside the control panel (requires a session)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from bcapp.web.context import service
from bcapp.web.error_pages import friendly
from bcapp.web.sessions import current_opened

bp = friendly(Blueprint("app", __name__))


@bp.get("/")
def home() -> str:
    """The landing page: the store, the user and the granted scopes; never the token."""
    opened = current_opened()
    return render_template(
        "bcapp/app/home.html",
        installation=opened.installation,
        user=opened.user,
        store_info=service().stores.information(opened.installation),
        just_installed=request.args.get("installed") == "1",
        example_pages="example" in current_app.blueprints,
    )
