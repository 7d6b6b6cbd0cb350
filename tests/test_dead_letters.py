"""A failing handler is debuggable (issue 27, point 9): the worker's log lines and the dead
letter keep its traceback (bounded, redacted, never the payload or a token); `bcapp webhooks
failed` names the delivery's webhook-id and resource; `bcapp webhooks show ID` prints one.

The worker is Celery's own, in a thread of this process (tests/workers.py); the deliveries go
through the real intake, signed as BigCommerce signs them.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from bcapp import webhooks
from bcapp.broker import RUN_SIGNAL
from bcapp.cli import main
from bcapp.logs import JsonFormatter, RedactingFormatter
from bcapp.service.dead_letters import MAX_TRACEBACK_CHARS, DeadLetter, traceback_of
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import standard_webhook_headers
from tests.conftest import CLIENT_SECRET, service_of
from tests.helpers import install
from tests.servers import environment_for
from tests.workers import running_worker, wait_until

PAYLOAD_MARKER = "only-in-the-payload-7f3a"  # a field of the body no output may show


def order_delivery(webhook_id: str, order_id: int) -> tuple[bytes, dict[str, str]]:
    """A signed `store/order/created` delivery whose body carries PAYLOAD_MARKER."""
    now = int(time.time())
    body = json.dumps(
        {
            "scope": "store/order/created",
            "store_id": "1001",
            "data": {"type": "order", "id": order_id, "note": PAYLOAD_MARKER},
            "hash": "d" * 40,
            "created_at": 1_700_000_000,
            "producer": "stores/abc123",
        }
    )
    return body.encode(), standard_webhook_headers(CLIENT_SECRET, webhook_id, now, body)


def worker_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The worker's log lines as bcapp writes them: text, and JSON (both redacted)."""
    records = [record for record in caplog.records if record.name == "bcapp.worker"]
    return [RedactingFormatter().format(r) for r in records] + [
        JsonFormatter().format(r) for r in records
    ]


def test_a_failing_handler_leaves_its_traceback_in_the_log_and_the_dead_letter(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(task_retry_base=0.01, task_max_attempts=2)
    client = app.test_client()
    install(client, sim)
    token = sim.stores["abc123"].access_token or ""
    assert token, "the store holds a token the handler's client decrypts"

    def find_printer(order: dict[str, Any]) -> None:
        raise ValueError(f"order {order['id']}: the label printer refused token {token}")

    @webhooks.on("store/order/created")
    def print_label(event: webhooks.Event) -> None:
        event.api.get("v2/store")  # the token decrypted, in the run's memory
        find_printer(event.data)

    service = service_of(app)
    with running_worker(service):
        body, headers = order_delivery("msg_label", 250)
        assert client.post("/bigcommerce/webhooks", data=body, headers=headers).status_code == 200
        wait_until(lambda: service.dead_letters.failed(), what="the dead letter")

    [letter] = service.dead_letters.failed()
    assert letter.attempts == 2 and letter.error.startswith("ValueError: order 250:")
    kept = letter.traceback
    assert kept.startswith("Traceback (most recent call last):")
    assert "in print_label" in kept and "in find_printer" in kept
    assert "raise ValueError(" in kept, "the failing line's source"
    assert kept.rstrip().endswith("the label printer refused token [redacted]")
    assert "[redacted]" in letter.error

    retry, dead = (
        [r for r in caplog.records if r.name == "bcapp.worker" and phrase in r.getMessage()]
        for phrase in ("failed (attempt 1)", "is a dead letter after 2 attempts")
    )
    assert len(retry) == 1 and len(dead) == 1
    for record in (*retry, *dead):
        line = RedactingFormatter().format(record)
        assert "Traceback (most recent call last)" in line and "in find_printer" in line
    assert '"traceback": "Traceback' in JsonFormatter().format(dead[0])

    env = environment_for(settings) | {"BCAPP_TASK_MAX_ATTEMPTS": "2"}
    listed = CliRunner().invoke(main, ["webhooks", "failed"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "store/order/created (order 250)  webhook-id msg_label" in listed.output
    shown = CliRunner().invoke(main, ["webhooks", "show", letter.run_id], env=env)
    assert shown.exit_code == 0, shown.output
    for expected in (
        f"dead letter: {letter.run_id}",
        "scope:       store/order/created",
        "store:       abc123",
        "webhook-id:  msg_label",
        "resource:    order 250",
        "hash:        " + "d" * 40,
        "created:     2023-11-14T22:13:20Z",
        "attempts:    2",
        "error:       ValueError: order 250:",
        "traceback:\n  Traceback (most recent call last):",
        "    raise ValueError(",
        f"replay with: bcapp webhooks replay {letter.run_id}",
    ):
        assert expected in shown.output, expected
    assert "print_label" in shown.output
    for text in (kept, letter.error, listed.output, shown.output, *worker_lines(caplog)):
        assert token not in text and CLIENT_SECRET not in text
        assert PAYLOAD_MARKER not in text, "the payload's body is never shown nor logged"


def test_show_of_an_unknown_id_exits_1_and_changes_nothing(
    app: Flask, settings: Settings
) -> None:
    service = service_of(app)
    event = {"id": "msg_1", "store_hash": "abc123", "scope": "store/order/created", "data": {}}
    service.dead_letters.keep(DeadLetter("a" * 32, "shop:handler", event, "boom", 3, 1))
    before = service.dead_letters.failed()
    result = CliRunner().invoke(main, ["webhooks", "show", "b" * 32], env=environment_for(settings))
    assert result.exit_code == 1
    assert f"error: no dead letter {'b' * 32} (see: bcapp webhooks failed)" in result.output
    assert service.dead_letters.failed() == before


def test_a_letter_kept_before_tracebacks_is_listed_and_shown(
    app: Flask, settings: Settings
) -> None:
    """A letter written by an earlier bcapp has no traceback field (nor the newer ones)."""
    service = service_of(app)
    older = {
        "run_id": "c" * 32,
        "handler": "shop.events:order_created",
        "event": {"id": "msg_old", "store_hash": "abc123", "scope": "store/order/created",
                  "data": {"type": "order", "id": 118}, "hash": "", "created_at": 0},
        "error": "KeyError: 'billing_address'",
        "attempts": 10,
        "failed_at": 1_800_000_000,
        "task": "bcapp.handle_event",
    }
    service.task_records.keep_dead("abc123", older["run_id"], older)
    [letter] = service.dead_letters.failed()
    assert letter.traceback == "" and letter.resource_id == "118"
    env = environment_for(settings)
    listed = CliRunner().invoke(main, ["webhooks", "failed"], env=env)
    assert "(order 118)  webhook-id msg_old" in listed.output
    shown = CliRunner().invoke(main, ["webhooks", "show", "c" * 32], env=env)
    assert shown.exit_code == 0, shown.output
    assert "traceback:   none kept" in shown.output and "created:     -" in shown.output
    assert "error:       KeyError: 'billing_address'" in shown.output


def test_show_escapes_what_a_letter_holds_and_names_a_signal_run_as_one(
    app: Flask, settings: Settings
) -> None:
    """Stored values are untrusted: control characters print escaped, never sent (R7)."""
    event = {
        "id": "r" * 32,
        "store_hash": "abc123",
        "scope": "app-installed",
        "data": {"id": "7\x1b[2J"},
        "created_at": 1_800_000_000,
    }
    letter = DeadLetter(
        "r" * 32, "shop:welcome", event, "RuntimeError: \x1b]0;owned\x07", 3, 1_800_000_000,
        RUN_SIGNAL, "Traceback (most recent call last):\n  line \x1b[31mred\nRuntimeError: x\n",
    )
    service_of(app).dead_letters.keep(letter)
    env = environment_for(settings)
    shown = CliRunner().invoke(main, ["webhooks", "show", "r" * 32], env=env)
    listed = CliRunner().invoke(main, ["webhooks", "failed"], env=env)
    for output in (shown.output, listed.output):
        assert "\x1b" not in output and "\x07" not in output
        assert "\\x1b" in output
    assert "  line \\x1b[31mred" in shown.output and "resource:    id 7\\x1b[2J" in shown.output
    assert "signal:      app-installed" in shown.output and "webhook-id" not in shown.output
    assert "webhook-id" not in listed.output, "a signal's run came from no delivery"


def test_a_kept_traceback_is_bounded_to_its_innermost_frames() -> None:
    def dig(depth: int) -> None:
        if depth == 0:
            raise RuntimeError("at the bottom, token simtok_" + "e" * 32)
        deeper(depth - 1)

    def deeper(depth: int) -> None:  # two functions in turn: Python folds repeated frames
        dig(depth)

    with pytest.raises(RuntimeError) as caught:
        dig(100)
    full = "".join(traceback.format_exception(caught.value))
    kept = traceback_of(caught.value)
    assert len(full) > 3 * MAX_TRACEBACK_CHARS
    assert len(kept) <= MAX_TRACEBACK_CHARS + len("[earlier lines left out]\n")
    assert kept.startswith("[earlier lines left out]\n  File ")
    assert kept.endswith("RuntimeError: at the bottom, token [redacted]\n")
    assert "e" * 32 not in kept


CORRUPT_MARKER = "only-in-a-corrupt-letter-5e1d"  # what a corrupt letter holds; never shown


@pytest.mark.parametrize(
    "corrupt",
    [
        "not json " + CORRUPT_MARKER,
        json.dumps([CORRUPT_MARKER]),
        json.dumps({"handler": CORRUPT_MARKER}),  # no run_id
        json.dumps({"run_id": "k" * 32, "attempts": CORRUPT_MARKER, "event": {}}),
        json.dumps({"run_id": "k" * 32, "event": CORRUPT_MARKER}),
        json.dumps({"run_id": "k" * 32, "event": {"store_hash": "xyz789"}, "error": "x"}),
        json.dumps({"run_id": "j" * 32, "event": {"store_hash": "abc123"}, "error": "x"}),
        json.dumps({"run_id": "k" * 32, "failed_at": [CORRUPT_MARKER], "event": {}}),
        json.dumps({"run_id": "k" * 32, "task": "bcapp.reconcile",
                    "event": {"store_hash": "abc123"}}),
        None,  # a Redis list where a letter's string should be
    ],
    ids=["not-json", "list", "no-run-id", "attempts", "event", "other-store", "other-id", "time",
         "task", "wrong-type"],
)
def test_a_corrupt_dead_letter_is_logged_by_name_and_skipped(
    app: Flask,
    settings: Settings,
    redis_client: Any,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
    corrupt: str | None,
) -> None:
    """L10 of the fourth review: one unreadable letter made `webhooks failed` and `replay --all`
    end in a traceback, hiding every other letter. Now it is logged by its key (never its
    content), left where it is, and the others are listed and replayed."""
    service = service_of(app)
    event = {"id": "msg_ok", "store_hash": "abc123", "scope": "store/order/created", "data": {}}
    service.dead_letters.keep(DeadLetter("g" * 32, "shop:handler", event, "boom", 3, 1))
    corrupt_key = f"{prefix}:{{abc123}}:dead:{'k' * 32}"
    if corrupt is None:
        redis_client.rpush(corrupt_key, CORRUPT_MARKER)
    else:
        redis_client.set(corrupt_key, corrupt)
    env = environment_for(settings)

    listed = CliRunner().invoke(main, ["webhooks", "failed"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "g" * 32 in listed.output and "1 failed event(s)" in listed.output
    shown = CliRunner().invoke(main, ["webhooks", "show", "k" * 32], env=env)
    assert shown.exit_code == 1 and f"no dead letter {'k' * 32}" in shown.output
    replayed = CliRunner().invoke(main, ["webhooks", "replay", "--all"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "1 event(s) queued again" in replayed.output
    assert [kept.run_id for kept in service.dead_letters.failed()] == ["g" * 32], (
        "the readable letter was queued, and stays listed until its run ends (M1)"
    )
    read = redis_client.lrange if corrupt is None else redis_client.getrange
    kept = read(corrupt_key, 0, -1)
    assert kept == (corrupt or [CORRUPT_MARKER]), "the corrupt one is left as it was"
    assert service.queue.depth() == 1, "only the readable letter was queued"

    lines = [record.getMessage() for record in caplog.records if record.name.startswith("bcapp")]
    named = [line for line in lines if "corrupt dead letter" in line]
    assert named and all(f"store=abc123 run={'k' * 32}" in line for line in named), lines
    for text in (listed.output, shown.output, replayed.output, *lines):
        assert CORRUPT_MARKER not in text
