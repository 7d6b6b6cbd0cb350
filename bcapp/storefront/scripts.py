"""Storefront scripts an app puts on its stores through BigCommerce's Scripts API, declared in
its code (docs/storefront.md).

```python
from bcapp import storefront

storefront.script("badge", src="https://app.example.com/badge.js", location="footer",
                  visibility="storefront", consent_category="functional", load_method="defer")
```

`src` may also be a path of the app (`/storefront/badge.js`): it is served from `APP_URL`,
which production requires to be https.

Checked when declared (a ConfigurationError naming the script stops every process): at most
ten scripts (BigCommerce's limit per app and store, counting every channel), an https `src`, a
real consent category (a script without one is hidden on every store with a cookie banner),
BigCommerce's locations, visibilities and load methods, at most five integrity hashes.
Declaring one requires `store_v2_content`; one shown on the checkout (`checkout`, `all_pages`)
requires `store_content_checkout` too (bcapp/scopes.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bcapp.errors import ConfigurationError

MAX_SCRIPTS = 10
LOCATIONS = ("head", "footer")
VISIBILITIES = ("storefront", "all_pages", "checkout", "order_confirmation")
ON_CHECKOUT = ("all_pages", "checkout")
LOAD_METHODS = ("default", "async", "defer")
CONSENT_CATEGORIES = ("essential", "functional", "analytics", "targeting")
CONTENT_SCOPE = "store_v2_content"
CHECKOUT_SCOPE = "store_content_checkout"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
_INTEGRITY = re.compile(r"sha(256|384|512)-[A-Za-z0-9+/]{40,90}={0,2}")

_declared: dict[str, Script] = {}
_serves_shoppers: list[bool] = []  # set by `@storefront.customer` (bcapp/storefront/web.py)


@dataclass(frozen=True)
class Script:
    """One declared storefront script (`kind: src`), placed on each of its channels."""

    name: str
    src: str
    location: str
    visibility: str
    consent_category: str
    load_method: str = "default"
    integrity: tuple[str, ...] = ()
    channels: tuple[int, ...] = (1,)
    description: str = ""

    def as_body(self, channel_id: int, app_url: str) -> dict[str, object]:
        """The Scripts API's body for this script on one channel (a path of the app's own is
        served from `app_url`)."""
        src = app_url.rstrip("/") + self.src if self.src.startswith("/") else self.src
        return {
            "name": self.name, "description": self.description, "src": src,
            "auto_uninstall": True, "load_method": self.load_method, "location": self.location,
            "visibility": self.visibility, "kind": "src",
            "consent_category": self.consent_category, "enabled": True,
            "channel_id": channel_id, "integrity_hashes": list(self.integrity),
        }


def script(
    name: str,
    *,
    src: str,
    location: str = "footer",
    visibility: str = "storefront",
    consent_category: str,
    load_method: str = "default",
    integrity: Iterable[str] = (),
    channels: Iterable[int] = (1,),
    description: str = "",
) -> Script:
    """Declare a storefront script; ConfigurationError naming what is wrong."""
    where = f"storefront.script({name!r})"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f"{where}: a name is 1-100 letters, digits, spaces, . _ -")
    if not _good_src(src):
        raise ConfigurationError(
            f"{where}: src must be an https URL of the script, or a path of the app ('/…', "
            "served from APP_URL)"
        )
    for value, allowed, what in (
        (location, LOCATIONS, "location"),
        (visibility, VISIBILITIES, "visibility"),
        (load_method, LOAD_METHODS, "load_method"),
        (consent_category, CONSENT_CATEGORIES, "consent_category"),
    ):
        if value not in allowed:
            raise ConfigurationError(f"{where}: {what} must be one of {', '.join(allowed)}")
    hashes = tuple(integrity)
    if len(hashes) > 5 or not all(isinstance(h, str) and _INTEGRITY.fullmatch(h) for h in hashes):
        raise ConfigurationError(f"{where}: integrity takes up to five sha256/384/512 hashes")
    chosen = tuple(channels)
    if not chosen or not all(type(c) is int and 0 < c < 10**9 for c in chosen):
        raise ConfigurationError(f"{where}: channels are channel ids (1: the default storefront)")
    found = Script(name, src, location, visibility, consent_category, load_method, hashes,
                   tuple(sorted(set(chosen))), str(description)[:255])
    placed = sum(len(kept.channels) for key, kept in _declared.items() if key != name)
    if placed + len(found.channels) > MAX_SCRIPTS:
        raise ConfigurationError(
            f"{where}: BigCommerce allows an app {MAX_SCRIPTS} scripts per store "
            "(each channel's copy counts)"
        )
    if name in _declared and _declared[name] != found:
        raise ConfigurationError(f"{where}: declared twice, differently")
    _declared[name] = found
    return found


def _good_src(src: object) -> bool:
    if not isinstance(src, str) or len(src) > 2048 or not src.isprintable() or " " in src:
        return False
    if src.startswith("/"):
        return not src.startswith("//") and "\\" not in src
    parts = urlsplit(src)
    return parts.scheme == "https" and bool(parts.hostname)


def declared() -> tuple[Script, ...]:
    """The declared scripts, in declaration order."""
    return tuple(_declared.values())


def required_scopes() -> dict[str, str]:
    """The scopes the declared scripts need, with why."""
    if not _declared:
        return {}
    needs = {CONTENT_SCOPE: "placing the declared storefront scripts (storefront.script)"}
    if any(kept.visibility in ON_CHECKOUT for kept in _declared.values()):
        needs[CHECKOUT_SCOPE] = "storefront scripts shown on the checkout pages"
    return needs


def serve_shoppers() -> None:
    """Note that the app has views for shoppers: stores' storefront origins are then learned
    (bcapp/storefront/service.py)."""
    if not _serves_shoppers:
        _serves_shoppers.append(True)


def on_the_storefront() -> bool:
    """Whether the app reaches the storefront (scripts, or views for shoppers)."""
    return bool(_declared or _serves_shoppers)
