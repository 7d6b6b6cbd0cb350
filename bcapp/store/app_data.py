"""Small per-store data of the app built on bcapp (the bundled example keeps its settings here).

One Redis hash per store, `<prefix>:{<store_hash>}:settings`, in the store's Cluster slot. The
lifecycle treats it like the installation: it gets the grace-period TTL on uninstall, loses it
on reinstatement, and is deleted by the purge (bcapp/store/lifecycle.py).

Every write touches only the fields it names (HSET, HDEL): a page saving its two fields never
writes back a third one a worker changed meanwhile. `update` reads what it replaces under
WATCH (`transaction`): a concurrent writer makes it run again on the fresh value, so two
writers of one field lose nothing either. Sizes are bounded as `bcapp import` bounds them
(bcapp/store/import_rules.py): what one accepts, the other takes back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import redis
from redis.client import Pipeline

from bcapp.store.connection import Keyspace, transaction, unavailable_on_redis_error
from bcapp.store.import_rules import MAX_SETTING_CHARS, MAX_SETTING_NAME_CHARS, MAX_SETTINGS
from bcapp.store.keys import APP_DATA


class RedisAppData:
    """Per-store text fields, written field by field."""

    def __init__(self, client: redis.Redis, keys: Keyspace) -> None:
        self._redis = client
        self._keys = keys

    def get(self, store_hash: str, names: Collection[str] | None = None) -> dict[str, str]:
        """The store's fields named in `names` that it has (every field when None)."""
        key = APP_DATA.key(self._keys, store_hash)
        with unavailable_on_redis_error("app_data_get"):
            if names is None:
                raw = self._redis.hgetall(key)
                return {str(name): str(value) for name, value in raw.items()}
            wanted = list(names)
            values = self._redis.hmget(key, wanted) if wanted else []
        found = zip(wanted, values, strict=True)
        return {name: str(value) for name, value in found if value is not None}

    def set(self, store_hash: str, values: Mapping[str, str]) -> None:
        """Write these fields and no other (keeping any TTL the store's records have);
        ValueError, writing nothing, past bcapp's sizes."""
        fields = dict(values)
        for name, value in fields.items():
            checked(name, value)
        if not fields:
            return
        key = APP_DATA.key(self._keys, store_hash)

        def write(pipe: Pipeline) -> None:
            added = sum(value is None for value in pipe.hmget(key, list(fields)))
            if added and int(pipe.hlen(key)) + added > MAX_SETTINGS:
                raise ValueError(f"a store keeps {MAX_SETTINGS} fields of app data at most")
            pipe.multi()
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]

        with unavailable_on_redis_error("app_data_set"):
            transaction(self._redis, write, key)

    def delete(self, store_hash: str, names: Collection[str]) -> None:
        """Delete these fields of the store (those it does not have are no error)."""
        if names:
            with unavailable_on_redis_error("app_data_delete"):
                self._redis.hdel(APP_DATA.key(self._keys, store_hash), *names)

    def update(
        self, store_hash: str, name: str, change: Callable[[str | None], str | None]
    ) -> str | None:
        """Set the field `name` to `change(its current value or None)`, None deleting it, as
        one atomic step: `change` runs again on the fresh value when another writer changed the
        store's data meanwhile (so it must only compute). Returns the value kept; ValueError,
        writing nothing, past bcapp's sizes."""
        checked(name, "")
        key = APP_DATA.key(self._keys, store_hash)

        def apply(pipe: Pipeline) -> str | None:
            current = pipe.hget(key, name)
            value = change(None if current is None else str(current))
            if value is not None:
                checked(name, value)
                if current is None and int(pipe.hlen(key)) >= MAX_SETTINGS:
                    raise ValueError(f"a store keeps {MAX_SETTINGS} fields of app data at most")
            pipe.multi()
            if value is None:
                pipe.hdel(key, name)
            else:
                pipe.hset(key, name, value)
            return value

        with unavailable_on_redis_error("app_data_update"):
            return transaction(self._redis, apply, key)


def checked(name: object, value: object) -> None:
    """ValueError unless `name` is a field name and `value` a value bcapp keeps (the message
    names the bound, never the value)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise ValueError("app data maps text to text")
    if not name or len(name) > MAX_SETTING_NAME_CHARS or not name.isprintable():
        raise ValueError(
            f"a field name of app data is 1 to {MAX_SETTING_NAME_CHARS} printable characters"
        )
    if len(value) > MAX_SETTING_CHARS:
        raise ValueError(f"a value of app data is {MAX_SETTING_CHARS} characters at most")
