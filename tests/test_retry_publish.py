"""A retry the broker refuses to take (L7 of the fourth review).

Celery publishes a retry as a new message and acknowledges the running one; when the publish
fails, its `retry()` rejects the running message without requeueing it, and the event is lost
with no dead letter. Here the worker's broker user may do everything but push onto a list
(Redis ACL `-lpush -rpush`), so its retry publish is refused while its acknowledgements work: the
run must be put back (or stay unacknowledged) and run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from bcapp import webhooks
from bcapp.service.webhooks import verify_delivery
from bcapp.service.wiring import Bcapp
from tests.conftest import CLIENT_SECRET
from tests.servers import redis_server
from tests.test_webhook_intake import order_event
from tests.workers import running_worker, wait_until

pytestmark = pytest.mark.slow
PUSHLESS_PASSWORD = "pushless-broker-pw-2468"


def test_a_retry_the_broker_refuses_is_put_back_not_lost(
    installed: FlaskClient,
    make_service: Callable[..., Bcapp],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []

    @webhooks.on("store/order/created")
    def fails_first(event: webhooks.Event) -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            raise RuntimeError("the first attempt fails")

    rules = ["~*", "&*", "+@all", "-lpush", "-rpush"]
    with redis_server(
        tmp_path, "--user", "pushless", "on", f">{PUSHLESS_PASSWORD}", *rules
    ) as broker:
        pushless = broker.replace("redis://", f"redis://pushless:{PUSHLESS_PASSWORD}@", 1)
        options = {"task_retry_base": 0.01, "task_visibility_timeout": 4}
        healthy = make_service(broker_url=broker, **options)
        refused = make_service(broker_url=pushless, **options)
        event = verify_delivery(*order_event("msg_l7", "7" * 40), [CLIENT_SECRET], time.time())
        assert healthy.tasks.queue_handlers(event.as_event(), "receipt-l7") == 1
        with running_worker(refused):
            wait_until(lambda: "reject requeue=" in caplog.text, what="the refused retry")
        assert runs == [1]
        # Put back (here its requeue is refused too: it stays unacknowledged until the
        # visibility timeout); Celery alone acknowledged it: never run again.
        with running_worker(healthy):
            wait_until(lambda: runs == [1, 2], timeout=15, what="the event, run again")
        assert "its retry could not be queued" in caplog.text
        assert healthy.dead_letters.failed() == []
        assert PUSHLESS_PASSWORD not in caplog.text
        redis.Redis.from_url(broker).close()
