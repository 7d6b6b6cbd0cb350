"""RabbitMQ as bcapp's broker (issue 32, Build 5 and Acceptance 4), on the real server at
127.0.0.1:5672 in a vhost of this run's own (benchmarks/drills/rabbitmq.py).

The webhook intake's end-to-end tests (tests/test_webhook_intake.py) run again here with
BCAPP_BROKER_URL=amqp://…: the module's `settings` names the vhost, and the tests that never
read the Redis broker's keys are imported as they are. Then what only a network broker does:
its connection cut and restored (a TCP proxy in front of it, benchmarks/drills/proxy.py: the
machine's RabbitMQ is shared and not ours to stop), and a publish it never confirms. Without a
RabbitMQ every test here is skipped, and the skip says so in the run's summary.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from amqp.exceptions import NotFound
from click.testing import CliRunner
from flask import Flask
from kombu import Connection

from bcapp import webhooks
from bcapp.broker import QUEUE
from bcapp.cli import main
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from benchmarks.drills import rabbitmq
from benchmarks.drills.proxy import TcpProxy
from tests import test_webhook_intake as intake
from tests.conftest import service_of
from tests.helpers import install
from tests.servers import environment_for
from tests.test_webhook_intake import deliver, order_event
from tests.workers import running_worker, wait_until

NOT_HERE = "*** RabbitMQ does not answer at 127.0.0.1:5672: the RabbitMQ tests did NOT run ***"


@pytest.fixture(scope="session")
def rabbitmq_vhost() -> Iterator[str]:
    """A vhost of this test process's own, deleted at the end (skipped loudly without one)."""
    if not rabbitmq.answers():
        pytest.skip(NOT_HERE)
    try:
        name = rabbitmq.create_vhost("bcapp-test")
    except rabbitmq.VhostUnavailable as missing:
        pytest.skip(f"*** RabbitMQ answers but no vhost could be made ({missing}): NOT run ***")
    yield name
    rabbitmq.delete_vhost(name)


@pytest.fixture
def amqp_url(rabbitmq_vhost: str) -> Iterator[str]:
    """The vhost's URL, bcapp's queue empty before and after the test (the tests of one
    process share the vhost, and a task one left would run in the next one's worker)."""
    url = rabbitmq.url(rabbitmq_vhost)
    purge(url)
    yield url
    purge(url)


def purge(url: str) -> None:
    """Empty bcapp's queue in the vhost of `url` (nothing to do before it is declared)."""
    with Connection(url) as connection, contextlib.suppress(NotFound):
        connection.default_channel.queue_purge(QUEUE)


@pytest.fixture
def settings(settings: Settings, amqp_url: str) -> Settings:
    """The suite's settings with RabbitMQ as the broker (Redis keeps everything else)."""
    return replace(settings, broker_url=amqp_url)


# The intake's end-to-end tests, as they are, on RabbitMQ. Left out: the ones that count the
# Redis broker's keys or name a Redis broker of their own (they test Redis, not the intake).
test_a_handler_runs_once_per_event_whatever_the_duplicates = (
    intake.test_a_handler_runs_once_per_event_whatever_the_duplicates
)
test_a_second_change_with_the_same_hash_at_another_time_is_another_event = (
    intake.test_a_second_change_with_the_same_hash_at_another_time_is_another_event
)
test_a_slow_handler_never_holds_the_answer = intake.test_a_slow_handler_never_holds_the_answer
test_a_process_lost_between_claiming_and_queueing_loses_nothing = (
    intake.test_a_process_lost_between_claiming_and_queueing_loses_nothing
)
test_a_process_lost_after_queueing_runs_the_event_once = (
    intake.test_a_process_lost_after_queueing_runs_the_event_once
)
test_a_retry_arriving_while_the_first_run_goes_on_waits_its_turn_and_runs_nothing = (
    intake.test_a_retry_arriving_while_the_first_run_goes_on_waits_its_turn_and_runs_nothing
)
test_a_handler_that_fails_twice_runs_three_times = (
    intake.test_a_handler_that_fails_twice_runs_three_times
)
test_one_function_declared_for_overlapping_scopes_runs_once_per_event = (
    intake.test_one_function_declared_for_overlapping_scopes_runs_once_per_event
)
test_an_event_of_a_store_uninstalled_since_is_skipped_not_retried = (
    intake.test_an_event_of_a_store_uninstalled_since_is_skipped_not_retried
)


def test_the_broker_is_rabbitmq_and_its_queue_holds_the_delivery(
    make_app: Callable[..., Flask], sim: SimulatorState, amqp_url: str
) -> None:
    """The intake's task is in RabbitMQ's queue (not in Redis), and the depth /metrics
    reports is RabbitMQ's own count."""
    webhooks.on("store/order/created")(lambda event: None)
    app = make_app()
    client = app.test_client()
    install(client, sim)  # queues the store's sync
    queue = service_of(app).queue
    assert queue.app.conf.broker_url.startswith("amqp://")
    assert deliver(client, *order_event()).json == {"status": "queued"}
    with Connection(amqp_url) as connection:
        declared = connection.default_channel.queue_declare(QUEUE, passive=True)
    assert declared.message_count == 2
    assert queue.depth() == 2


def test_a_dead_letter_replayed_from_the_cli_runs_on_rabbitmq(
    make_app: Callable[..., Flask], sim: SimulatorState, settings: Settings
) -> None:
    """`bcapp webhooks replay` publishes to the broker BCAPP_BROKER_URL names."""
    app = make_app(task_retry_base=0.01, task_max_attempts=2)
    client = app.test_client()
    install(client, sim)
    runs: list[int] = []
    fixed: list[bool] = []

    @webhooks.on("store/order/created")
    def broken(event: webhooks.Event) -> None:
        runs.append(event.attempt)
        if not fixed:
            raise ValueError("no shipping address")

    service = service_of(app)
    env = environment_for(settings) | {"BCAPP_BROKER_URL": settings.broker_url or ""}
    with running_worker(service):
        assert deliver(client, *order_event()).status_code == 200
        wait_until(lambda: service.dead_letters.failed(), what="the dead letter")
        fixed.append(True)
        replayed = CliRunner().invoke(main, ["webhooks", "replay", "--all"], env=env)
        assert replayed.exit_code == 0, replayed.output
        wait_until(lambda: len(runs) == 3, what="the replayed run")
    assert runs == [1, 2, 1]


@pytest.fixture
def proxied(rabbitmq_vhost: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy in front of RabbitMQ and the vhost's URL through it."""
    with TcpProxy((rabbitmq.HOST, rabbitmq.PORT)) as proxy:
        yield proxy, rabbitmq.url(rabbitmq_vhost, port=proxy.port)


def test_a_cut_broker_is_503_while_down_and_queues_again_once_back(
    make_app: Callable[..., Flask], sim: SimulatorState, proxied: tuple[TcpProxy, str]
) -> None:
    """Each web thread keeps its producer (bcapp/broker.py): cut, the delivery is refused
    (BigCommerce retries) at once, so a broker outage leaves web threads free for loads;
    restored, the next one is queued on a new connection."""
    proxy, url = proxied
    runs: list[str] = []
    webhooks.on("store/order/created")(lambda event: runs.append(event.id))
    app = make_app(broker_url=url)
    client = app.test_client()
    install(client, sim)
    assert deliver(client, *order_event("msg_before")).json == {"status": "queued"}
    proxy.stop()
    body, headers = order_event("msg_during")
    assert deliver(client, body, headers).status_code == 503
    for _ in range(3):  # each on a new connection, refused at once (kombu's retry took 2 s)
        started = time.monotonic()
        assert deliver(client, *order_event()).status_code == 503
        assert time.monotonic() - started < 1
    proxy.start()
    assert deliver(client, body, headers).json == {"status": "queued"}, "BigCommerce's retry"
    with running_worker(service_of(app)):
        wait_until(lambda: len(runs) == 2, what="both handlers")
        time.sleep(0.3)  # room for a wrong third run
    assert sorted(runs) == ["msg_before", "msg_during"]


def test_a_publish_rabbitmq_never_confirms_is_refused_not_acknowledged(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    proxied: tuple[TcpProxy, str],
    tmp_path: Path,
) -> None:
    """AMQP's publish is asynchronous: on a link that died silently, a publish without
    publisher confirms returned at once, the intake answered 200 and the event was lost (the
    broker never had it, and BigCommerce does not retry a 2xx). bcapp/broker.py asks
    RabbitMQ to confirm each publish: unconfirmed, it is a 503 and BigCommerce retries."""
    proxy, url = proxied
    webhooks.on("store/order/created")(lambda event: None)
    app = make_app(broker_url=url)
    client = app.test_client()
    install(client, sim)  # the thread's producer connects and declares the queue
    assert deliver(client, *order_event()).json == {"status": "queued"}
    proxy.swallow()
    started = time.monotonic()
    lost = deliver(client, *order_event(f"msg_{uuid.uuid4().hex}"))
    assert lost.status_code == 503, "acknowledged a publish RabbitMQ never received"
    assert time.monotonic() - started < 6


def test_a_worker_busy_when_its_connection_is_cut_consumes_again_once_back(
    make_app: Callable[..., Flask], sim: SimulatorState, proxied: tuple[TcpProxy, str]
) -> None:
    """A worker whose connection is cut while its threads run handlers reconnects and goes on
    consuming. Celery 5.7 lowered the prefetch count on the reconnect and raised it back from
    each acknowledging pool thread, with a synchronous `basic.qos` on the connection the
    event loop reads: two threads waited for one reply, and the worker consumed nothing more,
    its tasks held (the RabbitMQ drill, docs/operations.md). bcapp/broker.py turns that off."""
    proxy, url = proxied
    started: list[str] = []
    done: list[str] = []

    def slow(event: webhooks.Event) -> None:
        started.append(event.id)
        time.sleep(0.4)
        done.append(event.id)

    webhooks.on("store/order/created")(slow)
    app = make_app(broker_url=url)
    client = app.test_client()
    install(client, sim)
    sent: list[str] = []

    def order() -> None:
        sent.append(f"msg_{uuid.uuid4().hex}")
        body, headers = order_event(sent[-1])
        # The first publish after the cut is refused on the web thread's broken connection
        # (bcapp/broker.py), and BigCommerce retries it.
        answers = [deliver(client, body, headers).status_code for _ in range(2)]
        assert 200 in answers[:2], answers

    with running_worker(service_of(app), concurrency=4):
        for _ in range(4):
            order()
        wait_until(lambda: len(started) == 4, what="four handlers running")
        proxy.stop()
        time.sleep(0.2)
        proxy.start()
        for _ in range(8):
            order()
        wait_until(lambda: set(done) >= set(sent), timeout=15, what="every handler")
