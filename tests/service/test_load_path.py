"""The load path: one Redis round trip for a returning user, and the full path for the rest;
and the session check of every app page, one round trip too.

Round trips are counted with Redis's own MONITOR, which shows each command a client sends
(commands a script runs are marked `lua` and are not round trips).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import redis

from bcapp.clock import ManualClock
from bcapp.crypto import TokenCipher, new_key_entry, parse_keys
from bcapp.errors import NotInstalled, ReauthorizationRequired, TooManyRequests, Unauthorized
from bcapp.service.wiring import Bcapp, build
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store.records import installation_fields
from tests.helpers import Monitor
from tests.service.test_service import ADDRESS, STAFF, install, payload


def keys_of(client: redis.Redis, prefix: str, kind: str) -> list[str]:
    return list(client.scan_iter(match=f"{prefix}:{{abc123}}:{kind}*"))


def test_a_returning_user_loads_in_one_round_trip_and_the_handoff_works(
    service: Bcapp, sim: SimulatorState, clock: ManualClock, redis_client: Any, prefix: str
) -> None:
    install(service, sim)
    with Monitor(redis_client, prefix) as first:
        service.callbacks.load(payload(clock), None, ADDRESS)
    assert first.commands in (["EVALSHA"], ["EVALSHA", "EVALSHA"]), "+ SCRIPT LOAD once per server"
    with Monitor(redis_client, prefix) as seen:
        loaded = service.callbacks.load(payload(clock), None, ADDRESS)
    assert seen.commands == ["EVALSHA"]
    assert loaded.ref.user_id == 1 and loaded.url == "/"
    ref, opened = service.sessions.redeem_handoff(loaded.handoff)
    assert ref == loaded.ref and opened.user.is_owner
    assert keys_of(redis_client, prefix, f"session:{ref.session_id}")


def test_resuming_a_session_is_one_round_trip_and_an_idle_one_is_refused(
    service: Bcapp, sim: SimulatorState, clock: ManualClock, redis_client: Any, prefix: str
) -> None:
    install(service, sim)
    ref = service.callbacks.load(payload(clock), None, ADDRESS).ref
    with Monitor(redis_client, prefix) as seen:
        opened = service.sessions.resume(ref)
    assert seen.commands == ["EXPIRE", "GET", "HGET"], "the one pipeline's commands, no other"
    token = sim.stores["abc123"].access_token
    assert opened.user.id == 1 and opened.installation.access_token == token
    redis_client.delete(f"{prefix}:{{abc123}}:session:{ref.session_id}")  # idled out
    with pytest.raises(Unauthorized) as idle:
        service.sessions.resume(ref)
    assert idle.value.reason == "session_idle"


def sessions_and_handoffs(redis_client: Any, prefix: str) -> list[str]:
    return keys_of(redis_client, prefix, "session:") + keys_of(redis_client, prefix, "handoff:")


def test_a_first_load_takes_the_full_path_and_the_second_is_fast(
    service: Bcapp, sim: SimulatorState, clock: ManualClock, redis_client: Any, prefix: str
) -> None:
    install(service, sim)
    with Monitor(redis_client, prefix) as first:
        service.callbacks.load(payload(clock, STAFF), None, ADDRESS)
    assert first.commands[0] == "EVALSHA" and len(first.commands) > 1, "provisioned"
    with Monitor(redis_client, prefix) as second:
        service.callbacks.load(payload(clock, STAFF), None, ADDRESS)
    assert second.commands == ["EVALSHA"]


def test_a_grant_missing_a_newly_required_scope_undoes_the_session(
    settings: Settings, sim: SimulatorState, clock: ManualClock, redis_client: Any, prefix: str
) -> None:
    install(build(settings, clock), sim)
    before = sessions_and_handoffs(redis_client, prefix)  # the install's own session
    wider = settings.required_scopes.parse(str(settings.required_scopes) + " store_v2_orders")
    demanding = build(replace(settings, required_scopes=wider), clock)
    with pytest.raises(ReauthorizationRequired):
        demanding.callbacks.load(payload(clock), None, ADDRESS)
    assert sessions_and_handoffs(redis_client, prefix) == before, "the load opened nothing"
    demanding.close()


def test_a_token_sealed_with_a_key_no_longer_held_is_not_installed(
    settings: Settings, sim: SimulatorState, clock: ManualClock, redis_client: Any, prefix: str
) -> None:
    install(build(settings, clock), sim)
    before = sessions_and_handoffs(redis_client, prefix)  # the install's own session
    record = redis_client.get(f"{prefix}:{{abc123}}:installation")
    sealed = installation_fields(record)["access_token"]
    assert TokenCipher(settings.token_keys).holds_key_for(sealed)
    rekeyed = build(replace(settings, token_keys=parse_keys(new_key_entry())), clock)
    with pytest.raises(NotInstalled):
        rekeyed.callbacks.load(payload(clock), None, ADDRESS)
    assert sessions_and_handoffs(redis_client, prefix) == before, "the load opened nothing"
    rekeyed.close()


@pytest.mark.parametrize(
    "damage", [{"scopes": ["not", "a", "string"]}, {"updated_at": "yesterday"}]
)
def test_a_corrupt_record_the_script_accepted_is_not_installed_and_opens_nothing(
    service: Bcapp,
    sim: SimulatorState,
    clock: ManualClock,
    redis_client: Any,
    prefix: str,
    damage: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(service, sim)
    before = sessions_and_handoffs(redis_client, prefix)  # the install's own session
    key = f"{prefix}:{{abc123}}:installation"
    record = json.loads(redis_client.get(key))
    redis_client.set(key, json.dumps(record | damage))
    with pytest.raises(NotInstalled):
        service.callbacks.load(payload(clock), None, ADDRESS)
    assert sessions_and_handoffs(redis_client, prefix) == before, "the load opened nothing"
    assert caplog.text.count("corrupt installation record for store=abc123") == 1, "logged once"


def refused_over_a_limit(
    settings: Settings, sim: SimulatorState, clock: ManualClock, **limit: int
) -> tuple[Bcapp, str, TooManyRequests]:
    """A service with a limit of 1, one load spent, and a second payload refused with 429."""
    limited = build(replace(settings, **limit), clock)
    install(limited, sim)
    limited.callbacks.load(payload(clock), None, ADDRESS)
    kept = payload(clock)
    with pytest.raises(TooManyRequests) as caught:
        limited.callbacks.load(kept, None, ADDRESS)
    return limited, kept, caught.value


def test_an_address_over_its_limit_spends_nothing(
    settings: Settings, sim: SimulatorState, clock: ManualClock
) -> None:
    limited, kept, refusal = refused_over_a_limit(settings, sim, clock, rate_limit_per_address=1)
    assert refusal.reason == "rate_limited_address"
    with pytest.raises(TooManyRequests):
        # refused payloads count too, limit first
        limited.callbacks.load("not-a-jwt", None, ADDRESS)
    assert limited.callbacks.load(kept, None, "192.0.2.99").ref.user_id == 1, "kept was not spent"
    limited.close()


def test_a_store_over_its_limit_keeps_the_payload_unspent(
    settings: Settings, sim: SimulatorState, clock: ManualClock
) -> None:
    limited, kept, refusal = refused_over_a_limit(settings, sim, clock, rate_limit_per_store=1)
    assert refusal.reason == "rate_limited_store" and refusal.retry_after
    clock.advance(settings.rate_limit_window_seconds)
    assert limited.callbacks.load(kept, None, ADDRESS).ref.user_id == 1, "kept was not spent"
    clock.advance(settings.rate_limit_window_seconds)
    with pytest.raises(Unauthorized) as replayed:
        limited.callbacks.load(kept, None, ADDRESS)
    assert replayed.value.reason == "replayed"
    limited.close()
