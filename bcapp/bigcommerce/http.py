"""The pooled HTTP transport every BigCommerce call shares.

One `HTTPAdapter` (urllib3 pool, thread-safe) is mounted on each session the client uses, so
the token exchange and the store API reuse connections across requests and threads.
Timeouts are explicit on every call (docs/security.md R5); redirects are never followed.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

POOL_CONNECTIONS = 4
POOL_MAXSIZE = 16


def pooled_adapter() -> HTTPAdapter:
    """A connection pool for BigCommerce's hosts; no automatic retries (never for a code)."""
    return HTTPAdapter(pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0)


def mount(session: requests.Session, adapter: HTTPAdapter) -> requests.Session:
    """Route every http(s) request of `session` through the shared `adapter`."""
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
