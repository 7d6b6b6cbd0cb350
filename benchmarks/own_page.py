"""A page of an app built on bcapp, for the app-page benchmark: `app_page` and no API call."""

from __future__ import annotations

from flask import Blueprint

from bcapp import AppContext, app_page

bp = Blueprint("bench_pages", __name__)


@bp.get("/hello")
@app_page
def hello(ctx: AppContext) -> str:
    """What the minimal session-checking view answers."""
    return f"hello {ctx.user.email}"
