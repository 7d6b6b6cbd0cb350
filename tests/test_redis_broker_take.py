"""A message a Redis broker hands a worker at the instant the broker goes away (issue 32,
acceptance 3: no event acknowledged and lost in any fault).

kombu's Redis transport takes a message with BRPOP, then records it as unacknowledged with a
second command. A broker stopped between the two lost the message: either BRPOP's answer never
left Redis (a SIGTERMed Redis serves the commands of its last turn and exits without writing
their answers) or it arrived and the record found the broker gone. Here a TCP proxy between a
real worker and a real Redis cuts every connection at the answer that hands the worker a
message the queue no longer holds, and refuses new ones for a while; the answer is passed on
first or never. Either way the event's handler runs, once (bcapp/redis_transport.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from flask.testing import FlaskClient

from bcapp import webhooks
from bcapp.broker import celery_app
from bcapp.redis_transport import SentinelTransport
from bcapp.service.webhooks import verify_delivery
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from benchmarks.drills.proxy import TcpProxy
from tests.conftest import CLIENT_SECRET
from tests.servers import redis_server
from tests.test_webhook_intake import order_event
from tests.workers import running_worker, wait_until

pytestmark = pytest.mark.slow

AWAY_SECONDS = 1.0  # the broker's time away after the cut
VISIBILITY = 1  # BCAPP_TASK_VISIBILITY_TIMEOUT: a message taken and never run comes back after it
IN_A_MESSAGE = b'"delivery_tag"'  # in every message kombu queues, in no other answer


class CutAtTheTake(TcpProxy):
    """A proxy to the broker that cuts every connection once: at the first answer carrying a
    message that `queue` no longer holds (the answer of the command that took it)."""

    def __init__(self, broker_url: str, queue: str, passed_on: bool) -> None:
        super().__init__(_address(broker_url))
        self.probe = redis.Redis.from_url(broker_url)  # the broker itself, not through the proxy
        self.queue, self.passed_on = queue, passed_on
        self.cut = threading.Event()
        self._deciding = threading.Lock()
        self._back = threading.Timer(AWAY_SECONDS, self.start)

    def answered(self, data: bytes, client: socket.socket) -> bool:
        with self._deciding:
            taken = not self.cut.is_set() and IN_A_MESSAGE in data and not self.probe.llen(
                self.queue
            )
            if not taken:
                return super().answered(data, client)
            self.cut.set()
        if self.passed_on:
            client.sendall(data)
        self.stop()
        self._back.start()
        return False

    def close(self) -> None:
        """Stop, once the broker's time away is over."""
        if self._back.is_alive():
            self._back.join()
        self.stop()
        self.probe.close()


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 6379


@pytest.mark.parametrize("passed_on", [True, False], ids=["answer-arrives", "answer-lost"])
def test_a_message_taken_as_the_broker_goes_away_runs_once(
    installed: FlaskClient,
    make_service: Callable[..., Bcapp],
    tmp_path: Path,
    prefix: str,
    passed_on: bool,
) -> None:
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def counted(event: webhooks.Event) -> None:
        runs.append(event.id)

    with redis_server(tmp_path) as broker:
        proxy = CutAtTheTake(broker, f"{prefix}:broker:bcapp", passed_on)
        proxy.start()
        try:
            options = {"task_visibility_timeout": VISIBILITY, "task_retry_base": 0.01}
            publisher = make_service(broker_url=broker, **options)
            worker = make_service(broker_url=f"redis://127.0.0.1:{proxy.port}/0", **options)
            delivery = order_event("msg_take", "e" * 40)
            event = verify_delivery(*delivery, [CLIENT_SECRET], time.time())
            assert publisher.tasks.queue_handlers(event.as_event(), "receipt-take") == 1
            with running_worker(worker):
                wait_until(proxy.cut.is_set, timeout=10, what="the cut at the take")
                wait_until(lambda: runs, timeout=10, what="the event's run after the cut")
                time.sleep(VISIBILITY + 1)  # room for a wrong second run
        finally:
            proxy.close()
    assert runs == ["msg_take"]


def test_a_worker_whose_broker_connection_drops_under_a_running_handler_goes_on(
    installed: FlaskClient, make_service: Callable[..., Bcapp], tmp_path: Path
) -> None:
    """A handler runs while the broker goes away and the worker waits for a message beside it;
    it ends after the worker reconnected. kombu died closing the waiting channel (it built a new
    pool from connection details Celery had already dropped: AttributeError 'hostname'), or at
    the handler's acknowledgement on it ('client'), and the worker stopped. Now that fails as
    a lost connection does (the message stays recorded until the visibility timeout, and finds
    its run done), and the worker runs the next event."""
    runs: list[str] = []
    running = threading.Event()

    @webhooks.on("store/order/created")
    def slow(event: webhooks.Event) -> None:
        running.set()
        time.sleep(0 if runs else 3)  # the first run outlasts the time away and the reconnect
        runs.append(event.id)

    with redis_server(tmp_path) as broker, TcpProxy(_address(broker)) as proxy:
        # Longer than the first run: its message is not given to the other slot meanwhile.
        options = {"task_visibility_timeout": 30, "task_retry_base": 0.01}
        publisher = make_service(broker_url=broker, **options)
        worker = make_service(broker_url=f"redis://127.0.0.1:{proxy.port}/0", **options)
        first = verify_delivery(*order_event("msg_first", "f" * 40), [CLIENT_SECRET], time.time())
        assert publisher.tasks.queue_handlers(first.as_event(), "receipt-first") == 1
        with running_worker(worker, concurrency=2):  # one slot waits for a message meanwhile
            wait_until(running.is_set, timeout=10, what="the first handler running")
            proxy.stop()
            time.sleep(AWAY_SECONDS)
            proxy.start()
            wait_until(lambda: runs, timeout=10, what="the first run's end")
            body = order_event("msg_next", "n" * 40)
            later = verify_delivery(*body, [CLIENT_SECRET], time.time())
            assert publisher.tasks.queue_handlers(later.as_event(), "receipt-next") == 1
            wait_until(lambda: len(runs) == 2, timeout=10, what="the next event, same worker")
    assert runs == ["msg_first", "msg_next"]


def test_a_broker_that_refuses_blmove_is_waited_on_with_brpop(
    installed: FlaskClient,
    make_service: Callable[..., Bcapp],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Redis before 6.2, or a broker user whose ACL lacks `blmove` (docs/how-it-works.md
    gave none before): the worker says so and consumes as kombu does."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def counted(event: webhooks.Event) -> None:
        runs.append(event.id)

    rules = ["~*", "&*", "+@all", "-blmove"]
    with redis_server(tmp_path, "--user", "old", "on", ">old-broker-pw-1357", *rules) as broker:
        limited = broker.replace("redis://", "redis://old:old-broker-pw-1357@", 1)
        service = make_service(broker_url=limited)
        event = verify_delivery(*order_event("msg_old", "o" * 40), [CLIENT_SECRET], time.time())
        assert service.tasks.queue_handlers(event.as_event(), "receipt-old") == 1
        with running_worker(service):
            wait_until(lambda: runs, timeout=10, what="the event, taken with BRPOP")
    assert runs == ["msg_old"]
    assert "the broker refused BLMOVE" in caplog.text


def test_a_sentinel_broker_keeps_this_transport_when_kombu_fails_over(
    settings: Settings,
) -> None:
    """kombu moves a connection to the next URL of a Sentinel list after a failed attempt, and
    reading that URL's scheme again gave the connection kombu's own transport, with the gap."""
    sentinels = replace(settings, broker_url="redis+sentinel://127.0.0.1:1,127.0.0.1:2/service")
    connection = celery_app(sentinels, settings.redis_url).connection_for_read()
    assert connection.transport_cls == "bcapp.redis_transport:SentinelTransport"
    for _ in range(3):
        connection.maybe_switch_next()  # as kombu's ensure_connection does on each failure
        assert isinstance(connection.transport, SentinelTransport)
        assert (connection.hostname, connection.port) == ("127.0.0.1", 1)
    connection.release()
