"""What an app built on bcapp uses for its own pages: `app_page`, `AppContext`, CSRF.

```python
from flask import Blueprint, render_template
from bcapp.web.kit import AppContext, app_page

bp = Blueprint("orders", __name__)

@bp.get("/orders")
@app_page
def orders(ctx: AppContext) -> str:
    return render_template("orders.html", orders=ctx.api.get("v2/orders", limit=20))
```

`app_page` requires a live session, checked against Redis on every request (an uninstall, a
re-install, a removed user or an idle session ends it at once), and hands the view the store,
the user, an API client for that store and the app's data for it (`ctx.app_data`, written
field by field: bcapp/service/app_data.py). `app_page(owner_only=True)` lets only the store
owner through (403 otherwise). Any request that can change state (not GET, HEAD or OPTIONS)
must carry the session's CSRF token, as the form field `csrf_token` or the `X-CSRF-Token`
header; templates get `csrf_token()` (docs/security.md R14).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from flask import request

from bcapp.errors import CsrfRefused, Forbidden
from bcapp.models import Installation, StoreUser
from bcapp.service.app_data import AppData
from bcapp.service.store_client import StoreClient
from bcapp.web.context import service
from bcapp.web.sessions import bcapp_session, csrf_token, current_opened

R = TypeVar("R")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Set on every app_page view: bcapp's error pages answer for it (bcapp/web/error_pages.py).
APP_PAGE_MARK = "bcapp_app_page"


@dataclass(frozen=True)
class AppContext:
    """Who is using the app, on which store, with that store's API client and app data."""

    store_hash: str
    installation: Installation
    user: StoreUser
    api: StoreClient
    # From the load that opened the session: the storefront channel the app was opened for
    # (None from the Apps menu) and the user's locale (e.g. "fr-FR"), when the payload said.
    channel_id: int | None = None
    locale: str | None = None
    # The app path that load opened, e.g. "/orders/106" from an App Extension on order 106.
    deep_link: str | None = None
    # The app's own data for this store (bcapp/service/app_data.py): writes touch only the
    # fields they name, so a form saving its fields keeps what a worker wrote meanwhile.
    app_data: AppData = field(kw_only=True, repr=False, compare=False)


def current_context() -> AppContext:
    """The AppContext of the current request's session (401 without a live session)."""
    opened = current_opened()
    installation = opened.installation
    stores = service().stores
    api = stores.client_for(installation)  # the session check just read it
    session = bcapp_session()
    channel, locale, link = session.get("channel"), session.get("locale"), session.get("link")
    return AppContext(
        installation.store_hash,
        installation,
        opened.user,
        api,
        channel if type(channel) is int else None,
        locale if isinstance(locale, str) else None,
        link if isinstance(link, str) else None,
        app_data=stores.app_data(installation.store_hash),
    )


def check_csrf() -> None:
    """CsrfRefused (403) unless the request carries this session's token."""
    expected = csrf_token().encode()
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(expected, sent.encode("utf-8", "replace")):
        raise CsrfRefused("csrf_token")


@overload
def app_page(view: Callable[..., R]) -> Callable[..., R]: ...


@overload
def app_page(
    view: None = None, *, owner_only: bool = False
) -> Callable[[Callable[..., R]], Callable[..., R]]: ...


def app_page(view: Any = None, *, owner_only: bool = False) -> Any:
    """Decorate a view `(ctx: AppContext, **url_arguments)` of the app's own pages."""

    def decorate(inner: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(inner)
        def guarded(*args: Any, **kwargs: Any) -> R:
            ctx = current_context()
            if owner_only and not ctx.user.is_owner:
                raise Forbidden("owner_only")
            if request.method not in SAFE_METHODS:
                check_csrf()
            return inner(ctx, *args, **kwargs)

        setattr(guarded, APP_PAGE_MARK, True)
        return guarded

    return decorate(view) if view is not None else decorate


def is_app_page(view: object) -> bool:
    """Whether `view` is an `app_page` view (also under decorators that copy its attributes,
    as `functools.wraps` does)."""
    return getattr(view, APP_PAGE_MARK, False) is True
