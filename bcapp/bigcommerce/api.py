"""A client for a store's REST API that respects BigCommerce's rate limits.

Every call has explicit timeouts and goes through the shared connection pool. A 429 is waited
out once, for the longer of `X-Retry-After` (seconds) and `X-Rate-Limit-Time-Reset-Ms`, when
that wait fits the caller's budget; a response saying the quota is spent makes the next call
wait for the reset first (docs/protocol.md "Rate limits"). A 401 means the token no longer
works (uninstalled or re-installed). Waits use the injected clock.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bcapp.bigcommerce.http import mount
from bcapp.clock import Clock
from bcapp.errors import ApiError, RateLimited, TokenRejected
from bcapp.settings import Settings

_PATH = re.compile(r"v[23](/[A-Za-z0-9_-]+)+")
DEFAULT_MAX_WAIT_SECONDS = 5.0


class StoreApi:
    """GETs against `BC_API_URL/stores/<hash>/v2|v3/...` with one token per call."""

    def __init__(
        self,
        settings: Settings,
        adapter: HTTPAdapter,
        clock: Clock,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    ) -> None:
        self._base = settings.api_url
        self._timeout = (settings.http_connect_timeout, settings.http_read_timeout)
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._session = mount(requests.Session(), adapter)
        self._quota_back_at: dict[str, float] = {}  # store -> monotonic time quota refreshes
        self._lock = threading.Lock()

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
    ) -> Any:
        """The JSON answer (None when empty) of one call. A 429 was not processed, so it is
        waited out and sent again once, for any method; nothing else is retried."""
        if not _PATH.fullmatch(path):
            raise ValueError("path must look like v2/... or v3/...")
        request = (method, store_hash, token, path, params or {}, body)
        self._wait_for_quota(store_hash)
        response = self._send(*request)
        if response.status_code == 429:
            wait = _retry_wait_seconds(response)
            if wait > self._max_wait:
                raise RateLimited("rate_limited")
            self._clock.sleep(wait)
            response = self._send(*request)
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

    def _send(
        self,
        method: str,
        store_hash: str,
        token: str,
        path: str,
        params: dict[str, str | int],
        body: Any,
    ) -> requests.Response:
        url = f"{self._base}/stores/{store_hash}/{path}"
        headers = {"X-Auth-Token": token, "Accept": "application/json"}
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
            raise ApiError("timeout") from exc
        except requests.RequestException as exc:
            raise ApiError("unreachable") from exc
        self._remember_quota(store_hash, response)
        return response

    def _remember_quota(self, store_hash: str, response: requests.Response) -> None:
        left = _header_int(response, "X-Rate-Limit-Requests-Left")
        reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
        if left == 0 and reset_ms is not None:
            with self._lock:
                self._quota_back_at[store_hash] = self._clock.monotonic() + reset_ms / 1000

    def _wait_for_quota(self, store_hash: str) -> None:
        with self._lock:
            back_at = self._quota_back_at.get(store_hash, 0.0)
        wait = back_at - self._clock.monotonic()
        if wait > self._max_wait:
            raise RateLimited("quota_spent")  # remembered: the next call is refused too
        if wait > 0:
            self._clock.sleep(wait)
        with self._lock:
            if self._quota_back_at.get(store_hash) == back_at:
                del self._quota_back_at[store_hash]

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()


def _retry_wait_seconds(response: requests.Response) -> float:
    """The longer of X-Retry-After (s) and the reset header (ms); 1 s when neither is sent."""
    retry_after = _header_int(response, "X-Retry-After")
    reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
    candidates = [float(v) for v in (retry_after,) if v is not None]
    candidates += [v / 1000 for v in (reset_ms,) if v is not None]
    return max(candidates) if candidates else 1.0


def _header_int(response: requests.Response, name: str) -> int | None:
    try:
        value = int(response.headers.get(name, ""))
    except ValueError:
        return None
    return value if value >= 0 else None
