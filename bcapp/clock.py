"""The one injectable clock shared by payload verification, the store and the API client.

Production uses `SystemClock`. Tests use `ManualClock`, whose `sleep` advances time instead of
waiting, so timing rules (deadlines, rate-limit waits, lock waits) are tested without sleeping
and without asserting wall-clock bounds.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for waits, and a way to wait."""

    def now(self) -> float:
        """Seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring waits."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """`time.time()`."""
        return time.time()

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """`time.sleep()`."""
        time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to (or when something sleeps on it); thread-safe."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        """The current manual time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """The same manual time (it never goes back)."""
        return self.now()

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance time by it, returning at once."""
        with self._lock:
            self.slept.append(seconds)
            self._now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        with self._lock:
            self._now += seconds


_default: list[Clock] = []


def default() -> Clock:
    """The clock bcapp is wired with when none is given: the system's, or the one the test kit
    (bcapp/testing/) sets while a test runs, so an app built by the developer's own factory
    moves with the test's clock."""
    return _default[-1] if _default else SystemClock()


def set_default(clock: Clock | None) -> None:
    """Make `clock` the default (None: the system's again)."""
    _default[:] = [clock] if clock is not None else []
