"""The exception hierarchy: each expected failure has a status, a reason and a friendly page.

Messages here are shown to merchants inside the control-panel iframe and written to logs,
so they never carry request values, upstream bodies, tokens or secrets.
"""

from __future__ import annotations


class ConfigurationError(Exception):
    """Settings are missing or invalid; the process must not start."""


class BcappError(Exception):
    """An expected failure answered with `status` and a friendly page."""

    status = 500
    title = "Something went wrong"
    advice = "Please try again in a moment."

    def __init__(
        self, reason: str, detail: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or self.advice
        # Where the merchant goes next (external installs return to BigCommerce).
        self.return_url: str | None = None
        # Seconds after which trying again makes sense (sent as Retry-After).
        self.retry_after = retry_after


class BadRequest(BcappError):
    """The request is malformed or misses parameters (400)."""

    status = 400
    title = "This request could not be understood"
    advice = "Please open the app again from your BigCommerce control panel."


class Unauthorized(BcappError):
    """A signed payload failed verification, was replayed, or names no known store/user (401)."""

    status = 401
    title = "We could not confirm this request came from BigCommerce"
    advice = "Please open the app again from your BigCommerce control panel."


class ScopesMissing(BcappError):
    """The grant lacks scopes the app requires (403)."""

    status = 403
    title = "The app needs more permissions"
    advice = "Please install the app again and approve all requested permissions."

    def __init__(self, missing: list[str]) -> None:
        super().__init__("scopes_missing")
        self.missing = missing


class NotInstalled(Unauthorized):
    """A signed payload names a store without an installation (401)."""

    title = "The app is not installed on this store"
    advice = "Install the app from the BigCommerce App Marketplace, then open it again."


class ReauthorizationRequired(BcappError):
    """The stored grant no longer covers the required scopes (403)."""

    status = 403
    title = "The app needs to be re-authorised"
    advice = "Open Apps > My Apps in your control panel and approve the app's new permissions."


class UpstreamError(BcappError):
    """BigCommerce's token endpoint failed, timed out or answered malformed data (502)."""

    status = 502
    title = "BigCommerce did not complete the installation"
    advice = "Please start the installation again from your control panel."


class StoreUnavailable(BcappError):
    """The installation store (Redis) is unreachable or refused a command (503)."""

    status = 503
    title = "The app is temporarily unavailable"
    advice = "Please try again in a minute. If you were installing, start the installation again."


class InstallInProgress(StoreUnavailable):
    """Another install of the same store holds its lock beyond the bounded wait (503)."""

    title = "An installation of this store is already in progress"
    advice = "Please wait a few seconds, then start the installation again from your control panel."


class InstallSuperseded(InstallInProgress):
    """The install outlived its lock and a newer install of the store took it (503).

    Its token was invalidated by the newer grant, so nothing of it is stored.
    """

    title = "A newer installation of this store took over"
    advice = "Open the app from your control panel; if it is not installed, install it again."


class TooManyRequests(BcappError):
    """An abuse limit (per client address or per store) is spent for this window (429)."""

    status = 429
    title = "Too many requests"
    advice = "Please wait a minute, then open the app again from your control panel."


class ApiError(UpstreamError):
    """A store API call failed; `reason` names how (never the token or the body) (502)."""

    title = "BigCommerce did not answer"
    advice = "Please try again in a moment."


class TokenRejected(ApiError):
    """401 from the store API: the stored token no longer works (uninstalled or replaced)."""


class RateLimited(ApiError):
    """429 that could not be waited out within the caller's budget."""


class Forbidden(BcappError):
    """The user is signed in but may not do this (403)."""

    status = 403
    title = "Only the store owner can do this"
    advice = "Ask the store owner, or open this page as the store owner."


class HandoffRefused(Forbidden):
    """A handoff link that did not come from the app's own page (403); nothing is spent."""

    title = "Open the app from your control panel"
    advice = (
        "This link opens the app only from the app's own page. "
        "Open the app again from your control panel."
    )


class CsrfRefused(BcappError):
    """A state-changing request without this session's CSRF token (403)."""

    status = 403
    title = "This form has expired"
    advice = "Please reload the page and submit the form again."


class CookieBlocked(Unauthorized):
    """The session cookie set a moment ago did not come back: the browser blocks it in the
    iframe (401). The page offers the app in a new tab through a one-time handoff."""

    title = "Your browser kept the app from signing you in here"
    advice = (
        "It blocks the app's cookie inside the BigCommerce control panel. Open the app in a new "
        "tab instead, or allow third-party cookies for this site."
    )

    def __init__(self, new_tab_url: str) -> None:
        super().__init__("cookie_blocked")
        self.new_tab_url = new_tab_url
