"""A delivery's claim carried by its first task's push, when the broker is the app's own Redis
(bcapp/redis_transport.py `Carried`, bcapp/store/ephemeral.py `CLAIM`): one round trip, and
the claim and the task are written together or not at all.

The suite's Redis is the embedded one, over a unix socket, whose broker is kombu's own
transport: there the claim is taken first and the tasks queued after (tests/
test_webhook_intake.py). Here the app's Redis is a redis-server on loopback TCP, as in
production, so the broker is bcapp's transport and the claim rides on the push; the intake
tests that concern the claim run again on it, unchanged, beside the ones only this path has.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bcapp import webhooks
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from tests.conftest import service_of
from tests.servers import redis_server
from tests.test_webhook_intake import (  # run again here, on a broker that carries the claim
    deliver,
    order_event,
    queued,
    test_a_handler_runs_once_per_event_whatever_the_duplicates,
    test_a_process_lost_after_queueing_runs_the_event_once,
    test_a_process_lost_between_claiming_and_queueing_loses_nothing,
    test_a_retry_arriving_while_the_first_run_goes_on_waits_its_turn_and_runs_nothing,
    test_replays_of_a_claimed_delivery_queue_nothing,
    the_retry_runs_once,
)

__all__ = [
    "test_a_handler_runs_once_per_event_whatever_the_duplicates",
    "test_a_process_lost_after_queueing_runs_the_event_once",
    "test_a_process_lost_between_claiming_and_queueing_loses_nothing",
    "test_a_retry_arriving_while_the_first_run_goes_on_waits_its_turn_and_runs_nothing",
    "test_replays_of_a_claimed_delivery_queue_nothing",
]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app's Redis (and so its broker) on loopback TCP, for this module's tests."""
    with redis_server(tmp_path_factory.mktemp("tcp-redis")) as url:
        yield url


def commands_sent(redis_url: str, act: Callable[[], None]) -> list[tuple[str, str]]:
    """Each command Redis ran while `act` ran, by whom ("lua": inside a script) and its name
    (Redis's MONITOR, read to a marker sent after `act`)."""
    marker = f"done-{time.time_ns()}"
    with redis.Redis.from_url(redis_url) as watching, redis.Redis.from_url(redis_url) as marking:
        marking.ping()  # connected before MONITOR starts: only the marker shows
        with watching.monitor() as monitor:
            act()
            marking.echo(marker)
            seen = []
            while marker not in (command := monitor.next_command())["command"]:
                seen.append((command["client_type"], command["command"].split()[0].upper()))
    return seen


def test_the_claim_rides_on_the_push_in_one_round_trip(
    installed: FlaskClient, redis_client: redis.Redis, redis_url: str, prefix: str
) -> None:
    """Each delivery sends Redis one command, the claim's script, which pushes the task (or,
    for a replay, nothing): before, a script and then an LPUSH."""

    @webhooks.on("store/order/created")
    def handled(event: webhooks.Event) -> None:
        pass

    assert deliver(installed, *order_event()).json == {"status": "queued"}  # the script loaded
    waiting = queued(redis_client, prefix)
    deliveries = [order_event() for _ in range(5)]

    def deliver_all() -> None:
        for body, headers in deliveries:
            assert deliver(installed, body, headers).json == {"status": "queued"}
        assert deliver(installed, *deliveries[0]).json == {"status": "duplicate"}  # a replay

    sent = commands_sent(redis_url, deliver_all)
    assert [name for by, name in sent if by != "lua"] == ["EVALSHA"] * 6
    assert [name for by, name in sent if by == "lua"].count("LPUSH") == 5
    assert queued(redis_client, prefix) == waiting + 5


def test_only_a_broker_on_the_apps_own_redis_carries_the_claim(
    make_service: Callable[..., Bcapp], settings: Settings, tmp_path: Path
) -> None:
    """Another broker server (or RabbitMQ) cannot run a script of the app's Redis; nor can
    kombu's own transport (a unix socket): the claim is taken first there."""
    assert make_service().queue.carrier("t", {}, "id") is not None
    with redis_server(tmp_path) as other:
        assert make_service(broker_url=other).queue.carrier("t", {}, "id") is None
    socket = replace(settings, redis_url=f"unix://{tmp_path}/nothing-here.sock")
    assert make_service(redis_url=socket.redis_url).queue.carrier("t", {}, "id") is None


def test_every_handler_of_a_scope_is_queued_once_and_none_for_a_replay(
    installed: FlaskClient, redis_client: redis.Redis, prefix: str
) -> None:
    """The first task carries the claim; the others follow it, only when it was taken."""

    @webhooks.on("store/order/created")
    def first(event: webhooks.Event) -> None:
        pass

    @webhooks.on("store/order/created")
    def second(event: webhooks.Event) -> None:
        pass

    @webhooks.on("store/order/created")
    def third(event: webhooks.Event) -> None:
        pass

    waiting = queued(redis_client, prefix)
    body, headers = order_event("msg_three", "t" * 40)
    assert deliver(installed, body, headers).json == {"status": "queued"}
    assert queued(redis_client, prefix) == waiting + 3
    assert deliver(installed, body, headers).json == {"status": "duplicate"}
    assert queued(redis_client, prefix) == waiting + 3


def test_a_delivery_redis_refuses_at_maxmemory_claims_and_queues_nothing(
    installed: FlaskClient, app: Flask, redis_client: redis.Redis, prefix: str,
    snapshot: Callable[[], dict[str, object]],
) -> None:
    """Redis at `maxmemory` refuses the script at its first write: 503, no claim and no task
    (the give-back finds nothing to undo), and the same attempt, sent again once Redis has
    room, is a new delivery that runs."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    body, headers = order_event("msg_full", "m" * 40)
    before = snapshot()
    redis_client.config_set("maxmemory", "1")
    try:
        refused = deliver(installed, body, headers)
    finally:
        redis_client.config_set("maxmemory", "0")
    assert refused.status_code == 503
    assert "temporarily unavailable" in refused.get_data(as_text=True)
    assert snapshot() == before, "a refused delivery left a claim or a task"
    the_retry_runs_once(installed, app, (body, headers), runs)
    assert runs == ["msg_full"]


def test_a_replay_waits_for_no_replica_and_leaves_the_claim_it_met(
    installed: FlaskClient, make_app: Callable[..., Flask], redis_client: redis.Redis,
    prefix: str, snapshot: Callable[[], dict[str, object]],
) -> None:
    """With BCAPP_REDIS_MIN_REPLICAS and no replica answering, a replay pushed nothing and waits
    for none: a duplicate, the original's claim intact. Before, the WAIT after its push found no
    replica, the 503 gave the original's claim back, and the next replay was queued (found in
    review). A new delivery there is a 503 that gives back its own claim only: its task was
    pushed before the WAIT (it runs: a claim nobody holds is nobody's to outrun), and
    BigCommerce's retry of the attempt is taken."""

    @webhooks.on("store/order/created")
    def handled(event: webhooks.Event) -> None:
        pass

    body, headers = order_event("msg_replayed", "p" * 40)
    assert deliver(installed, body, headers).json == {"status": "queued"}
    waiting, before = queued(redis_client, prefix), snapshot()
    strict = make_app(redis_min_replicas=1).test_client()
    for _ in range(3):
        assert deliver(strict, body, headers).json == {"status": "duplicate"}
    assert snapshot() == before and queued(redis_client, prefix) == waiting
    other = order_event("msg_unreplicated", "u" * 40)
    assert deliver(strict, *other).status_code == 503
    assert queued(redis_client, prefix) == waiting + 1
    assert deliver(installed, *other).json == {"status": "queued"}


def test_a_claim_given_back_is_only_the_failed_deliverys_own(
    redis_client: redis.Redis, prefix: str
) -> None:
    """A failed delivery gives back the keys it claimed; a key another delivery claims (the
    original of a replay, or a retry that took the event over meanwhile) stays."""
    from bcapp.clock import SystemClock
    from bcapp.store.connection import Keyspace
    from bcapp.store.ephemeral import RedisShortLivedRecords

    claims = RedisShortLivedRecords(redis_client, Keyspace(prefix), SystemClock())
    keys = ["webhook-attempt:msg_x.1", "msg_x", "event-x"]
    assert claims.claim("abc123", keys[0], keys[1:], 60, "receipt-first", 60) == "new"
    claims.release("abc123", keys, "receipt-of-a-replay")
    assert claims.claimants("abc123", keys) == ["receipt-first"] * 3
    assert claims.claim("abc123", "webhook-attempt:msg_x.2", keys[1:], 60, "later", 60) == "retry"
    claims.release("abc123", keys, "receipt-first")
    assert claims.claimants("abc123", keys) == [None, "later", "later"]


def test_redis_gone_is_a_503_and_the_retry_is_taken(
    installed: FlaskClient, make_app: Callable[..., Flask], redis_client: redis.Redis, prefix: str
) -> None:
    """The app's Redis (so its broker) unreachable: the push carrying the claim fails, a 503
    with nothing queued; BigCommerce's retry, Redis back, is queued."""
    from tests.servers import free_port

    @webhooks.on("store/order/created")
    def handled(event: webhooks.Event) -> None:
        pass

    gone = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert service_of(gone).queue.carrier("t", {}, "id") is not None  # the carried path
    body, headers = order_event("msg_gone", "g" * 40)
    waiting = queued(redis_client, prefix)
    refused = deliver(gone.test_client(), body, headers)
    assert refused.status_code == 503
    assert "temporarily unavailable" in refused.get_data(as_text=True)
    assert queued(redis_client, prefix) == waiting
    assert deliver(installed, body, headers).json == {"status": "queued"}
