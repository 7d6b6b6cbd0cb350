"""Runs kept while a forged uninstall stands, and one copy of a run at a time (issue 31, M1
and L6 of the fourth review).

M1: a staff user's unused load payload sent to /uninstall marks the store uninstalled (source
"callback", docs/security.md R9); the worker used to drop every event of the store until the
owner opened the app (`skipped: not installed`, no retry, no dead letter), and a replayed dead
letter was deleted without running. L6: kombu restores a message the worker has not
acknowledged when its connection drops, so a second copy of a running event ran at once.

A real Redis, the simulator over HTTP, a worker in a thread and one ManualClock.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable

import pytest
import redis

from bcapp import webhooks
from bcapp.clock import ManualClock
from bcapp.service.install import InstallRequest
from bcapp.service.tasks import TaskEvent
from bcapp.service.wiring import Bcapp
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import jwt_claims, sign_jwt, standard_webhook_headers
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import DEFAULT_SCOPE
from tests.workers import running_worker, wait_until

OWNER = {"id": 1, "email": "owner@example.com"}
STAFF = {"id": 2, "email": "staff@example.com"}
ADDRESS = "192.0.2.1"
GRACE = 3600


@pytest.fixture
def service(make_service: Callable[..., Bcapp], sim: SimulatorState) -> Bcapp:
    """Services with a short grace period and fast retries, the app installed on abc123."""
    made = make_service(uninstall_grace_seconds=GRACE, task_retry_base=0.01)
    code = sim.issue_code("abc123", 1, DEFAULT_SCOPE)
    made.callbacks.install(InstallRequest.parse(code, DEFAULT_SCOPE, "stores/abc123"))
    return made


def payload(clock: ManualClock, user: dict[str, object] = OWNER) -> str:
    return sign_jwt(jwt_claims(CLIENT_ID, "abc123", user, OWNER, now=int(clock.now())),
                    CLIENT_SECRET)


def forge_uninstall(service: Bcapp, clock: ManualClock) -> None:
    """A staff member's load payload sent to /bigcommerce/uninstall."""
    clock.advance(3600)
    assert service.callbacks.uninstall(service.callbacks.verify(payload(clock, STAFF), None,
                                                                "uninstall"))


def deliver_order(service: Bcapp, clock: ManualClock, scope: str = "store/order/created") -> str:
    body = json.dumps({
        "scope": scope, "store_id": "1001", "data": {"type": "order", "id": 250},
        "hash": uuid.uuid4().hex, "created_at": int(clock.now()), "producer": "stores/abc123",
    })
    headers = standard_webhook_headers(CLIENT_SECRET, f"msg_{uuid.uuid4().hex}",
                                       int(clock.now()), body)
    return service.callbacks.receive_webhook(body.encode(), {k.lower(): v
                                                            for k, v in headers.items()})


def order_reader(runs: list[str], tried: list[int]) -> None:
    @webhooks.on("store/order/created")
    def read_order(event: webhooks.Event) -> None:
        tried.append(event.attempt)
        runs.append(str(event.api.get("v2/store")["id"]))  # NotInstalled while uninstalled


def test_an_event_of_a_store_uninstalled_by_a_callback_waits_and_runs_when_the_owner_opens_it(
    service: Bcapp, clock: ManualClock, sim: SimulatorState
) -> None:
    runs: list[str] = []
    tried: list[int] = []
    order_reader(runs, tried)
    forge_uninstall(service, clock)
    with running_worker(service):
        assert deliver_order(service, clock) == "queued"
        wait_until(lambda: tried, what="the run")
        wait_until(lambda: service.dead_letters.failed(), what="the run kept, waiting")
        [letter] = service.dead_letters.failed()
        assert letter.waiting and "reinstated" in letter.error
        assert runs == [], "nothing of the store's ran"

        clock.advance(60)  # the owner opens the app: the uninstall was forged
        service.callbacks.load(payload(clock), None, ADDRESS)
        wait_until(lambda: runs, what="the kept run, after the reinstatement")
    assert len(runs) == 1
    assert service.dead_letters.failed() == [], "the run happened: its letter is gone"


def test_reconcile_reinstating_a_store_nobody_opens_runs_its_kept_events(
    service: Bcapp, clock: ManualClock
) -> None:
    runs: list[str] = []
    tried: list[int] = []
    order_reader(runs, tried)
    forge_uninstall(service, clock)
    with running_worker(service):
        deliver_order(service, clock)
        wait_until(lambda: service.dead_letters.failed(), what="the run kept, waiting")
        clock.advance(GRACE)  # a back-office app: nobody opens it; reconcile probes the token
        assert service.operations.reconcile().reinstated == 1
        wait_until(lambda: runs, what="the kept run, after reconcile")
    assert len(runs) == 1 and service.dead_letters.failed() == []


def test_replaying_a_letter_while_the_forged_uninstall_stands_keeps_it(
    service: Bcapp, clock: ManualClock
) -> None:
    """`bcapp webhooks replay` used to take the letter out as it queued it: the run met the
    uninstalled store and was dropped, the letter with it."""
    runs: list[str] = []
    tried: list[int] = []
    order_reader(runs, tried)
    forge_uninstall(service, clock)
    with running_worker(service):
        deliver_order(service, clock)
        wait_until(lambda: service.dead_letters.failed(), what="the run kept, waiting")
        [letter] = service.dead_letters.failed()
        assert service.dead_letters.replay(letter.run_id) == [letter]
        wait_until(lambda: len(tried) == 2, what="the replayed run")
        wait_until(lambda: [kept.run_id for kept in service.dead_letters.failed()]
                   == [letter.run_id], what="the letter, still kept")
    assert runs == [] and service.dead_letters.failed()[0].waiting


def test_an_event_of_a_store_bigcommerce_uninstalled_is_dropped_with_its_letter(
    service: Bcapp, clock: ManualClock, sim: SimulatorState, caplog: pytest.LogCaptureFixture
) -> None:
    """A confirmed uninstall is BigCommerce's own word: nothing waits for a reinstatement."""
    caplog.set_level(logging.INFO, logger="bcapp.service.tasks")  # the worker sets WARNING
    runs: list[str] = []
    tried: list[int] = []
    order_reader(runs, tried)
    forge_uninstall(service, clock)
    with running_worker(service):
        deliver_order(service, clock)
        wait_until(lambda: service.dead_letters.failed(), what="the run kept, waiting")
        clock.advance(GRACE)
        sim.revoke("abc123")  # BigCommerce refuses the token: reconcile confirms the uninstall
        assert service.operations.reconcile().purged == 1
        [letter] = service.dead_letters.failed()
        service.dead_letters.replay(letter.run_id)
        wait_until(lambda: service.dead_letters.failed() == [], what="the letter dropped")
    assert runs == [] and "skipped: the store is not installed" in caplog.text


def test_a_second_copy_of_a_running_event_waits_for_the_first(
    service: Bcapp, clock: ManualClock, redis_client: redis.Redis, prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two copies of one run at once (as kombu restores an unacknowledged message when the
    worker's connection drops): one runs, the other waits, then finds it handled."""
    started: list[int] = []
    active: list[int] = [0]
    most: list[int] = [0]
    lock = threading.Lock()
    go_on = threading.Event()

    @webhooks.on("store/order/created")
    def slow(event: webhooks.Event) -> None:
        with lock:
            started.append(event.attempt)
            active[0] += 1
            most[0] = max(most[0], active[0])
        go_on.wait(10)
        with lock:
            active[0] -= 1

    event = TaskEvent("msg_1", "abc123", "store/order/created", {"id": 250}, "h" * 40,
                      int(clock.now()))
    with running_worker(service, concurrency=2):
        service.tasks.queue_handlers(event, "")
        service.tasks.queue_handlers(event, "")  # the copy kombu restores
        wait_until(lambda: len(started) == 2 or "another worker is running it" in caplog.text,
                   what="the second copy")
        assert started == [1], "the second copy ran beside the first"
        [lease] = redis_client.keys(f"{prefix}:{{abc123}}:running:*")
        assert 0 < redis_client.ttl(lease) <= service.settings.task_visibility_timeout
        go_on.set()
        wait_until(lambda: not redis_client.keys(f"{prefix}:{{abc123}}:running:*"),
                   what="the lease released")
        broker = f"{prefix}:broker:"
        wait_until(lambda: not redis_client.llen(broker + "bcapp")
                   and not redis_client.hlen(broker + "unacked"), what="the second copy's end")
    assert most == [1] and started == [1], "the second copy found the run handled"
