"""The app's per-store data (issue 30, Build 5): `ctx.app_data` and `event.app_data`, written
field by field, with an atomic update, so a page and a worker saving at once both keep their
changes. The worker is Celery's own, in a thread of this process (tests/workers.py)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from bcapp import webhooks
from bcapp.errors import NotInstalled
from bcapp.service.app_data import AppData
from bcapp.store.transfer import MAX_SETTING_CHARS, MAX_SETTINGS
from tests.conftest import service_of
from tests.test_app_pages import csrf_of
from tests.test_webhook_intake import deliver, order_event
from tests.workers import running_worker, wait_until

Snapshot = Callable[[], dict[str, Any]]


def data_of(app: Flask) -> AppData:
    """The app data of abc123, the store the `installed` fixture installs."""
    return service_of(app).stores.app_data("abc123")


def test_a_save_and_a_workers_event_at_once_both_keep_their_changes(
    installed: FlaskClient, app: Flask
) -> None:
    """Acceptance 5 of issue 30: the worker's handler has read the store's event list when the
    owner saves the settings page; its write then fails its WATCH and runs again on what the
    page left, so the list and the settings are both kept."""
    read, saved = threading.Event(), threading.Event()
    seen: list[str | None] = []

    @webhooks.on("store/order/created")
    def record(event: webhooks.Event) -> None:
        def change(kept: str | None) -> str:
            seen.append(kept)
            if len(seen) == 1:  # the page saves between this read and the write below
                read.set()
                saved.wait(10)
            return json.dumps([event.data["id"], *json.loads(kept or "[]")])

        event.app_data.update("recent_events", change)

    data_of(app).set("recent_events", json.dumps([249]))
    token = csrf_of(installed.get("/settings").get_data(as_text=True))  # the form, opened first
    with running_worker(service_of(app)):
        assert deliver(installed, *order_event()).json == {"status": "queued"}
        assert read.wait(10), "the handler ran"
        answer = installed.post(
            "/settings", data={"csrf_token": token, "greeting": "Hello team", "show_prices": "on"}
        )
        saved.set()
        wait_until(lambda: len(seen) == 2, what="the handler's second try")
        wait_until(lambda: "250" in data_of(app).get("recent_events", ""), what="the write")
    assert answer.status_code == 302
    assert seen == ["[249]", "[249]"], "the page's save made the handler's update run again"
    assert data_of(app).get_all() == {
        "greeting": "Hello team",
        "show_prices": "1",
        "recent_events": "[250, 249]",
    }


def test_the_examples_handler_and_settings_page_keep_each_others_writes(
    installed: FlaskClient, app: Flask
) -> None:
    """The bundled example end to end: its handler records an order in the worker through
    `event.app_data`; a settings form opened before the event is saved after it."""
    import bcapp.example_events  # noqa: F401  (declares the example's handlers)

    token = csrf_of(installed.get("/settings").get_data(as_text=True))
    with running_worker(service_of(app)):
        assert deliver(installed, *order_event()).json == {"status": "queued"}
        wait_until(lambda: data_of(app).get("recent_events"), what="the example's handler")
    saved = installed.post("/settings", data={"csrf_token": token, "greeting": "Hi"})
    assert saved.status_code == 302
    events = installed.get("/events").get_data(as_text=True)
    assert "<code>store/order/created</code> #250" in events
    kept = data_of(app).get_all()
    assert kept["greeting"] == "Hi" and kept["show_prices"] == "0"
    assert [entry["id"] for entry in json.loads(kept["recent_events"])] == [250]


def test_the_settings_page_writes_its_two_fields_and_nothing_else(
    installed: FlaskClient, app: Flask, redis_client: redis.Redis, prefix: str
) -> None:
    """What Redis receives while the owner saves: one write, naming only the form's fields (the
    old page wrote the whole hash back, `recent_events` included)."""
    data_of(app).set_many({"recent_events": "[1]", "greeting": "Old"})
    token = csrf_of(installed.get("/settings").get_data(as_text=True))
    key = f"{prefix}:{{abc123}}:settings"
    end = f"end-{uuid.uuid4().hex}"
    commands: list[str] = []
    with redis_client.monitor() as monitor:

        def watch() -> None:
            for seen in monitor.listen():
                if end in seen["command"]:
                    return
                if key in seen["command"]:
                    commands.append(seen["command"])

        watching = threading.Thread(target=watch)
        watching.start()
        answer = installed.post("/settings", data={"csrf_token": token, "greeting": "New"})
        redis_client.echo(end)
        watching.join(10)
    assert answer.status_code == 302 and not watching.is_alive()
    writes = [command for command in commands if command.split()[0] in {"HSET", "HDEL", "DEL"}]
    assert writes == [f"HSET {key} greeting New show_prices 0"]
    assert data_of(app).get_all() == {"recent_events": "[1]", "greeting": "New", "show_prices": "0"}


def test_fields_are_read_written_and_deleted_one_by_one(app: Flask) -> None:
    data = data_of(app)
    assert data.get("greeting") is None and data.get("greeting", "Hello") == "Hello"
    data.set_many({"greeting": "Hi", "show_prices": "0"})
    data.set("greeting", "Hey")
    assert data.get_all() == {"greeting": "Hey", "show_prices": "0"}
    data.delete("show_prices", "never-set")
    assert data.get_all() == {"greeting": "Hey"}
    assert data.update("count", lambda kept: str(int(kept or "0") + 1)) == "1"
    assert data.update("count", lambda kept: None) is None
    data.set_many({})
    data.delete()
    assert data.get_all() == {"greeting": "Hey"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"": "x"}, "1 to 256 printable characters"),
        ({"n" * 257: "x"}, "1 to 256 printable characters"),
        ({"new\nline": "x"}, "1 to 256 printable characters"),
        ({"greeting": "x" * (MAX_SETTING_CHARS + 1)}, "65536 characters at most"),
        ({"greeting": 1}, "maps text to text"),
        ({"fine": "x", "greeting": "x" * (MAX_SETTING_CHARS + 1)}, "65536 characters at most"),
    ],
    ids=["empty-name", "long-name", "control-name", "long-value", "not-text", "one-bad-of-two"],
)
def test_a_write_past_bcapps_sizes_is_refused_and_writes_nothing(
    app: Flask, snapshot: Snapshot, values: dict[str, Any], message: str
) -> None:
    data = data_of(app)
    data.set("greeting", "kept")
    before = snapshot()
    with pytest.raises(ValueError, match=message) as refused:
        data.set_many(values)
    assert "xxxx" not in str(refused.value), "the message never carries the value"
    name, value = list(values.items())[-1]  # the refused one
    with pytest.raises(ValueError, match=message):
        data.update(name, lambda kept: value)
    assert snapshot() == before


def test_a_store_keeps_a_thousand_fields_at_most(app: Flask, snapshot: Snapshot) -> None:
    data = data_of(app)
    data.set_many({f"field{number}": "x" for number in range(MAX_SETTINGS - 1)})
    data.set_many({"field0": "y", "last": "x"})  # one new field: exactly at the bound
    before = snapshot()
    for write in (
        lambda: data.set("one-too-many", "x"),
        lambda: data.set_many({"field1": "z", "one-too-many": "x"}),
        lambda: data.update("one-too-many", lambda kept: "x"),
    ):
        with pytest.raises(ValueError, match="1000 fields of app data at most"):
            write()
    assert snapshot() == before
    data.set("field1", "changed")  # a field it has can still change
    data.update("field2", lambda kept: "changed too")
    assert data.get("field1") == "changed" and len(data.get_all()) == MAX_SETTINGS


def test_an_event_of_a_store_uninstalled_since_writes_no_app_data(
    installed: FlaskClient, app: Flask, redis_client: redis.Redis, prefix: str
) -> None:
    """`event.app_data` is NotInstalled, like `event.api`, once the store has gone: the run
    ends without a retry and leaves no settings the purge would never delete."""
    outcomes: list[str] = []

    @webhooks.on("store/order/created")
    def record(event: webhooks.Event) -> None:
        try:
            event.app_data.set("seen", event.hash)
        except NotInstalled:
            outcomes.append("not installed")
            raise
        outcomes.append("written")

    assert deliver(installed, *order_event()).json == {"status": "queued"}
    body, headers = order_event(scope="store/app/uninstalled")
    assert deliver(installed, body, headers).json == {"status": "ended"}
    with running_worker(service_of(app)):
        wait_until(lambda: outcomes, what="the run")
    assert outcomes == ["not installed"]
    assert not redis_client.exists(f"{prefix}:{{abc123}}:settings")
    assert service_of(app).dead_letters.failed() == []
    with pytest.raises(NotInstalled):
        service_of(app).stores.installed_app_data("nostore1")


def test_an_event_built_by_hand_says_it_has_no_app_data() -> None:
    event = webhooks.Event(
        "msg_1", "abc123", "store/order/created", {}, "h", 0, 1, lambda: pytest.fail("no api")
    )
    with pytest.raises(LookupError, match="built without its store's app data"):
        event.app_data  # noqa: B018
