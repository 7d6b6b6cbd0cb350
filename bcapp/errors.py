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
        # A reason with a page of its own says what happened and what to do about it.
        self.title, advice = PAGES.get(reason, (self.title, self.advice))
        self.detail = detail or advice
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


class GraphQLFailed(ApiError):
    """A GraphQL answer with `errors` (HTTP 200): `message` is the first error's message, as
    BigCommerce wrote it (a validation or permission failure; never the token)."""

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__("graphql_error")
        self.message = message[:500]
        self.errors = errors or []

    def __str__(self) -> str:
        return f"GraphQL error: {self.message}"


class TokenRejected(ApiError):
    """401 from the store API: the stored token no longer works (uninstalled or replaced).

    Answered 403 with the re-authorisation page: trying again cannot help.
    """

    status = 403


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


# Pages of their own for the reasons a merchant meets most: what happened, what to do.
OPEN_AGAIN = "Open the app again from your BigCommerce control panel."
PAGES: dict[str, tuple[str, str]] = {
    "session_idle": (
        "Your session ended",
        "The app was not used for a while, so it signed you out. " + OPEN_AGAIN,
    ),
    "no_session": ("You are not signed in to the app", OPEN_AGAIN),
    "session_install_revoked": (
        "The app was uninstalled or installed again",
        "Your session belonged to an installation that no longer exists. If the app is "
        "installed, open it again from your control panel; otherwise install it from the "
        "BigCommerce App Marketplace.",
    ),
    "session_user_revoked": (
        "Your access to this app was removed",
        "The store owner removed your access. Ask them to give it back, then open the app "
        "again from your control panel.",
    ),
    "user_removed": (
        "Your access to this app was removed",
        "The store owner removed your access. Ask them to give it back, then open the app "
        "again from your control panel.",
    ),
    "user_without_access": (
        "Only the store owner can use this app",
        "This app is for the store owner only. Ask the owner to open it.",
    ),
    "jwt_expired": (
        "This link to the app has expired",
        "Links from the control panel work for a short time only. " + OPEN_AGAIN
        + " If this keeps happening, check that this server's clock is right.",
    ),
    "jwt_not_yet_valid": (
        "This link to the app is not valid yet",
        "The link says it was made in the future: this server's clock, or BigCommerce's, is "
        "off. Check the server's clock (NTP), then open the app again.",
    ),
    "legacy_stale": (
        "This link to the app has expired",
        OPEN_AGAIN + " If this keeps happening, check that this server's clock is right.",
    ),
    "replayed": (
        "This link to the app was already used",
        "Each link from the control panel opens the app once. " + OPEN_AGAIN,
    ),
    "status_403": (
        "BigCommerce refused the app this request",
        "The app's permissions on this store do not cover it. If you develop the app, declare "
        "the OAuth scope this page needs with bcapp.scopes.require(...), then open the app "
        "again from the control panel to approve it.",
    ),
    "token_rejected": (
        "The app needs to be re-authorised",
        "BigCommerce no longer accepts this app's access to the store (it was uninstalled, or "
        "installed again elsewhere). The store owner can re-authorise it from Apps > My Apps "
        "in the control panel, or install it again.",
    ),
}
