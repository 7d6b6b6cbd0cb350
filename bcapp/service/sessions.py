"""The app's sessions and page rules: a session resumed on every app-page request, or spent from
a one-time handoff; and who may frame a store's pages."""

from __future__ import annotations

import functools

from bcapp.models import Installation, Opened, SessionRef
from bcapp.service import access, handoff
from bcapp.settings import Settings
from bcapp.store import Handoff, SessionReads, SessionTokens
from bcapp.validation import exact_origin


class Sessions:
    """Checks a session's identifiers against Redis, one round trip per request."""

    def __init__(self, settings: Settings, *, reads: SessionReads, tokens: SessionTokens) -> None:
        self._settings = settings
        self._reads = reads
        self._tokens = tokens

    def resume(self, ref: SessionRef, spend_handoff: str = "") -> Opened:
        """The store and user of a session, checked against Redis on every request.

        One round trip; on the first page after an open it also spends that open's handoff
        (`spend_handoff`), which the returning cookie made unnecessary.
        """
        idle = self._settings.session_idle_seconds
        opened = access.resume_session(ref, self._reads, idle, spend_handoff)
        store_of_token = handoff.store_of(spend_handoff)
        if store_of_token is not None and store_of_token != ref.store_hash:
            self._tokens.take_handoff(store_of_token, spend_handoff)  # another store's
        return opened

    def end(self, ref: SessionRef) -> None:
        """End a session: its idle timer deleted, its cookie and bearer tokens dead at once."""
        self._tokens.end_session(ref)

    def redeem_handoff(self, token: str) -> tuple[SessionRef, Opened]:
        """The session a handoff token stands for, spent, and checked like any session."""
        ref = handoff.take(token, self._tokens)
        return ref, self.resume(ref)

    def new_handoff(self, ref: SessionRef) -> str:
        """Another one-time handoff of a live session (its idle timer restarted): the way to a
        new tab from a page that opened without its cookie (docs/sessions.md)."""
        token = handoff.new_token(ref.store_hash)
        idle = self._settings.session_idle_seconds
        self._tokens.start_session(ref, idle, Handoff(token, handoff.HANDOFF_SECONDS))
        return token

    def frame_ancestors(self, installation: Installation | None) -> tuple[str, ...]:
        """Who may frame a page: the operator's list, else the store's own control panel (R11)."""
        return frame_ancestors(self._settings, installation)


def frame_ancestors(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """Who may frame a page: the operator's list, else the store's own control panel.

    A store's pages allow its control-panel origin as reported at install (else the documented
    `https://store-<hash>.mybigcommerce.com`) and BigCommerce's login host, never a wildcard; a
    page of no known store allows any control panel (docs/security.md R11).
    """
    if installation is None:
        return settings.frame_ancestors or settings.unknown_store_frame_ancestors
    return store_frame_ancestors(settings, installation.store_hash, installation.control_panel_url)


def store_frame_ancestors(
    settings: Settings, store_hash: str, control_panel_url: str | None
) -> tuple[str, ...]:
    """Who may frame a page of one store, given its control-panel origin from the install."""
    if settings.frame_ancestors:
        return settings.frame_ancestors
    return (_panel_origin(store_hash, control_panel_url), settings.login_origin)


@functools.lru_cache(maxsize=4096)
def _panel_origin(store_hash: str, control_panel_url: str | None) -> str:
    """The store's control-panel origin for a CSP header. Judged for each stored value (the
    cache keys on it): nothing but an exact https origin reaches a header, whatever was written
    to Redis; computed once per value and process, not on every page."""
    return exact_origin(control_panel_url) or f"https://store-{store_hash}.mybigcommerce.com"
