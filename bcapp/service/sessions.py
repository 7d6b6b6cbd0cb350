"""The app's sessions: resumed on every app-page request, or spent from a one-time handoff."""

from __future__ import annotations

from bcapp.models import Installation, Opened, SessionRef
from bcapp.service import access, handoff, operations
from bcapp.settings import Settings
from bcapp.store import SessionReads, ShortLivedRecords


class Sessions:
    """Checks a session's identifiers against Redis, one round trip per request."""

    def __init__(
        self, settings: Settings, reads: SessionReads, short_lived: ShortLivedRecords
    ) -> None:
        self._settings = settings
        self._reads = reads
        self._short_lived = short_lived

    def resume(self, ref: SessionRef, spend_handoff: str = "") -> Opened:
        """The store and user of a session, checked against Redis on every request.

        One round trip; on the first page after an open it also spends that open's handoff
        (`spend_handoff`), which the returning cookie made unnecessary.
        """
        idle = self._settings.session_idle_seconds
        opened = access.resume_session(ref, self._reads, idle, spend_handoff)
        store_of_token = handoff.store_of(spend_handoff)
        if store_of_token is not None and store_of_token != ref.store_hash:
            self._short_lived.take_handoff(store_of_token, spend_handoff)  # another store's
        return opened

    def redeem_handoff(self, token: str) -> tuple[SessionRef, Opened]:
        """The session a handoff token stands for, spent, and checked like any session."""
        ref = handoff.take(token, self._short_lived)
        return ref, self.resume(ref)

    def frame_ancestors(self, installation: Installation | None) -> tuple[str, ...]:
        """Who may frame a page: the operator's list, else the store's own control panel (R11)."""
        return operations.frame_ancestors(self._settings, installation)
