"""A store's request budget: how many calls its current rate-limit window has left.

BigCommerce gives each store one quota shared by every app on it (`X-Rate-Limit-Requests-Left`,
reset after `X-Rate-Limit-Time-Reset-Ms`). A budget remembers what the last answers said and
reserves one request before each call, so callers wait for a spent window instead of earning a
429. `LocalBudget` serves one process; `bcapp.store.budget.RedisRateBudget` is the same
contract shared by every process through Redis (docs/protocol.md "Rate limits").
"""

from __future__ import annotations

import threading
from typing import Protocol

from bcapp.clock import Clock

PROBE_SECONDS = 1.0  # a probe whose answer never comes stops blocking the others after this
PROBE_WAIT_SECONDS = 0.02


class RateBudget(Protocol):
    """Reserve before a call; report what the answer said."""

    def reserve(self, store_hash: str) -> float:
        """0 when a request may go now (it is counted), else seconds until the window resets."""

    def observe(self, store_hash: str, left: int, reset_ms: int) -> None:
        """An answer said `left` requests remain for `reset_ms` milliseconds."""

    def unknown(self, store_hash: str) -> None:
        """A call ended without rate-limit figures (failed, or a 401): let another probe."""


class LocalBudget:
    """A RateBudget for one process."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, float]] = {}  # store -> (left, resets at)
        self._probing: dict[str, float] = {}  # store -> when its probe stops blocking others

    def reserve(self, store_hash: str) -> float:
        """Count one request against the known window, or say how long to wait.

        While the window is unknown, one caller at a time probes it; the others wait for its
        answer, so every later request is counted.
        """
        now = self._clock.monotonic()
        with self._lock:
            window = self._windows.get(store_hash)
            if window is None or now >= window[1]:
                self._windows.pop(store_hash, None)
                if self._probing.get(store_hash, 0.0) > now:
                    return PROBE_WAIT_SECONDS
                self._probing[store_hash] = now + PROBE_SECONDS
                return 0.0
            left, resets_at = window
            if left > 0:
                self._windows[store_hash] = (left - 1, resets_at)
                return 0.0
            return resets_at - now

    def observe(self, store_hash: str, left: int, reset_ms: int) -> None:
        """Keep the lower of what we counted and what BigCommerce said, for this window."""
        now = self._clock.monotonic()
        with self._lock:
            window = self._windows.get(store_hash)
            if window is not None and now < window[1]:
                left = min(left, window[0])
            self._windows[store_hash] = (left, now + reset_ms / 1000)
            self._probing.pop(store_hash, None)

    def unknown(self, store_hash: str) -> None:
        """Let another caller probe the window."""
        with self._lock:
            self._probing.pop(store_hash, None)
