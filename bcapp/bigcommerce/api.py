"""A client for a store's REST API that respects BigCommerce's rate limits.

Every call has explicit timeouts and goes through the shared connection pool. A 429 is waited
out once, for the longer of `X-Retry-After` (seconds) and `X-Rate-Limit-Time-Reset-Ms`, when
that wait fits the caller's budget; a response saying the quota is spent makes the next call
wait for the reset first (docs/protocol.md "Rate limits"). A 401 means the token no longer
works (uninstalled or re-installed). Waits use the injected clock.
"""

from __future__ import annotations

import random
import re
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bcapp.bigcommerce.budget import RateBudget
from bcapp.bigcommerce.http import deadline as http_deadline
from bcapp.bigcommerce.http import mount
from bcapp.clock import Clock
from bcapp.errors import ApiError, RateLimited, TokenRejected
from bcapp.metrics import GRAPHQL_COMPLEXITY, STORE_API_RATE_LIMITED
from bcapp.settings import Settings

_PATH = re.compile(r"v[23](/[A-Za-z0-9_-]+)+|graphql")
DEFAULT_MAX_WAIT_SECONDS = 5.0
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
MAX_RETRIES = 3
BACKOFF_BASE_SECONDS = 0.5
# method, store hash, token, path, query parameters, JSON body
_Request = tuple[str, str, str, str, dict[str, str | int], Any]
# Which failures a call may be sent again after: any (GET, PUT, DELETE, a GraphQL query), only
# a 429 that BigCommerce never processed (POST), or none (a GraphQL mutation).
RETRY_ANY, RETRY_AFTER_429, RETRY_NEVER = "any", "after_429", "never"


class StoreApi:
    """Calls against `BC_API_URL/stores/<hash>/v2|v3/...`, one token per call."""

    def __init__(
        self,
        settings: Settings,
        adapter: HTTPAdapter,
        clock: Clock,
        budget: RateBudget,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        self._base = settings.api_url
        self._timeout = (settings.http_connect_timeout, settings.http_read_timeout)
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._budget = budget
        self._session = mount(requests.Session(), adapter)
        self._random = random.Random()  # noqa: S311 - jitter, not a secret
        self._user_agent = settings.user_agent

    def get(self, store_hash: str, token: str, path: str, **params: str | int) -> Any:
        """The JSON body of GET `path` (e.g. ``v2/store``) for the store."""
        return self.call("GET", store_hash, token, path, params)

    def call(
        self,
        method: str,
        store_hash: str,
        token: str,
        path: str,
        params: dict[str, str | int] | None = None,
        body: Any = None,
        within: float | None = None,
        retry: str | None = None,
    ) -> Any:
        """The JSON answer (None when empty) of one call, within the store's budget.

        Waits for a spent window instead of earning a 429; a 429 (never processed) is waited
        out — `X-Retry-After` or the reset header, else a jittered backoff for platform load —
        and sent again, for any method; 5xx and connection failures are retried with jitter
        for idempotent methods only. Every wait is bounded by `max_wait_seconds`. With
        `within`, the whole call, retries and waits included, ends after that many seconds
        (ApiError "deadline"), whatever the peer does (`http.deadline`). `retry` overrides what
        the method allows (RETRY_ANY, RETRY_AFTER_429, RETRY_NEVER).
        """
        if not _PATH.fullmatch(path):
            raise ValueError("path must look like v2/..., v3/... or graphql")
        request = (method, store_hash, token, path, params or {}, body)
        policy = retry or (RETRY_ANY if method in IDEMPOTENT else RETRY_AFTER_429)
        if within is None:
            return self._attempts(request, None, policy)
        if within <= 0:
            raise ApiError("deadline")
        with http_deadline(within) as cut:
            try:
                return self._attempts(request, self._clock.monotonic() + within, policy)
            except ApiError as exc:
                if cut.expired and exc.reason != "deadline":
                    raise ApiError("deadline") from exc
                raise

    def _attempts(self, request: _Request, stop_at: float | None, policy: str) -> Any:
        store_hash = request[1]
        retries, waited = 0, 0.0
        while True:
            wait = self._budget.reserve(store_hash)
            if wait > 0:
                waited += wait
                self._wait(waited, RateLimited("quota_spent"), wait, stop_at)
                continue
            try:
                response = self._send(request)
            except ApiError:
                if policy != RETRY_ANY or retries >= MAX_RETRIES:
                    raise
                retries += 1
                self._wait(self._backoff(retries), ApiError("unreachable"), None, stop_at)
                continue
            if response.status_code == 429:
                STORE_API_RATE_LIMITED.inc()  # docs/prometheus-alerts.yml watches it
            if response.status_code == 429 and policy != RETRY_NEVER and retries < MAX_RETRIES:
                retries += 1
                wait = _retry_wait_seconds(response) or self._backoff(retries)
                self._wait(wait, RateLimited("rate_limited"), None, stop_at)
                continue
            if response.status_code >= 500 and policy == RETRY_ANY and retries < MAX_RETRIES:
                retries += 1
                failed = ApiError(f"status_{response.status_code}")
                self._wait(self._backoff(retries), failed, None, stop_at)
                continue
            return _answer(response)

    def _wait(
        self, seconds: float, too_long: ApiError, sleep: float | None, stop_at: float | None
    ) -> None:
        """Sleep (`sleep`, else `seconds`) on the clock, or raise `too_long` when `seconds`
        exceeds the caller's budget (ApiError "deadline" when the sleep would pass `stop_at`)."""
        if seconds > self._max_wait:
            raise too_long
        pause = seconds if sleep is None else sleep
        if stop_at is not None and self._clock.monotonic() + pause >= stop_at:
            raise ApiError("deadline") from too_long
        self._clock.sleep(pause)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: 0.25-0.5 s, then 0.5-1 s, 1-2 s."""
        ceiling = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
        return self._random.uniform(ceiling / 2, ceiling)

    def _send(self, request: _Request) -> requests.Response:
        method, store_hash, token, path, params, body = request
        url = f"{self._base}/stores/{store_hash}/{path}"
        headers = {
            "X-Auth-Token": token,
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        try:
            response = self._session.request(
                method,
                url,
                headers=headers,
                params=params,
                json=body,
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            self._budget.unknown(store_hash)
            raise ApiError("timeout") from exc
        except requests.RequestException as exc:
            self._budget.unknown(store_hash)
            raise ApiError("unreachable") from exc
        complexity = _header_int(response, "X-Bc-Graphql-Complexity")
        if complexity is not None:
            GRAPHQL_COMPLEXITY.observe(complexity)
        left = _header_int(response, "X-Rate-Limit-Requests-Left")
        reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
        if left is not None and reset_ms is not None:
            self._budget.observe(store_hash, left, reset_ms)
        else:
            self._budget.unknown(store_hash)
        return response

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()


def _answer(response: requests.Response) -> Any:
    """The JSON of a successful answer; the error of bcapp's hierarchy otherwise."""
    if response.status_code == 401:
        raise TokenRejected("token_rejected")
    if response.status_code == 429:
        raise RateLimited("rate_limited")
    if response.status_code not in (200, 201, 204):
        raise ApiError(f"status_{response.status_code}")
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError("not_json") from exc


def _retry_wait_seconds(response: requests.Response) -> float:
    """The longer of X-Retry-After (s) and the reset header (ms); 0 when neither is sent
    (a 429 without them is platform load: the caller backs off with jitter)."""
    retry_after = _header_int(response, "X-Retry-After")
    reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
    candidates = [float(v) for v in (retry_after,) if v is not None]
    candidates += [v / 1000 for v in (reset_ms,) if v is not None]
    return max(candidates) if candidates else 0.0


def _header_int(response: requests.Response, name: str) -> int | None:
    try:
        value = int(response.headers.get(name, ""))
    except ValueError:
        return None
    return value if value >= 0 else None
