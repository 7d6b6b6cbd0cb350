"""The application service's use cases without Flask: a real Redis, the simulator over HTTP.

Payloads are minted with the simulator's own signer at the time of a shared ManualClock, so
expiry and replay rules are exercised by moving the clock, never by sleeping.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from bcapp.clock import ManualClock
from bcapp.crypto import new_key_entry, parse_keys
from bcapp.errors import (
    BadRequest,
    NotInstalled,
    ReauthorizationRequired,
    ScopesMissing,
    Unauthorized,
)
from bcapp.service.install import InstallRequest
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.simulator.signing import jwt_claims, legacy_payload_data, legacy_signed_payload, sign_jwt
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.helpers import DEFAULT_SCOPE

OWNER = {"id": 1, "email": "owner@example.com"}
STAFF = {"id": 2, "email": "staff@example.com"}
ADDRESS = "192.0.2.1"


def install(
    service: Bcapp,
    sim: SimulatorState,
    user_id: int = 1,
    scope: str = DEFAULT_SCOPE,
    store_hash: str = "abc123",
) -> Any:
    code = sim.issue_code(store_hash, user_id, scope)
    return service.callbacks.install(InstallRequest.parse(code, scope, f"stores/{store_hash}"))


def payload(clock: ManualClock, user: dict[str, Any] = OWNER, ago: int = 0) -> str:
    """A payload BigCommerce issued `ago` seconds before the clock's now."""
    claims = jwt_claims(CLIENT_ID, "abc123", user, OWNER, now=int(clock.now()) - ago)
    return sign_jwt(claims, CLIENT_SECRET)


def test_importing_the_service_does_not_import_flask() -> None:
    probe = (
        "import sys, bcapp.service, bcapp.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_install_stores_the_grant_and_opens_for_the_installer(
    service: Bcapp, sim: SimulatorState
) -> None:
    opened = service.sessions.resume(install(service, sim).ref)
    assert opened.installation.access_token == sim.stores["abc123"].access_token
    assert opened.user.id == 1 and opened.user.is_owner
    assert service.operations.list_stores() == ["abc123"]
    details = service.operations.show_store("abc123")
    assert details is not None and [user.id for user in details.users] == [1]


def test_install_refuses_a_request_missing_a_required_scope_before_any_exchange(
    service: Bcapp, sim: SimulatorState
) -> None:
    with pytest.raises(ScopesMissing) as caught:
        install(service, sim, scope="store_v2_information_read_only")
    assert caught.value.missing == ["store_v2_products_read_only"]
    assert sim.token_requests == [] and service.operations.list_stores() == []


@pytest.mark.parametrize(
    ("code", "scope", "context"),
    [("a b", DEFAULT_SCOPE, "stores/abc123"), ("c", "<x>", "stores/abc123"), ("c", "x", "s/a")],
)
def test_install_request_validation(code: str, scope: str, context: str) -> None:
    with pytest.raises(BadRequest):
        InstallRequest.parse(code, scope, context)


def test_verify_callback_spends_a_payload_once(service: Bcapp, clock: ManualClock) -> None:
    token = payload(clock)
    claims = service.callbacks.verify(token, None)
    assert claims.store_hash == "abc123" and claims.user.id == 1
    with pytest.raises(Unauthorized) as caught:
        service.callbacks.verify(token, None)
    assert caught.value.reason == "replayed"


def test_verify_callback_follows_the_clock(service: Bcapp, clock: ManualClock) -> None:
    token = payload(clock)
    clock.advance(86400 + 31)  # past exp and the 30 s leeway
    with pytest.raises(Unauthorized) as caught:
        service.callbacks.verify(token, None)
    assert caught.value.reason == "jwt_expired"


def test_legacy_payloads_can_be_switched_off(settings: Settings, clock: ManualClock) -> None:
    data = legacy_payload_data("abc123", OWNER, OWNER, now=clock.now())
    legacy = legacy_signed_payload(data, CLIENT_SECRET)
    strict = build(replace(settings, legacy_payloads=False), clock)
    with pytest.raises(BadRequest):
        strict.callbacks.verify(None, legacy)
    strict.close()
    lenient = build(settings, clock)
    assert lenient.callbacks.verify(None, legacy).user.id == 1
    lenient.close()


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.95])
def test_a_legacy_payloads_replay_guard_outlives_its_last_valid_instant(
    make_service: Callable[..., Bcapp],
    clock: ManualClock,
    redis_client: Any,
    prefix: str,
    fraction: float,
) -> None:
    """L4: with no leeway, a payload stamped 1000.95 verifies until 1600.95; spent at 1599.5,
    its guard must live past that, not until 1600.5 (a truncated timestamp)."""
    service = make_service(jwt_leeway_seconds=0)
    stamped = int(clock.now()) - 600 + fraction
    data = legacy_payload_data("abc123", OWNER, OWNER, now=stamped) | {"timestamp": stamped}
    legacy = legacy_signed_payload(data, CLIENT_SECRET)
    clock.advance(stamped + 600 - 1.5 - clock.now())  # 1.5 s before it stops verifying
    service.callbacks.verify(None, legacy, "uninstall")
    guards = list(redis_client.scan_iter(match=f"{prefix}:{{abc123}}:seen:*"))
    assert len(guards) == 1
    still_valid_ms = (stamped + 600 - clock.now()) * 1000
    assert redis_client.pttl(guards[0]) >= still_valid_ms, "no window for a replay"


def test_open_app_provisions_staff_and_refuses_unknown_stores(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    with pytest.raises(NotInstalled):
        service.callbacks.load(payload(clock), None, ADDRESS)
    install(service, sim)
    loaded = service.callbacks.load(payload(clock, STAFF), None, ADDRESS)
    staff = service.sessions.resume(loaded.ref).user
    assert staff.id == 2 and not staff.is_owner and staff.access_id


def test_single_user_apps_refuse_staff(
    settings: Settings, sim: SimulatorState, clock: ManualClock
) -> None:
    service = build(replace(settings, multi_user=False), clock)
    install(service, sim)
    with pytest.raises(Unauthorized) as caught:
        service.callbacks.load(payload(clock, STAFF), None, ADDRESS)
    assert caught.value.reason == "user_without_access"
    service.close()


def test_a_removed_user_cannot_come_back_with_an_older_payload(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    older = payload(clock, STAFF)
    clock.advance(60)
    removal = service.callbacks.verify(payload(clock, STAFF), None)
    removed = service.callbacks.remove_user(removal)
    assert removed is False, "never provisioned, but the tombstone is kept"
    with pytest.raises(Unauthorized) as caught:
        service.callbacks.load(older, None, ADDRESS)
    assert caught.value.reason == "user_removed"
    clock.advance(60)
    assert service.callbacks.load(payload(clock, STAFF), None, ADDRESS).ref.user_id == 2


def test_the_owner_is_never_removed(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    assert service.callbacks.remove_user(service.callbacks.verify(payload(clock), None)) is False
    details = service.operations.show_store("abc123")
    assert details is not None and [user.id for user in details.users] == [1]


def test_sessions_are_revoked_by_reinstall_and_by_removal(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    owner = service.callbacks.load(payload(clock), None, ADDRESS)
    staff = service.callbacks.load(payload(clock, STAFF), None, ADDRESS)
    owner_ref, staff_ref = owner.ref, staff.ref
    assert service.sessions.resume(staff_ref).user.id == 2

    clock.advance(1)
    service.callbacks.remove_user(service.callbacks.verify(payload(clock, STAFF), None))
    with pytest.raises(Unauthorized) as removed:
        service.sessions.resume(staff_ref)
    assert removed.value.reason == "session_user_revoked"

    assert service.sessions.resume(owner_ref).user.id == 1
    install(service, sim)
    with pytest.raises(Unauthorized) as reinstalled:
        service.sessions.resume(owner_ref)
    assert reinstalled.value.reason == "session_install_revoked"


def test_a_stored_grant_that_misses_a_scope_asks_for_reauthorisation(
    settings: Settings, sim: SimulatorState, clock: ManualClock
) -> None:
    service = build(settings, clock)
    install(service, sim, scope=DEFAULT_SCOPE)
    service.close()
    wider = replace(
        settings,
        required_scopes=settings.required_scopes.parse(
            DEFAULT_SCOPE + " store_v2_orders_read_only"
        ),
    )
    demanding = build(wider, clock)
    with pytest.raises(ReauthorizationRequired):
        demanding.callbacks.load(payload(clock), None, ADDRESS)
    demanding.close()


def test_uninstall_marks_unless_a_newer_install_exists(
    service: Bcapp, sim: SimulatorState, clock: ManualClock
) -> None:
    install(service, sim)
    stale = payload(clock, ago=3600)
    assert service.callbacks.uninstall(service.callbacks.verify(stale, None)) is False
    details = service.operations.show_store("abc123")
    assert details is not None and details.installation.is_installed
    assert service.callbacks.uninstall(service.callbacks.verify(payload(clock), None)) is True
    details = service.operations.show_store("abc123")
    assert details is not None and not details.installation.is_installed, "kept, marked"
    assert service.callbacks.uninstall(service.callbacks.verify(payload(clock), None)) is False


def test_store_information_proves_the_token_and_survives_revocation(
    service: Bcapp, sim: SimulatorState, redis_client: Any, prefix: str
) -> None:
    installation = service.sessions.resume(install(service, sim).ref).installation
    assert service.stores.information(installation) == {
        "name": "Store abc123",
        "domain": "abc123.mybigcommerce.example",
        "currency": "USD",
        "currency_symbol": "$",
        "currency_symbol_location": "left",
        "decimal_places": "2",
    }
    sim.revoke("abc123")
    assert service.stores.information(installation) is not None, "remembered for 5 minutes"
    for key in redis_client.scan_iter(match=f"{prefix}:{{abc123}}:cache:*"):
        redis_client.delete(key)  # the 5 minutes are over
    assert service.stores.information(installation) is None


def test_rotate_keys_reseals_with_the_primary_key_and_names_unreadable_stores(
    settings: Settings, sim: SimulatorState, clock: ManualClock
) -> None:
    old = build(settings, clock)
    install(old, sim)
    old.close()
    new_key = parse_keys(new_key_entry())
    rotating = build(replace(settings, token_keys=new_key + settings.token_keys), clock)
    assert rotating.operations.rotate_keys().rotated == 1
    assert rotating.operations.rotate_keys().rotated == 0
    rotating.close()
    only_new = build(replace(settings, token_keys=new_key), clock)
    assert only_new.operations.show_store("abc123") is not None, "the new key alone reads it"
    only_new.close()
    lost = build(replace(settings, token_keys=parse_keys(new_key_entry())), clock)
    report = lost.operations.rotate_keys()
    assert report.rotated == 0 and report.unreadable == ["abc123"]
    lost.close()


def test_readiness_and_an_unreachable_redis(settings: Settings, clock: ManualClock) -> None:
    alive = build(settings, clock)
    assert alive.operations.ready() is True
    alive.close()
    dead = build(replace(settings, redis_url="redis://127.0.0.1:9/0"), clock)
    assert dead.operations.ready() is False
    dead.close()


def test_a_session_unused_for_the_idle_time_ends(
    settings: Settings, sim: SimulatorState, clock: ManualClock, redis_client: Any, prefix: str
) -> None:
    service = build(replace(settings, session_idle_seconds=60), clock)
    ref = install(service, sim).ref
    assert service.sessions.resume(ref).user.id == 1
    timer = f"{prefix}:{{abc123}}:session:{ref.session_id}"
    redis_client.expire(timer, 5)  # the session went unused for 55 s
    assert service.sessions.resume(ref).user.id == 1
    assert 5 < redis_client.ttl(timer) <= 60, "the request restarted the idle timer"
    redis_client.delete(timer)  # what Redis does when the idle time runs out
    with pytest.raises(Unauthorized) as idle:
        service.sessions.resume(ref)
    assert idle.value.reason == "session_idle"
    service.close()
