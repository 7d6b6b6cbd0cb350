"""The per-app services the views use, wired once by the factory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import current_app

from bcapp.bigcommerce import TokenExchange
from bcapp.crypto import TokenCipher
from bcapp.settings import Settings
from bcapp.store import InstallationStore, embedded
from bcapp.store.redis import RedisInstallationStore, connect
from bcapp.store_api import StoreApi


@dataclass(frozen=True)
class Runtime:
    """Settings, the installation store and the BigCommerce client of one app."""

    settings: Settings
    redis: redis.Redis
    store: InstallationStore
    exchange: TokenExchange
    api: StoreApi
    # The clock callbacks are checked against; tests inject a fixed one.
    clock: Callable[[], float] = field(default=time.time)


def build_runtime(settings: Settings, clock: Callable[[], float] = time.time) -> Runtime:
    """Connect (lazily; redis-py opens sockets on first use) and wire the services.

    Without REDIS_URL, development starts or joins the embedded Redis of the instance directory.
    """
    url = settings.redis_url or embedded.ensure_running(settings.instance_dir)
    client = connect(url)
    store = RedisInstallationStore(client, TokenCipher(settings.token_keys), settings.redis_prefix)
    return Runtime(settings, client, store, TokenExchange(settings), StoreApi(settings), clock)


def runtime() -> Runtime:
    """The Runtime of the current Flask app."""
    value = current_app.extensions["bcapp"]
    assert isinstance(value, Runtime)
    return value
