"""Lifecycle signal receivers as tasks (issue 18, Build 5): `connect_task` receivers are queued
by the callbacks that send the signal and run in a worker, with retries and dead letters; off
the request path (the CLI, reconcile) they run at once; a broker outage runs them in the
request rather than losing them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from bcapp import signals
from bcapp.simulator import SimulatorState
from tests.conftest import service_of
from tests.helpers import install, signed
from tests.servers import free_port
from tests.workers import running_worker, wait_until


def test_an_install_queues_its_task_receiver_and_a_worker_runs_it(
    app: Flask, sim: SimulatorState
) -> None:
    heard: list[tuple[str, dict[str, Any]]] = []
    in_request = threading.get_ident()

    def welcome(store_hash: str, **fields: Any) -> None:
        heard.append((store_hash, fields))
        assert threading.get_ident() != in_request, "not in the request's thread"

    signals.app_installed.connect_task(welcome)
    client = app.test_client()
    assert install(client, sim).status_code == 302
    assert heard == [], "the install answered without running it"
    with running_worker(service_of(app)):
        wait_until(lambda: heard, what="the task receiver")
    assert heard == [("abc123", {"user_id": 1, "user_email": "owner@example.com"})]


def test_a_failing_task_receiver_is_retried_then_a_dead_letter_and_replayable(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    app = make_app(task_retry_base=0.01, task_max_attempts=2)
    client = app.test_client()
    install(client, sim)
    runs: list[str] = []
    fixed = threading.Event()

    def pause(store_hash: str, **fields: Any) -> None:
        runs.append(fields["source"])
        if not fixed.is_set():
            raise RuntimeError("the job queue is down")

    signals.app_uninstalled.connect_task(pause)
    assert client.get(f"/bigcommerce/uninstall?signed_payload_jwt={signed()}").status_code == 200
    service = service_of(app)
    with running_worker(service):
        wait_until(lambda: service.dead_letters.failed(), what="the dead letter")
        [letter] = service.dead_letters.failed()
        assert letter.scope == "app-uninstalled" and "job queue is down" in letter.error
        assert runs == ["callback", "callback"]
        fixed.set()
        assert service.dead_letters.replay(letter.run_id) == [letter]
        wait_until(lambda: len(runs) == 3, what="the replayed run")
    assert service.dead_letters.failed() == []


def test_off_the_request_path_task_receivers_run_at_once(
    app: Flask, sim: SimulatorState
) -> None:
    heard: list[str] = []
    signals.installation_purged.connect_task(lambda store_hash, **fields: heard.append(store_hash))
    signals.installation_purged.send("abc123")  # as reconcile sends it, from the CLI or beat
    assert heard == ["abc123"]


def test_with_the_broker_down_the_receiver_runs_in_the_request_and_its_failure_is_logged(
    make_app: Callable[..., Flask], sim: SimulatorState
) -> None:
    heard: list[int] = []

    def welcome(store_hash: str, **fields: Any) -> None:
        heard.append(fields["user_id"])
        raise RuntimeError("mail server down")

    signals.app_installed.connect_task(welcome)
    app = make_app(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    assert install(app.test_client(), sim).status_code == 302, "the install still succeeds"
    assert heard == [1]
