"""bcapp's tasks as Celery runs them (issue 30, Build 1 and 2): defined once, bound to each
deployment's Celery app with Celery's retry options; a worker builds only the tasks service
(never the callbacks' load path or abuse limits) and imports no Flask; every task that gives
up is a dead letter (a store's sync included); beat starts in a checkout without instance/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import redis
from celery.beat import PersistentScheduler
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from bcapp import webhooks
from bcapp.broker import HANDLE_EVENT, RUN_SIGNAL, SYNC_STORE
from bcapp.cli import main
from bcapp.errors import ApiError, StoreUnavailable
from bcapp.service.webhooks import verify_delivery
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.worker import BcappTask, application
from tests.conftest import CLIENT_SECRET, service_of
from tests.helpers import install
from tests.servers import environment_for, free_port
from tests.test_webhook_intake import deliver, order_event, queued
from tests.workers import running_worker, wait_until


def test_importing_the_worker_imports_no_flask() -> None:
    """Acceptance 2 of issue 30 (the import-linter contract says it too, pyproject.toml)."""
    code = "import bcapp.worker, sys; print('flask' in sys.modules, 'werkzeug' in sys.modules)"
    ran = subprocess.run(  # a fresh interpreter: this one imported Flask for the tests
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["False", "False"]


def test_a_worker_runs_webhooks_and_drops_duplicates_without_the_callbacks_service(
    installed: FlaskClient,
    make_service: Callable[..., Bcapp],
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    """The worker's deployment, apart from the web one, runs the handler once for an event
    delivered twice (the retry took the event's claim over: the first delivery's task and a
    task under a receipt nobody claims drop) and builds nothing of the callbacks: no load
    path, no abuse limits, no sessions."""
    runs: list[str] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.id)

    made = int(time.time())
    first = order_event("msg_first", "f" * 40, created_at=made)
    # BigCommerce's retry: a new id, the same event (hash and time).
    again = order_event("msg_again", "f" * 40, created_at=made)
    assert deliver(installed, *first).json == {"status": "queued"}
    assert deliver(installed, *again).json == {"status": "duplicate"}  # its tasks run nothing
    worker = make_service()
    # A task queued under a receipt that holds no claim (its delivery's claim was taken over).
    racing = verify_delivery(*again, [CLIENT_SECRET], time.time()).as_event()
    assert worker.tasks.queue_handlers(racing, "receipt-of-an-outrun-delivery") == 1
    assert queued(redis_client, prefix) == 4, "the install's sync, the first's, the retry's, one"
    with running_worker(worker):
        wait_until(lambda: runs and queued(redis_client, prefix) == 0, what="the tasks taken")
        time.sleep(0.3)  # room for a wrong second run
    assert runs == ["msg_again"], "the claim's own delivery runs the event"
    built = set(vars(worker))
    assert "tasks" in built, "the runs went through the tasks service"
    assert {"callbacks", "sessions", "operations"}.isdisjoint(built), built


def test_tasks_are_defined_once_and_bound_with_celerys_retry_options(
    make_service: Callable[..., Bcapp],
) -> None:
    one = make_service(task_max_attempts=4, task_retry_base=3.0, task_visibility_timeout=100)
    other = make_service()
    mine, theirs = application(one), application(other)
    for name in (HANDLE_EVENT, RUN_SIGNAL, SYNC_STORE):
        task = mine.tasks[name]
        assert isinstance(task, BcappTask) and task.app is mine and task.deployment is one
        assert theirs.tasks[name].deployment is other, "each app runs its own deployment"
        assert task.max_retries == 3, "four runs in all"
        assert task.retry_backoff == 3.0 and task.retry_jitter is True
        assert task.retry_backoff_max == 50, "half the visibility timeout"
        assert task.acks_late is True and task.reject_on_worker_lost is True
    assert mine.tasks[HANDLE_EVENT].autoretry_for == (Exception,)
    assert mine.tasks[SYNC_STORE].autoretry_for == (ApiError, StoreUnavailable)
    assert theirs.tasks[HANDLE_EVENT].max_retries == other.settings.task_max_attempts - 1


def test_a_store_sync_that_gives_up_is_a_dead_letter_and_replays(
    app: Flask,
    make_service: Callable[..., Bcapp],
    sim: SimulatorState,
    settings: Settings,
) -> None:
    """`sync_store` used to end without a trace when BigCommerce kept failing; its
    `on_failure` now keeps it, and a replay subscribes the store."""
    webhooks.on("store/order/created")(lambda event: None)
    assert install(app.test_client(), sim).status_code == 302  # queues the store's sync
    unreachable = f"http://127.0.0.1:{free_port()}"
    broken = make_service(api_url=unreachable, task_max_attempts=2, task_retry_base=0.01)
    with running_worker(broken):
        wait_until(lambda: broken.dead_letters.failed(), what="the sync's dead letter")
    [letter] = broken.dead_letters.failed()
    assert letter.task == SYNC_STORE and letter.store_hash == "abc123"
    assert letter.attempts == 2 and letter.error.startswith("ApiError")
    assert "Traceback (most recent call last)" in letter.traceback
    assert not sim.stores["abc123"].hooks, "nothing subscribed yet"

    env = environment_for(settings)
    shown = CliRunner().invoke(main, ["webhooks", "show", letter.run_id], env=env)
    assert shown.exit_code == 0, shown.output
    assert "task:        bcapp.sync_store (store sync after an install)" in shown.output
    assert "webhook-id" not in shown.output
    service = service_of(app)
    with running_worker(service):
        assert [kept.run_id for kept in service.dead_letters.replay(letter.run_id)] == [
            letter.run_id
        ]
        wait_until(lambda: sim.stores["abc123"].hooks, what="the replayed sync")
    assert service.dead_letters.failed() == []


def test_a_dead_letter_keeps_the_name_of_an_error_celery_cannot_pickle(
    installed: FlaskClient, make_app: Callable[..., Flask]
) -> None:
    """Celery hands `on_failure` a picklable stand-in for such an error; the letter keeps the
    error as raised."""

    class LabelError(Exception):
        def __init__(self, order: int, why: str) -> None:
            super().__init__(f"order {order}: {why}")  # unpickles as LabelError(msg): fails

    @webhooks.on("store/order/created")
    def print_label(event: webhooks.Event) -> None:
        raise LabelError(250, "no printer")

    app = make_app(task_max_attempts=1)
    service = service_of(app)
    with running_worker(service):
        assert deliver(app.test_client(), *order_event()).status_code == 200
        wait_until(lambda: service.dead_letters.failed(), what="the dead letter")
    [letter] = service.dead_letters.failed()
    assert letter.error == "LabelError: order 250: no printer"
    assert letter.traceback.rstrip().endswith("LabelError: order 250: no printer")
    assert "in print_label" in letter.traceback


def test_a_run_waits_for_redis_past_its_attempts_and_then_runs(
    installed: FlaskClient,
    make_app: Callable[..., Flask],
    app: Flask,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With one attempt allowed, a worker that cannot reach Redis still retries (twice here)
    instead of giving the run up: Celery's `max_retries` is lifted for that retry only."""
    runs: list[int] = []

    @webhooks.on("store/order/created")
    def remember(event: webhooks.Event) -> None:
        runs.append(event.attempt)

    assert deliver(installed, *order_event("msg_wait")).json == {"status": "queued"}
    blind = make_app(
        redis_url="redis://127.0.0.1:9/0", broker_url=redis_url, task_max_attempts=1,
        task_retry_base=0.01,
    )
    blind_app = application(service_of(blind))
    with running_worker(service_of(blind)):
        wait_until(lambda: caplog.text.count("waits for Redis") >= 2, what="two waits")
    given_up = [r.getMessage() for r in caplog.records if "is a dead letter" in r.getMessage()]
    assert runs == [] and not [line for line in given_up if "remember" in line], given_up
    assert not hasattr(blind_app.tasks[HANDLE_EVENT], "override_max_retries")
    with running_worker(service_of(app)):
        wait_until(lambda: runs, what="the run")
    assert len(runs) == 1 and runs[0] >= 3, "the waits were retries of the same run"
    assert service_of(app).dead_letters.failed() == []


def test_beat_starts_in_a_checkout_without_an_instance_directory(
    make_service: Callable[..., Bcapp], settings: Settings
) -> None:
    """`bcapp worker --beat` keeps its schedule in the instance directory, which a fresh
    checkout (REDIS_URL set, so no embedded Redis made it) does not have yet."""
    fresh = settings.instance_dir / "fresh-checkout" / "instance"
    app = application(make_service(instance_dir=fresh), reconcile_every=60)
    scheduler: Any = PersistentScheduler(app=app, schedule_filename=app.conf.beat_schedule_filename)
    try:
        assert "bcapp-reconcile" in scheduler.schedule
    finally:
        scheduler.close()
    assert app.conf.beat_schedule_filename.startswith(str(fresh))
    assert any(path.name.startswith("celerybeat-schedule") for path in fresh.iterdir())


def test_the_retry_wait_follows_celerys_full_jitter(settings: Settings) -> None:
    """`retry_wait` (the Redis wait) is Celery's rule: uniform whole seconds in
    [0, min(cap, base * 2^(attempt-1))]."""
    from bcapp.worker import retry_wait

    base = replace(settings, task_retry_base=2.0, task_visibility_timeout=3600)
    assert {retry_wait(3, base) for _ in range(400)} == set(range(9))  # 0..2*2^2
    assert {retry_wait(1, base) for _ in range(200)} == {0, 1, 2}
