"""The pooled HTTP transport every BigCommerce call shares, and a hard deadline for a call.

One `HTTPAdapter` (urllib3 pool, thread-safe) is mounted on each session the client uses, so
the token exchange and the store API reuse connections across requests and threads.
Timeouts are explicit on every call (docs/security.md R5); redirects are never followed.

Timeouts bound each socket read, not a whole exchange: a peer that drips its headers or a
`Content-Length` body a byte at a time stays within every read timeout. `Deadline` closes that
gap: while one is active in the calling thread, every connection that sends a request registers
its socket, and when the deadline passes a timer shuts those sockets down, so the blocked read
fails at once, whatever the peer does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

POOL_CONNECTIONS = 4
POOL_MAXSIZE = 16


class Deadline:
    """Sockets used under one deadline; `expire` shuts them down (and any registered later)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def register(self, sock: socket.socket | None) -> None:
        """Remember a socket this call uses; shut it down at once if the deadline has passed."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut_down(sock)

    def expire(self) -> None:
        """The deadline passed: break every registered connection."""
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)


_active: ContextVar[Deadline | None] = ContextVar("bcapp_http_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Within the block, requests of this thread are cut off after `seconds` in total."""
    current = Deadline()
    token = _active.set(current)
    timer = threading.Timer(max(seconds, 0.0), current.expire)
    timer.daemon = True
    timer.start()
    try:
        yield current
    finally:
        timer.cancel()
        _active.reset(token)


def _shut_down(sock: socket.socket) -> None:
    """Shut the descriptor down (for TLS too, beneath the SSL object); a blocked read returns."""
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _RegistersSocket:
    """Connection mixin: once a request is sent, the active deadline knows the socket."""

    sock: socket.socket | None

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        active = _active.get()
        if active is not None:
            active.register(self.sock)


class _DeadlineHTTPConnection(_RegistersSocket, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_RegistersSocket, HTTPSConnection):
    pass


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


def pooled_adapter() -> HTTPAdapter:
    """A connection pool for BigCommerce's hosts; no automatic retries (never for a code)."""
    adapter = HTTPAdapter(
        pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0
    )
    adapter.poolmanager.pool_classes_by_scheme = {
        "http": _DeadlineHTTPPool,
        "https": _DeadlineHTTPSPool,
    }
    return adapter


def mount(session: requests.Session, adapter: HTTPAdapter) -> requests.Session:
    """Route every http(s) request of `session` through the shared `adapter`."""
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
