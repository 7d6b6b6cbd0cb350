"""A real Celery worker for tests: bcapp's tasks, consumed from the test's Redis broker.

`running_worker(service)` starts Celery's own in-process worker (threads pool) on the
deployment's broker queue (`<prefix>:broker:` keys, so parallel tests never share a queue) and
stops it when the block ends. Tests that need a worker *process* (a SIGKILL) start
`bcapp worker` instead (tests/test_worker_process.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import TestWorkController, start_worker

from bcapp.service.wiring import Bcapp
from bcapp.worker import application


class _FailFastWorker(TestWorkController):  # type: ignore[misc]
    """Celery's test worker, except that one dying at start lets the test go on (and fail)
    instead of waiting forever for it (`ensure_started` has no timeout)."""

    def start(self) -> None:
        try:
            super().start()
        finally:
            self._on_started.set()


@contextmanager
def running_worker(service: Bcapp, concurrency: int = 2) -> Iterator[None]:
    """bcapp's tasks run by a worker thread of this process until the block ends."""
    app = application(service)
    # The worker waits on the broker (BRPOP) at most this long, so it stops this fast too
    # (kombu's default, 1 s, made each use of this worker a second longer).
    app.conf.broker_transport_options["polling_interval"] = 0.1
    # No AMQP heartbeats (RabbitMQ, tests/test_rabbitmq.py): the worker's heartbeat timer
    # made each stop last a third of Celery's 120 s heartbeat, 10 s (Redis ignores it).
    app.conf.broker_heartbeat = 0
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        shutdown_timeout=10.0,
        loglevel="WARNING",
        WorkController=_FailFastWorker,
    ):
        yield


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll `condition` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(0.02)
