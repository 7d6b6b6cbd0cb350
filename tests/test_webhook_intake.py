"""Declared webhook handlers on a real Celery worker (issue 18): intake, de-duplication,
retries, dead letters and replay, and the broker's outage.

The app answers over Flask's test client; the worker is Celery's own, in a thread of this
process, consuming the test's Redis broker (tests/workers.py). Deliveries are signed as
BigCommerce signs them. Handlers declared here are forgotten after each test (conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.signals import task_postrun
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from bcapp import webhooks
from bcapp.broker import HANDLE_EVENT
from bcapp.cli import main
from bcapp.clock import SystemClock
from bcapp.errors import ConfigurationError
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import standard_webhook_headers
from bcapp.store.connection import Keyspace
from bcapp.store.ephemeral import RedisShortLivedRecords
from tests.conftest import CLIENT_SECRET, service_of
from tests.helpers import install
from tests.servers import environment_for, free_port, redis_server
from tests.workers import running_worker, wait_until


def order_event(
    webhook_id: str | None = None,
    event_hash: str | None = None,
    scope: str = "store/order/created",
    created_at: int | None = None,
    signed_at: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A signed delivery of an order event (a fresh id and hash unless given), signed at
    `signed_at` and made at `created_at` (both now unless given: BigCommerce's retry of an
    event keeps its time and is signed at its own)."""
    now = int(time.time())
    body = json.dumps(
        {
            "scope": scope,
            "store_id": "1001",
            "data": {"type": "order", "id": 250},
            "hash": event_hash or uuid.uuid4().hex,
            "created_at": created_at or now,
            "producer": "stores/abc123",
        }
    )
    headers = standard_webhook_headers(
        CLIENT_SECRET, webhook_id or f"msg_{uuid.uuid4().hex}", signed_at or now, body
    )
    return body.encode(), headers


def deliver(client: FlaskClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/bigcommerce/webhooks", data=body, headers=headers)


def queued(redis_client: redis.Redis, prefix: str) -> int:
    """Tasks waiting in the test's broker queue."""
    return int(redis_client.llen(f"{prefix}:broker:bcapp"))


def test_a_handler_runs_once_per_event_whatever_the_duplicates(
    installed: FlaskClient, app: Flask
) -> None:
    runs: list[tuple[str, int, str, dict[str, Any]]] = []

    @webhooks.on("store/order/*")
    def remember(event: webhooks.Event) -> None:
        info = event.api.get("v2/store")  # the store's own client, token decrypted
        runs.append((event.scope, event.attempt, info["id"], event.data))

    made = int(time.time())
    body, headers = order_event(webhook_id="msg_1", event_hash="h" * 40, created_at=made)
    with running_worker(service_of(app)):
        first = deliver(installed, body, headers)
        assert first.status_code == 200 and first.json == {"status": "queued"}
        # The same attempt again (its id and timestamp): a replay, nothing queued.
        assert deliver(installed, body, headers).json == {"status": "duplicate"}
        # BigCommerce's retry: a new id, the same event (same hash and time).
        retried = order_event(webhook_id="msg_2", event_hash="h" * 40, created_at=made)
        assert deliver(installed, *retried).json == {"status": "duplicate"}
        wait_until(lambda: runs, what="the handler")
        other = order_event()
        assert deliver(installed, *other).json == {"status": "queued"}
        wait_until(lambda: len(runs) == 2, what="the second event's handler")
        time.sleep(0.3)  # room for a wrongly queued third run to show
    assert runs == [("store/order/created", 1, "abc123", {"type": "order", "id": 250})] * 2


def test_a_second_change_with_the_same_hash_at_another_time_is_another_event(
    installed: FlaskClient, app: Flask
) -> None:
    """Fourth review, "Also": whether BigCommerce's `hash` covers `created_at` is not
    documented. Claimed alone for three days, an equal hash dropped a genuine second update of
    the same record (the same light payload) as a duplicate; the event key now holds the scope
    and the time, so only a true retry (same time) is one."""
    runs: list[str] = []

    @webhooks.on("store/order/updated")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    made = int(time.time()) - 60
    scope = "store/order/updated"
    first = order_event("msg_update_1", "u" * 40, scope, created_at=made)
    second = order_event("msg_update_2", "u" * 40, scope, created_at=made + 30)
    retry = order_event("msg_update_3", "u" * 40, scope, created_at=made + 30)
    with running_worker(service_of(app)):
        assert deliver(installed, *first).json == {"status": "queued"}
        assert deliver(installed, *second).json == {"status": "queued"}, "another change"
        assert deliver(installed, *retry).json == {"status": "duplicate"}, "its retry"
        wait_until(lambda: len(runs) == 2, what="both changes handled")
        time.sleep(0.3)  # room for a wrong third run
    assert "msg_update_1" in runs and len(runs) == 2, runs  # the second change ran once
    assert {"msg_update_2", "msg_update_3"} & set(runs), runs


def test_a_slow_handler_never_holds_the_answer(
    installed: FlaskClient, app: Flask
) -> None:
    """The 2xx comes while the handler is still running (it waits for the test to let go)."""
    started, release = threading.Event(), threading.Event()

    @webhooks.on("store/order/created")
    def slow(event: webhooks.Event) -> None:
        started.set()
        release.wait(10)

    with running_worker(service_of(app)):
        answer = deliver(installed, *order_event())
        assert answer.status_code == 200
        assert started.wait(10), "the handler started"
        assert not release.is_set(), "and the answer came before it ended"
        release.set()


def test_a_retry_arriving_while_the_first_run_goes_on_waits_its_turn_and_runs_nothing(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    """BigCommerce's retry of an event (a new id, the same hash and time) arriving while the
    first run is still inside the handler is queued; a second worker thread takes it, finds
    the run's lease held and waits its turn, then finds the run handled. A task queued under
    a receipt whose claim was taken over (outrun) runs nothing either."""
    from bcapp.service.webhooks import verify_delivery

    app = make_app(task_retry_base=0.01)
    client = app.test_client()
    install(client, sim)
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []
    ended: list[tuple[str, str | None, object]] = []

    @webhooks.on("store/order/created")
    def slow(event: webhooks.Event) -> None:
        runs.append(event.id)
        started.set()
        release.wait(10)

    def record(task: Any = None, kwargs: Any = None, retval: Any = None,
               state: str | None = None, **_: Any) -> None:
        if task is not None and task.name == HANDLE_EVENT:
            ended.append((kwargs["event"]["id"], state, retval))

    def finished(webhook_id: str) -> list[object]:
        return [retval for (one, state, retval) in ended if one == webhook_id
                and state == "SUCCESS"]

    service = service_of(app)
    task_postrun.connect(record, weak=False)
    try:
        with running_worker(service, concurrency=2):
            made = int(time.time())
            first = order_event("msg_a", "e" * 40, created_at=made)
            assert deliver(client, *first).json == {"status": "queued"}
            assert started.wait(10), "the first run started"
            retried = order_event("msg_b", "e" * 40, created_at=made)
            assert deliver(client, *retried).json == {"status": "duplicate"}
            outrun = verify_delivery(*first, [CLIENT_SECRET], time.time()).as_event()
            assert service.tasks.queue_handlers(outrun, "receipt-taken-over") == 1
            wait_until(lambda: any(one == "msg_b" and state == "RETRY"
                                   for (one, state, _) in ended), what="the retry waiting")
            release.set()
            wait_until(lambda: finished("msg_b") and len(finished("msg_a")) == 2,
                       what="every task ended")
    finally:
        task_postrun.disconnect(record)
    assert runs == ["msg_a"]
    assert finished("msg_b") == ["already handled"]
    assert sorted(map(str, finished("msg_a"))) == ["already handled", "handled"]


def test_replays_of_a_claimed_delivery_queue_nothing(
    installed: FlaskClient, redis_client: redis.Redis, prefix: str
) -> None:
    """A captured delivery replayed within its 5 minutes (L8 of the fourth review): each copy
    is the same attempt (its id and timestamp), a duplicate, and puts no task in the broker.
    Before, each replay queued a task first (3,800 in 10 s). BigCommerce's retry of the event
    is signed anew: also a duplicate, but its task is queued (in case the first attempt's never
    was; it runs nothing when it was)."""

    @webhooks.on("store/order/created")
    def handled(event: webhooks.Event) -> None:
        pass

    before = queued(redis_client, prefix)  # the install's store sync
    made = int(time.time())
    body, headers = order_event("msg_captured", "c" * 40, created_at=made)
    assert deliver(installed, body, headers).json == {"status": "queued"}
    assert queued(redis_client, prefix) == before + 1
    for _ in range(25):
        assert deliver(installed, body, headers).json == {"status": "duplicate"}
    assert queued(redis_client, prefix) == before + 1, "the replays queued tasks"
    retried = order_event("msg_captured", "c" * 40, created_at=made, signed_at=made + 1)
    assert deliver(installed, *retried).json == {"status": "duplicate"}
    assert queued(redis_client, prefix) == before + 2


def test_a_process_lost_between_claiming_and_queueing_loses_nothing(
    installed: FlaskClient, app: Flask, redis_client: redis.Redis, prefix: str
) -> None:
    """A process that claimed a delivery and died before queueing its tasks (no answer, so
    BigCommerce retries): the retry, signed anew, takes the claim over and is queued (a
    duplicate: the event was received before) and runs."""
    from bcapp.service.task_event import claim_nonces
    from bcapp.service.webhooks import ATTEMPT_SECONDS, DEDUPLICATE_SECONDS, verify_delivery

    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    service = service_of(app)
    made = int(time.time())
    body, headers = order_event("msg_lost", "l" * 40, created_at=made, signed_at=made - 5)
    lost = verify_delivery(body, headers, [CLIENT_SECRET], time.time())
    attempt = f"webhook-attempt:msg_lost.{made - 5}"
    claims = RedisShortLivedRecords(redis_client, Keyspace(prefix), SystemClock())
    assert claims.claim(
        "abc123", attempt, claim_nonces(lost.as_event()), DEDUPLICATE_SECONDS,
        "receipt-of-the-lost-process", ATTEMPT_SECONDS,
    )
    retried = order_event("msg_lost", "l" * 40, created_at=made)
    assert deliver(installed, *retried).json == {"status": "duplicate"}
    with running_worker(service):
        wait_until(lambda: runs, what="the retry's task")
        time.sleep(0.5)  # room for a wrong second run
    assert runs == ["msg_lost"]


def test_a_process_lost_after_queueing_runs_the_event_once(
    installed: FlaskClient, app: Flask
) -> None:
    """A process that claimed and queued, then died before answering: its task runs (the
    claim is its own), and BigCommerce's retry, signed anew, is queued and runs nothing more
    (the run was marked handled)."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    made = int(time.time())
    first = order_event("msg_unanswered", "q" * 40, created_at=made, signed_at=made - 5)
    assert deliver(installed, *first).json == {"status": "queued"}  # the answer never arrived
    with running_worker(service_of(app)):
        wait_until(lambda: runs, what="the first task")
        retried = order_event("msg_unanswered", "q" * 40, created_at=made)
        assert deliver(installed, *retried).json == {"status": "duplicate"}
        time.sleep(0.5)  # room for a wrong second run
    assert runs == ["msg_unanswered"]


def test_redis_down_is_503_before_anything_is_queued_and_the_retry_runs_once(
    make_app: Callable[..., Flask], installed: FlaskClient, app: Flask, redis_url: str,
    redis_client: redis.Redis, prefix: str,
) -> None:
    """The claim fails (503) before any task is queued: the broker holds nothing for it, and
    BigCommerce's retry (even the same attempt: it was never claimed) is queued and runs once."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    no_redis = make_app(redis_url="redis://127.0.0.1:9/0", broker_url=redis_url)
    body, headers = order_event("msg_503", "r" * 40)
    before = queued(redis_client, prefix)
    refused = deliver(no_redis.test_client(), body, headers)
    assert refused.status_code == 503
    assert "temporarily unavailable" in refused.get_data(as_text=True)
    assert queued(redis_client, prefix) == before, "a refused delivery queued a task"
    the_retry_runs_once(installed, app, (body, headers), runs)
    assert runs == ["msg_503"]


def the_retry_runs_once(
    client: FlaskClient, app: Flask, delivery: tuple[bytes, dict[str, str]], runs: list[str]
) -> None:
    """BigCommerce's retry of a refused delivery is queued, and a worker runs it once."""
    assert deliver(client, *delivery).json == {"status": "queued"}
    with running_worker(service_of(app)):
        wait_until(lambda: runs, what="the handler")
        time.sleep(0.5)  # room for a wrong second run
    assert len(runs) == 1


def test_redis_down_under_the_worker_retries_the_run_and_loses_nothing(
    installed: FlaskClient,
    app: Flask,
    make_app: Callable[..., Flask],
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker whose Redis is down cannot tell whether the run is done: it schedules the
    task again (a failed task would be acknowledged and the event lost); a worker that can
    reach Redis runs it once."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    assert deliver(installed, *order_event("msg_blind")).json == {"status": "queued"}
    blind = make_app(redis_url="redis://127.0.0.1:9/0", broker_url=redis_url, task_retry_base=0.05)
    with running_worker(service_of(blind)):
        wait_until(lambda: "waits for Redis" in caplog.text, what="a retry for Redis")
    assert runs == []
    with running_worker(service_of(app)):  # the retry, put back when the blind worker stopped
        wait_until(lambda: runs, what="the run")
    assert runs == ["msg_blind"]


def test_no_retry_waits_past_half_the_visibility_timeout(settings: Settings) -> None:
    """Celery's Redis transport redelivers a retry held past the visibility timeout, so the
    full-jitter wait is capped at half of it (and at `most`)."""
    from bcapp.worker import retry_wait

    short = replace(settings, task_visibility_timeout=20, task_retry_base=10.0)
    assert max(retry_wait(10, short) for _ in range(200)) <= 10  # uncapped: up to 5,120 s
    assert max(retry_wait(10, short, most=3) for _ in range(200)) <= 3
    first = [retry_wait(1, settings) for _ in range(200)]
    assert max(first) <= 10 and len(set(first)) > 1  # the default base, still jittered


def test_a_handler_that_fails_twice_runs_three_times(
    installed: FlaskClient, make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    app = make_app(task_retry_base=0.05)
    client = app.test_client()
    install(client, sim)
    attempts: list[int] = []

    @webhooks.on("store/order/created")
    def flaky(event: webhooks.Event) -> None:
        attempts.append(event.attempt)
        if len(attempts) < 3:
            raise RuntimeError("the label printer is warming up")

    with running_worker(service_of(app)):
        assert deliver(client, *order_event()).status_code == 200
        wait_until(lambda: len(attempts) == 3, what="three runs")
        time.sleep(0.3)
    assert attempts == [1, 2, 3]
    assert service_of(app).dead_letters.failed() == []


def test_a_handler_that_always_fails_is_a_dead_letter_until_replayed(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    settings: Settings,
    tmp_path: Path,
) -> None:
    app = make_app(task_retry_base=0.01, task_max_attempts=3)
    client = app.test_client()
    install(client, sim)
    runs: list[int] = []
    fixed = threading.Event()

    @webhooks.on("store/order/created")
    def broken(event: webhooks.Event) -> None:
        runs.append(event.attempt)
        if not fixed.is_set():
            raise ValueError("order 250 has no shipping address")

    service = service_of(app)
    env = environment_for(settings) | {"BCAPP_TASK_MAX_ATTEMPTS": "3"}
    with running_worker(service):
        assert deliver(client, *order_event()).status_code == 200
        wait_until(lambda: service.dead_letters.failed(), what="the dead letter")
        assert runs == [1, 2, 3]
        listed = CliRunner().invoke(main, ["webhooks", "failed"], env=env)
        assert listed.exit_code == 0, listed.output
        [letter] = service.dead_letters.failed()
        assert letter.run_id in listed.output and "store/order/created" in listed.output
        assert "3 attempts" in listed.output and "no shipping address" in listed.output
        assert "1 failed event(s)" in listed.output

        fixed.set()
        replayed = CliRunner().invoke(main, ["webhooks", "replay", letter.run_id], env=env)
        assert replayed.exit_code == 0 and "1 event(s) queued again" in replayed.output
        wait_until(lambda: len(runs) == 4, what="the replayed run")
    assert runs == [1, 2, 3, 1]
    wait_until(lambda: service.dead_letters.failed() == [], what="the letter gone")
    again = CliRunner().invoke(main, ["webhooks", "replay", letter.run_id], env=env)
    assert again.exit_code == 1 and "no dead letter" in again.output


def test_a_broker_outage_is_503_and_the_retry_is_not_taken_for_a_duplicate(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    @webhooks.on("store/order/created")
    def handled(event: webhooks.Event) -> None:
        pass

    down = make_app(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    install(down.test_client(), sim)
    body, headers = order_event()
    refused = deliver(down.test_client(), body, headers)
    assert refused.status_code == 503
    assert "Please try again" in refused.get_data(as_text=True) or refused.is_json
    up = make_app()
    accepted = deliver(up.test_client(), body, headers)  # BigCommerce's retry, broker back
    assert accepted.status_code == 200 and accepted.json == {"status": "queued"}
    assert queued(redis_client, prefix) >= 1


def test_an_event_nobody_handles_is_acknowledged_and_queues_nothing(
    installed: FlaskClient, redis_client: redis.Redis, prefix: str
) -> None:
    before = queued(redis_client, prefix)
    answer = deliver(installed, *order_event(scope="store/product/updated"))
    assert answer.status_code == 200 and answer.json == {"status": "ignored"}
    assert queued(redis_client, prefix) == before


def test_a_scope_bigcommerce_does_not_offer_stops_start_up_naming_the_handler() -> None:
    def order_craeted(event: webhooks.Event) -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"order_craeted.*'store/order/craeted'"):
        webhooks.on("store/order/craeted")(order_craeted)
    assert webhooks.named(f"{__name__}:{order_craeted.__qualname__}") is None


def test_one_function_declared_for_overlapping_scopes_runs_once_per_event(
    installed: FlaskClient, app: Flask
) -> None:
    runs: list[str] = []

    @webhooks.on("store/order/*")
    @webhooks.on("store/order/created")
    def twice_declared(event: webhooks.Event) -> None:
        runs.append(event.scope)

    name = f"{__name__}:{twice_declared.__qualname__}"
    assert webhooks.named(name) is not None
    assert webhooks.named(name).scopes == ("store/order/created", "store/order/*")  # type: ignore[union-attr]
    with running_worker(service_of(app)):
        assert deliver(installed, *order_event()).json == {"status": "queued"}
        wait_until(lambda: runs, what="the handler")
        time.sleep(0.3)
    assert runs == ["store/order/created"]


def test_an_event_of_a_store_uninstalled_since_is_skipped_not_retried(
    installed: FlaskClient, app: Flask
) -> None:
    runs: list[int] = []

    @webhooks.on("store/order/created")
    def needs_the_api(event: webhooks.Event) -> None:
        runs.append(event.attempt)
        event.api.get("v2/store")

    service = service_of(app)
    assert deliver(installed, *order_event()).json == {"status": "queued"}
    body, headers = order_event(scope="store/app/uninstalled")
    assert deliver(installed, body, headers).json == {"status": "ended"}
    with running_worker(service):
        wait_until(lambda: runs, what="the run")
        time.sleep(0.3)
    assert runs == [1] and service.dead_letters.failed() == []


def test_replay_with_the_broker_down_keeps_the_dead_letter_listed(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    from bcapp.service.dead_letters import DeadLetter

    event = {"id": "msg_9", "store_hash": "abc123", "scope": "store/order/created", "data": {}}
    letter = DeadLetter("r" * 32, "myapp.events:order_created", event, "boom", 10, 1_800_000_000)
    service_of(app).dead_letters.keep(letter)
    down = environment_for(settings) | {"BCAPP_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = CliRunner().invoke(main, ["webhooks", "replay", "--all"], env=down)
    assert result.exit_code == 1 and "broker_unavailable" in result.output
    assert [kept.run_id for kept in service_of(app).dead_letters.failed()] == ["r" * 32]
    listed = CliRunner().invoke(main, ["webhooks", "failed"], env=environment_for(settings))
    assert "2027-01-15T08:00:00Z" in listed.output and "10 attempts" in listed.output


def test_a_run_that_cannot_be_recorded_after_its_handler_is_handled_not_failed(
    make_app: Callable[..., Flask],
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis goes away while the handler runs: the work is done, so the run ends as handled
    with a warning, not as a failed task (which would be logged as the handler's failure)."""
    runs: list[str] = []
    with redis_server(tmp_path) as own_url:
        app = make_app(redis_url=own_url, broker_url=redis_url)

        @webhooks.on("store/order/created")
        def remember(event: webhooks.Event) -> None:
            runs.append(event.id)
            redis.Redis.from_url(own_url).shutdown(nosave=True)

        assert deliver(app.test_client(), *order_event("msg_unrecorded")).json == {
            "status": "queued"
        }
        with running_worker(service_of(app)):
            wait_until(lambda: "could not be recorded" in caplog.text, what="the warning")
            time.sleep(0.3)  # room for a failure report or a second run
    assert runs == ["msg_unrecorded"]
    assert "raised unexpected" not in caplog.text
    assert "failed (attempt" not in caplog.text
