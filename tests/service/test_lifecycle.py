"""Uninstall integrity without Flask: forged, missed and racing lifecycle events (R9, R13).

A real Redis, the simulator over HTTP and one ManualClock shared by both, so "later" is a call
to `clock.advance`, not a sleep.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from bcapp import signals
from bcapp.clock import ManualClock
from bcapp.errors import BadRequest, NotInstalled, Unauthorized
from bcapp.service.install import InstallRequest
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import jwt_claims, sign_jwt, standard_webhook_headers
from bcapp.store.ephemeral import RedisShortLivedRecords
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import DEFAULT_SCOPE
from tests.workers import running_worker, wait_until

OWNER = {"id": 1, "email": "owner@example.com"}
STAFF = {"id": 2, "email": "staff@example.com"}
ADDRESS = "192.0.2.1"
GRACE = 3600


@pytest.fixture
def service(make_service: Callable[..., Bcapp]) -> Bcapp:
    """Services with a short grace period."""
    return make_service(uninstall_grace_seconds=GRACE)


@pytest.fixture
def heard() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every lifecycle signal sent during the test: (signal, store hash, arguments)."""
    events: list[tuple[str, str, dict[str, Any]]] = []
    receivers = {}
    for name in ("app_uninstalled", "app_reinstated", "installation_purged", "app_installed"):

        def receive(sender: str, _name: str = name, **kwargs: Any) -> None:
            events.append((_name, sender, kwargs))

        receivers[name] = receive
        getattr(signals, name).connect(receive)
    yield events
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def install(
    service: Bcapp, sim: SimulatorState, user_id: int = 1, scope: str = DEFAULT_SCOPE
) -> Any:
    code = sim.issue_code("abc123", user_id, scope)
    return service.callbacks.install(InstallRequest.parse(code, scope, "stores/abc123"))


def payload(clock: ManualClock, user: dict[str, Any] = OWNER, owner: dict[str, Any] = OWNER) -> str:
    claims = jwt_claims(CLIENT_ID, "abc123", user, owner, now=int(clock.now()))
    return sign_jwt(claims, CLIENT_SECRET)


def names(heard: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [name for name, _, _ in heard if name != "app_installed"]


# --- 1. no irrecoverable damage from one payload ---------------------------------------------


def test_a_forged_uninstall_costs_the_merchant_only_until_the_next_open(
    service: Bcapp,
    sim: SimulatorState,
    clock: ManualClock,
    heard: list[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = install(service, sim).ref
    clock.advance(3600)  # the app has been installed for an hour
    forged = service.callbacks.verify(payload(clock, STAFF), None, "uninstall")
    assert service.callbacks.uninstall(forged) is True
    with pytest.raises(Unauthorized) as revoked:
        service.sessions.resume(session)
    assert revoked.value.reason == "session_install_revoked"

    clock.advance(60)  # the owner opens the app a minute later
    reopened = service.sessions.resume(service.callbacks.load(payload(clock), None, ADDRESS).ref)
    assert reopened.installation.is_installed
    assert service.stores.information(reopened.installation) is not None, "the token still works"
    assert names(heard) == ["app_uninstalled", "app_reinstated"]
    assert heard[-1][2] == {"user_id": 1, "uninstalled_by": 2}
    assert "SECURITY store=abc123 reinstated" in caplog.text and "by user=2" in caplog.text


def test_a_payload_issued_before_a_genuine_uninstall_is_refused(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    clock.advance(3600)
    kept = payload(clock)
    sim.revoke("abc123")  # BigCommerce uninstalls, then calls
    assert service.callbacks.uninstall(service.callbacks.verify(payload(clock), None, "uninstall"))
    clock.advance(5)
    with pytest.raises(NotInstalled):
        service.callbacks.load(kept, None, ADDRESS)


def test_after_the_grace_reconcile_purges_once_and_nothing_remains(
    service: Bcapp,
    sim: SimulatorState,
    clock: ManualClock,
    heard: list[Any],
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    install(service, sim)
    clock.advance(3600)
    sim.revoke("abc123")
    service.callbacks.uninstall(service.callbacks.verify(payload(clock), None, "uninstall"))
    clock.advance(GRACE - 1)
    assert service.operations.reconcile().purged == 0, "not before the grace ends"
    clock.advance(1)
    assert service.operations.reconcile().purged == 1
    assert service.operations.reconcile().purged == 0
    assert names(heard) == ["app_uninstalled", "installation_purged"]
    lasting = [
        key
        for key in redis_client.scan_iter(match=f"{prefix}:*")
        if redis_client.ttl(key) == -1 and ":hits:" not in key and ":broker:" not in key
    ]  # the broker's keys are Celery's queue (a subscription task waits there), not a store's
    assert lasting == []
    assert service.operations.show_store("abc123") is None


def test_a_forged_uninstall_nobody_undid_is_reinstated_by_reconcile_not_purged(
    service: Bcapp,
    sim: SimulatorState,
    clock: ManualClock,
    heard: list[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """M1: a staff member's load payload sent to /uninstall, and nobody opens the app during
    the grace: the token still works at BigCommerce, so reconcile reinstates instead of purging."""
    install(service, sim)
    clock.advance(3600)
    forged = service.callbacks.verify(payload(clock, STAFF), None, "uninstall")
    assert service.callbacks.uninstall(forged)
    clock.advance(GRACE)
    report = service.operations.reconcile()
    assert (report.purged, report.reinstated) == (0, 1)
    assert names(heard) == ["app_uninstalled", "app_reinstated"]
    assert heard[-1][2] == {"user_id": None, "uninstalled_by": 2}
    assert "SECURITY store=abc123 reinstated by reconcile" in caplog.text
    details = service.operations.show_store("abc123")
    assert details is not None and details.installation.is_installed and len(details.users) == 1
    clock.advance(60)
    assert service.callbacks.load(payload(clock), None, ADDRESS).ref.user_id == 1


def test_a_forged_uninstall_is_not_purged_while_its_token_cannot_be_probed(
    make_service: Callable[..., Bcapp], service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    clock.advance(3600)
    service.callbacks.uninstall(service.callbacks.verify(payload(clock, STAFF), None, "uninstall"))
    clock.advance(GRACE)
    offline = make_service(uninstall_grace_seconds=GRACE, api_url="http://127.0.0.1:9")
    report = offline.operations.reconcile()
    assert (report.purged, report.errors) == (0, ["abc123"]), "kept, and said so"
    sim.revoke("abc123")  # BigCommerce really uninstalled it
    assert service.operations.reconcile().purged == 1, "a 401 confirms it: purged"


# --- 2. missed uninstalls: reconcile and the webhook -------------------------------------------


def test_reconcile_ends_a_store_whose_token_was_revoked_and_leaves_healthy_ones(
    service: Bcapp, sim: SimulatorState, clock: ManualClock, heard: list[Any]
) -> None:
    sim.add_store("xyz789", owner_id=7)
    install(service, sim)
    code = sim.issue_code("xyz789", 7, DEFAULT_SCOPE)
    service.callbacks.install(InstallRequest.parse(code, DEFAULT_SCOPE, "stores/xyz789"))
    sim.revoke("abc123")  # uninstalled on BigCommerce; the callback never came

    report = service.operations.reconcile()
    assert (report.probed, report.healthy, report.ended, report.errors) == (2, 1, 1, [])
    ended = service.operations.show_store("abc123")
    healthy = service.operations.show_store("xyz789")
    assert ended is not None and ended.installation.uninstall is not None
    assert ended.installation.uninstall.source == "reconcile"
    assert healthy is not None and healthy.installation.is_installed
    assert heard[-1][:2] == ("app_uninstalled", "abc123") and heard[-1][2]["source"] == "reconcile"


def test_reconcile_is_bounded_resumable_and_done_once_by_concurrent_runs(
    settings: Settings, service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    for store_hash in ("abc123", "bbb222", "ccc333"):
        if store_hash not in sim.stores:
            sim.add_store(store_hash, owner_id=1)
        code = sim.issue_code(store_hash, 1, DEFAULT_SCOPE)
        service.callbacks.install(InstallRequest.parse(code, DEFAULT_SCOPE, f"stores/{store_hash}"))
    other = build(replace(settings, uninstall_grace_seconds=GRACE), clock)
    first = service.operations.reconcile(limit=2)
    second = other.operations.reconcile(limit=2)
    third = service.operations.reconcile(limit=2)
    other.close()
    assert (first.probed, first.deferred) == (2, 1)
    assert (second.probed, second.skipped) == (1, 2), "the other run takes what is left"
    assert (third.probed, third.skipped) == (0, 3), "nothing is probed twice in an interval"


def test_a_reconcile_failure_is_counted_not_fatal(
    settings: Settings, service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    offline = build(replace(settings, api_url="http://127.0.0.1:9"), clock)
    report = offline.operations.reconcile()
    offline.close()
    assert report.errors == ["abc123"] and report.ended == 0


def webhook(
    clock: ManualClock, secret: str = CLIENT_SECRET, webhook_id: str = "msg_1", skew: int = 0
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "scope": "store/app/uninstalled",
            "store_id": "1001",
            "data": {"type": "store", "id": 0},
            "hash": "d41d8cd98f00b204e9800998ecf8427e",
            "created_at": int(clock.now()),
            "producer": "stores/abc123",
        }
    )
    headers = standard_webhook_headers(secret, webhook_id, int(clock.now()) + skew, body)
    return body.encode(), {key.lower(): value for key, value in headers.items()}


def test_the_uninstalled_webhook_ends_the_installation_once(
    service: Bcapp, sim: SimulatorState, clock: ManualClock, heard: list[Any]
) -> None:
    install(service, sim)
    clock.advance(60)
    body, headers = webhook(clock)
    assert service.callbacks.receive_webhook(body, headers) == "ended"
    assert service.callbacks.receive_webhook(body, headers) == "duplicate"
    assert names(heard) == ["app_uninstalled"]
    clock.advance(60)
    with pytest.raises(NotInstalled):  # a cancelled store is never reinstated by a load
        service.callbacks.load(payload(clock), None, ADDRESS)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"secret": "not-the-client-secret-at-all"}, Unauthorized),
        ({"skew": -301}, BadRequest),
        ({"skew": 400}, BadRequest),
    ],
)
def test_forged_or_stale_webhooks_change_nothing(
    service: Bcapp,
    sim: SimulatorState,
    clock: ManualClock,
    change: dict[str, Any],
    error: type[Exception],
    snapshot: Any,
) -> None:
    install(service, sim)
    before = snapshot()
    body, headers = webhook(clock, **change)
    with pytest.raises(error):
        service.callbacks.receive_webhook(body, headers)
    tampered = body.replace(b"abc123", b"abc124")
    with pytest.raises(Unauthorized):
        service.callbacks.receive_webhook(tampered, webhook(clock)[1])
    assert snapshot() == before


def test_a_subscription_to_the_uninstalled_webhook_follows_each_install(
    service: Bcapp, sim: SimulatorState, settings: Settings
) -> None:
    hooks = sim.stores["abc123"].hooks
    with running_worker(service):
        install(service, sim)
        wait_until(lambda: len(hooks) == 1, what="the first install's subscription")
        install(service, sim)  # a re-install subscribes its new token once
        wait_until(lambda: len(hooks) == 2, what="the re-install's subscription")
    assert [(hook.scope, hook.destination) for hook in hooks] == [
        ("store/app/uninstalled", settings.app_url + "/bigcommerce/webhooks")
    ] * 2
    assert hooks[0].token != hooks[1].token


# --- 3. race-free lifecycle --------------------------------------------------------------------


class RemovalDuringFirstLoad(RedisShortLivedRecords):
    """Removes the user the first time a first load has read the tombstone, before it writes."""

    def __init__(self, inner: RedisShortLivedRecords, remover: Any) -> None:
        self.__dict__.update(inner.__dict__)
        self._remover = remover

    def removal_time(self, store_hash: str, raw: str | bytes | None) -> int | None:  # type: ignore[override]
        remover, self._remover = self._remover, None
        if remover is not None:
            remover()
        return RedisShortLivedRecords.removal_time(store_hash, raw)


def test_a_removal_between_a_first_loads_check_and_write_wins(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    first_load = payload(clock, STAFF)
    clock.advance(1)
    removal = service.callbacks.verify(payload(clock, STAFF), None, "remove-user")
    users = service._records.users
    users._tombstones = RemovalDuringFirstLoad(  # type: ignore[attr-defined]
        users._tombstones,  # type: ignore[attr-defined]
        lambda: service.callbacks.remove_user(removal),
    )
    with pytest.raises(Unauthorized) as refused:
        service.callbacks.load(first_load, None, ADDRESS)
    assert refused.value.reason == "user_removed"
    details = service.operations.show_store("abc123")
    assert details is not None and [user.id for user in details.users] == [1]


def test_an_uninstall_during_the_code_exchange_is_not_lost(
    service: Bcapp, sim: SimulatorState, clock: ManualClock, heard: list[Any]
) -> None:
    install(service, sim)
    clock.advance(3600)

    def uninstall_now() -> None:
        sim.on_token_request = None
        service.callbacks.uninstall(service.callbacks.verify(payload(clock), None, "uninstall"))

    sim.on_token_request = uninstall_now
    with pytest.raises(NotInstalled) as refused:
        install(service, sim)
    assert refused.value.reason == "uninstalled_during_install"
    details = service.operations.show_store("abc123")
    assert details is not None and not details.installation.is_installed
    assert details.installation.access_token == sim.stores["abc123"].access_token


def test_remove_user_follows_the_payloads_owner_not_a_stored_flag(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)  # user 1 installed and is stored as owner
    service.callbacks.load(payload(clock, STAFF), None, ADDRESS)
    new_owner = STAFF
    former = service.callbacks.verify(payload(clock, OWNER, owner=new_owner), None, "remove-user")
    assert service.callbacks.remove_user(former) is True, "the former owner can be removed"
    staff_payload = payload(clock, STAFF, owner=new_owner)
    owner_now = service.callbacks.verify(staff_payload, None, "remove-user")
    assert service.callbacks.remove_user(owner_now) is False, "the new owner cannot"


def test_the_replay_guard_lives_as_long_as_the_payload_verifies(
    service: Bcapp, redis_client: redis.Redis, prefix: str, clock: ManualClock
) -> None:
    clock.advance(0.9)  # a fractional now: the TTL is rounded up, never down
    claims = service.callbacks.verify(payload(clock), None)
    [guard] = list(redis_client.scan_iter(match=f"{prefix}:*:seen:*"))
    remaining = claims.expires_at + service.settings.jwt_leeway_seconds - clock.now()
    assert redis_client.ttl(guard) >= int(remaining)
