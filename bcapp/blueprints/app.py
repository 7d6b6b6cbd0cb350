"""The app's own pages inside the control panel (requires a session)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, render_template, request

from bcapp.runtime import Runtime, runtime
from bcapp.sessions import current_opened
from bcapp.store import Installation
from bcapp.store_api import StoreApiError, TokenRejected

log = logging.getLogger(__name__)

bp = Blueprint("app", __name__)


@bp.get("/")
def home() -> str:
    """The landing page: the store, the user and the granted scopes; never the token."""
    rt = runtime()
    opened = current_opened(rt.store)
    return render_template(
        "app/home.html",
        installation=opened.installation,
        user=opened.user,
        store_info=_store_information(rt, opened.installation),
        just_installed=request.args.get("installed") == "1",
    )


def _store_information(rt: Runtime, installation: Installation) -> dict[str, Any] | None:
    """The store's name and domain from the API (proof the token works), or None."""
    try:
        info = rt.api.get(installation.store_hash, installation.access_token, "v2/store")
    except TokenRejected:
        log.warning("store=%s rejected its token: uninstalled or re-installed elsewhere?",
                    installation.store_hash)
        return None
    except StoreApiError as exc:
        log.warning("store API for store=%s failed: %s", installation.store_hash, exc.reason)
        return None
    if not isinstance(info, dict):
        return None
    return {key: str(info.get(key, ""))[:200] for key in ("name", "domain")}
