"""A blueprint an app built on bcapp would add (named in BCAPP_BLUEPRINTS by a test)."""

from __future__ import annotations

from flask import Blueprint

from bcapp.web.kit import AppContext, app_page

bp = Blueprint("own_pages", __name__)


@bp.get("/hello")
@app_page
def hello(ctx: AppContext) -> str:
    """Greets the signed-in user."""
    return f"hello {ctx.user.email}"


@bp.get("/context")
@app_page
def context(ctx: AppContext) -> str:
    """Where and how the user opened the app."""
    return f"channel={ctx.channel_id} locale={ctx.locale}"
