"""BigCommerce's OAuth token endpoint: exchange an auth code for a store's access token.

Authlib builds and sends the request (credentials in the body, `client_secret_post`); this
module bounds it (connect/read timeouts, an overall deadline, a body size cap, no redirects,
never a second attempt) and parses the answer strictly (docs/protocol.md "Token exchange",
docs/security.md R5).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import HTTPAdapter

from bcapp.bigcommerce.http import deadline as http_deadline
from bcapp.bigcommerce.http import mount
from bcapp.clock import Clock
from bcapp.errors import BadRequest, UpstreamError
from bcapp.metrics import TOKEN_EXCHANGE
from bcapp.scopes import ScopeSet
from bcapp.settings import Settings
from bcapp.validation import Person, store_hash_from_context, user_and_owner

log = logging.getLogger(__name__)

MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
MAX_ACCESS_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class TokenGrant:
    """A validated token-endpoint answer; only whitelisted fields survive parsing."""

    access_token: str = field(repr=False)
    store_hash: str
    scopes: ScopeSet
    user: Person
    owner: Person | None = None
    account_uuid: str | None = None


class TokenExchange:
    """Exchanges auth codes at `settings.token_url`; one request per code, never retried."""

    def __init__(self, settings: Settings, adapter: HTTPAdapter, clock: Clock) -> None:
        self._settings = settings
        self._adapter = adapter
        self._clock = clock

    def exchange(
        self, code: str, scope: str, context: str, account_uuid: str | None = None
    ) -> TokenGrant:
        """POST the seven documented fields; return the parsed grant or raise a BcappError.

        The whole exchange (connect, headers, body) ends by the deadline, whatever the token
        endpoint does: `http.deadline` breaks the connection when it passes.
        """
        settings = self._settings
        deadline = self._clock.monotonic() + settings.token_exchange_deadline
        # Authlib keeps per-exchange state (hooks, token) on its session, so each exchange has
        # its own session; the connection pool underneath is the shared adapter. The session
        # is not closed: closing would close the shared pool.
        session = OAuth2Session(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            redirect_uri=settings.auth_callback_url,
        )
        mount(session, self._adapter)
        session.headers["User-Agent"] = settings.user_agent
        clock = self._clock
        session.register_compliance_hook(
            "access_token_response", lambda response: _read_bounded(response, deadline, clock)
        )
        extra = {"account_uuid": account_uuid} if account_uuid else {}
        with http_deadline(settings.token_exchange_deadline) as cut, TOKEN_EXCHANGE.time():
            try:
                token = session.fetch_token(
                    settings.token_url,
                    grant_type="authorization_code",
                    code=code,
                    scope=scope,
                    context=context,
                    timeout=(settings.http_connect_timeout, settings.http_read_timeout),
                    allow_redirects=False,
                    stream=True,
                    **extra,
                )
            except (requests.RequestException, AuthlibBaseError, ValueError, UpstreamError) as exc:
                if cut.expired:  # whatever broke, it broke because the deadline cut it
                    raise UpstreamError("token_endpoint_deadline") from exc
                if isinstance(exc, UpstreamError):
                    raise
                raise _as_upstream_error(exc) from exc
        return parse_grant(dict(token), expected_context=context)


def _as_upstream_error(exc: Exception) -> UpstreamError:
    """The 502 for a failed exchange, named by how it failed."""
    if isinstance(exc, requests.Timeout):
        return UpstreamError("token_endpoint_timeout")
    if isinstance(exc, requests.RequestException):
        log.warning("token endpoint unreachable: %s", type(exc).__name__)
        return UpstreamError("token_endpoint_unreachable")
    if isinstance(exc, AuthlibBaseError):
        return UpstreamError("token_endpoint_error")
    return UpstreamError("token_endpoint_malformed")  # Authlib: the body is not a JSON object


def _read_bounded(response: requests.Response, deadline: float, clock: Clock) -> requests.Response:
    """Authlib hook: accept only a 200 JSON body read within the deadline and size cap."""
    try:
        if response.status_code != 200:
            reason = _error_code(response, deadline, clock)
            log.warning("token endpoint answered %s (%s)", response.status_code, reason)
            if reason == "invalid_grant":
                raise BadRequest(
                    "code_already_used",
                    "This installation link has expired or was already used. "
                    "Please start the installation again from your control panel.",
                )
            raise UpstreamError(f"token_endpoint_status_{response.status_code}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise UpstreamError("token_endpoint_not_json")
        response._content = _bounded_body(response, deadline, clock)
        return response
    finally:
        response.close()


def _bounded_body(response: requests.Response, deadline: float, clock: Clock) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(chunk_size=4096):
        body += chunk
        if len(body) > MAX_TOKEN_RESPONSE_BYTES:
            raise UpstreamError("token_endpoint_body_too_large")
        if clock.monotonic() > deadline:
            raise UpstreamError("token_endpoint_deadline")
    return bytes(body)


def _error_code(response: requests.Response, deadline: float, clock: Clock) -> str:
    """The OAuth `error` code of a failed answer, or 'unknown' (the body is never logged)."""
    try:
        data = json.loads(_bounded_body(response, deadline, clock))
    except (ValueError, UpstreamError, requests.RequestException):
        return "unknown"
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) and error.isidentifier() else "unknown"


def parse_grant(data: dict[str, Any], expected_context: str) -> TokenGrant:
    """Validate a token response; raise UpstreamError naming the first broken field."""
    token = data.get("access_token")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_ACCESS_TOKEN_CHARS:
        raise UpstreamError("token_response_access_token")
    if data.get("context") != expected_context:
        raise UpstreamError("token_response_context_mismatch")
    scope = data.get("scope")
    if not isinstance(scope, str):
        raise UpstreamError("token_response_scope")
    try:
        scopes = ScopeSet.parse(scope)
        store_hash = store_hash_from_context(expected_context)
    except ValueError as exc:
        raise UpstreamError("token_response_scope") from exc
    try:
        user, owner = user_and_owner(data)
    except ValueError as exc:
        raise UpstreamError(f"token_response_{exc}") from exc
    account_uuid = data.get("account_uuid")
    if not (account_uuid is None or (isinstance(account_uuid, str) and len(account_uuid) <= 64)):
        raise UpstreamError("token_response_account_uuid")
    return TokenGrant(token, store_hash, scopes, user, owner, account_uuid)
