"""Two `bcapp worker` processes on one host with RabbitMQ as the broker (issue 32, Build 5):
each has a node name of its own, so both keep running (RabbitMQ's remote-control queue is
exclusive and named after the node: two workers named `celery@host` fought over it and the loser
exited), and `celery inspect` reaches each of them. Skipped loudly without a RabbitMQ."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bcapp.broker import celery_app
from bcapp.settings import Settings
from tests.servers import environment_for
from tests.test_rabbitmq import amqp_url, rabbitmq_vhost, settings  # noqa: F401 - fixtures
from tests.test_worker_process import worker_process

pytestmark = pytest.mark.slow


def test_two_workers_on_one_host_both_run_and_answer_inspect(
    settings: Settings, tmp_path: Path  # noqa: F811 - the module's RabbitMQ settings
) -> None:
    assert settings.broker_url is not None
    env = environment_for(settings) | {"BCAPP_RECEIVERS": "",
                                       "BCAPP_BROKER_URL": settings.broker_url}
    with (
        worker_process(env, tmp_path / "one.log") as one,
        worker_process(env, tmp_path / "two.log") as two,
    ):
        control = celery_app(settings, settings.redis_url).control
        deadline = time.monotonic() + 20
        replies: dict[str, object] = {}
        while time.monotonic() < deadline and len(replies) < 2:
            replies = {**replies, **{name: reply for answer in control.ping(timeout=1.0) or []
                                     for name, reply in answer.items()}}
        assert one.poll() is None and two.poll() is None, "both workers still run"
        for worker in (one, two):  # a warm stop on RabbitMQ takes seconds; nothing runs here
            worker.kill()
    assert len(replies) == 2, replies
    assert all(name.startswith("bcapp-") for name in replies), replies
