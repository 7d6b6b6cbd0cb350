"""The composition root: each collaborator of a deployment built once, and the services on them.

`Bcapp` is the only place that constructs a Redis client, the token cipher, the stores and the
BigCommerce client. Its services, one per audience, are built on first use, so a worker (which
uses `tasks`, `stores` and `operations`) never builds the load path (its script) or the callbacks:

- `callbacks`: install, load, uninstall, remove user, webhooks (the callback views);
- `sessions`: resume a session, spend a handoff (every app page);
- `stores`: each installed store's API client and the app's data (app pages and workers);
- `operations`: what the CLI runs;
- `tasks`: background work the intake, the worker and the CLI share (queueing, handled
  markers, the duplicate check, dead letters; bcapp/service/tasks.py);
- `dead_letters`: runs that gave up, for `bcapp webhooks failed|show|replay`;
- `billing` (None when not configured), `storefront`, `bearer`;

with `queue` (the broker's publisher) and `task_records` (what workers keep) beneath them.
`bcapp.connect()` and `bcapp.init_app()` both build one (docs/architecture.md).
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from types import TracebackType

import redis

from bcapp.app_spec import load_declarations
from bcapp.bigcommerce import BigCommerce
from bcapp.billing.account_api import AccountApi
from bcapp.billing.budget import AccountApiBudget
from bcapp.billing.records import RedisBillingRecords
from bcapp.billing.service import Billing
from bcapp.broker import TaskQueue, celery_app
from bcapp.clock import Clock
from bcapp.clock import default as default_clock
from bcapp.crypto import TokenCipher
from bcapp.service.app_callbacks import AppCallbacks
from bcapp.service.bearer import BearerTokens
from bcapp.service.dead_letters import DeadLetters
from bcapp.service.limits import AbuseLimits, LimitPolicy
from bcapp.service.loading import Loader
from bcapp.service.operations import Operations
from bcapp.service.sessions import Sessions
from bcapp.service.stores import Stores
from bcapp.service.subscriptions import HookTarget
from bcapp.service.tasks import Tasks
from bcapp.settings import Settings
from bcapp.store import InstallRecords, embedded
from bcapp.store.app_data import RedisAppData
from bcapp.store.budget import RedisRateBudget
from bcapp.store.connection import Keyspace, connect, unavailable_on_redis_error, wait_for_replicas
from bcapp.store.created import RedisCreatedRecords
from bcapp.store.ephemeral import RedisShortLivedRecords
from bcapp.store.installations import RedisInstallationStore
from bcapp.store.lifecycle import RedisLifecycle
from bcapp.store.load_path import RedisLoadPath
from bcapp.store.session_reads import RedisSessionReads
from bcapp.store.task_records import RedisTaskRecords
from bcapp.store.transfer import RedisTransfer
from bcapp.store.users import RedisStoreUsers
from bcapp.storefront.service import Storefront, StorefrontOrigins

log = logging.getLogger(__name__)


class Bcapp:
    """One deployment's collaborators (built once) and its services (built on first use)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        redis_client: redis.Redis,
        embedded_to_stop: Path | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._redis = redis_client
        # The Redis as reached (the embedded one's socket included): the default broker.
        self._redis_url = redis_url or settings.redis_url or ""
        # The instance directory of an embedded Redis this process started and stops on close.
        self._embedded_to_stop = embedded_to_stop
        self._keys = Keyspace(settings.redis_prefix)
        self._cipher = TokenCipher(settings.token_keys)
        # One Redis class for every short-lived record: replay guards, install locks, session
        # tokens, caches, leases, hit counters (each a protocol of bcapp/store/__init__.py).
        self._short_lived = RedisShortLivedRecords(redis_client, self._keys, clock)
        self._installations = RedisInstallationStore(redis_client, self._cipher, self._keys, clock)
        self._lifecycle = RedisLifecycle(  # a reinstatement queues the runs held meanwhile
            redis_client, self._cipher, self._keys, lambda found: self.dead_letters.resume(found)
        )
        self._records = InstallRecords(
            installations=self._installations,
            users=RedisStoreUsers(redis_client, self._keys, clock, self._short_lived),
            lifecycle=self._lifecycle,
        )
        budget = RedisRateBudget(redis_client, self._keys)
        self._bigcommerce = BigCommerce(settings, clock, budget=budget)
        # The abuse limits of every route (callbacks, the storefront's views).
        self._limits = AbuseLimits(
            self._short_lived,
            LimitPolicy(
                settings.rate_limit_per_address,
                settings.rate_limit_per_store,
                settings.rate_limit_window_seconds,
                settings.rate_limit_auth_per_address,
            ),
            clock,
        )

    @cached_property
    def bearer(self) -> BearerTokens:
        """Bearer tokens for the app's own JavaScript (bcapp/service/bearer.py)."""
        return BearerTokens(self.settings, self.clock)

    @cached_property
    def storefront(self) -> Storefront:
        """Shoppers of the stores' storefronts (bcapp/storefront/)."""
        origins = StorefrontOrigins(self._redis, self._keys.prefix)
        return Storefront(self.settings, self.clock, self._limits, origins, self.stores.client,
                          self._short_lived)

    @cached_property
    def callbacks(self) -> AppCallbacks:
        """Install, load, uninstall, remove user and webhooks."""
        settings, limits, short_lived = self.settings, self._limits, self._short_lived
        load_path = RedisLoadPath(self._redis, self._keys, short_lived)
        loader = Loader(
            settings,
            self.clock,
            limits,
            load_path,
            self._cipher,
            records=self._records,
            sessions=short_lived,
        )
        return AppCallbacks(
            settings,
            self.clock,
            records=self._records,
            locks=short_lived,
            guards=short_lived,
            sessions=short_lived,
            bigcommerce=self._bigcommerce,
            limits=limits,
            loader=loader,
            acknowledge=lambda: wait_for_replicas(
                self._redis, self._keys, settings.redis_min_replicas),
            tasks=self.tasks,
        )

    @cached_property
    def sessions(self) -> Sessions:
        """Sessions resumed on every app page, and one-time handoffs."""
        reads = RedisSessionReads(self._redis, self._cipher, self._keys)
        return Sessions(self.settings, reads=reads, tokens=self._short_lived)

    @cached_property
    def stores(self) -> Stores:
        """Installed stores' API clients and the app's per-store data."""
        app_data = RedisAppData(self._redis, self._keys)
        return Stores(
            installations=self._installations,
            directory=self._installations,
            reauthorization=self._lifecycle,
            cache=self._short_lived,
            app_data=app_data,
            created=RedisCreatedRecords(self._redis, self._keys),
            hook_target=HookTarget(
                self.settings.webhook_destination, self.settings.former_webhook_destinations
            ),
            learn_origins=lambda api: self.storefront.learn_origins(api),
            bigcommerce=self._bigcommerce,
            clock=self.clock,
        )

    @cached_property
    def operations(self) -> Operations:
        """What the CLI runs."""
        transfer = RedisTransfer(self._redis, self._cipher, self._keys)
        return Operations(
            self.settings,
            self.clock,
            records=self._records,
            directory=self._installations,
            leases=self._short_lived,
            cache=self._short_lived,
            bigcommerce=self._bigcommerce,
            transfer=transfer,
            stores=self.stores,
            redis_client=self._redis,
            on_purged=self._forget_in_shared_indexes,
        )

    def _forget_in_shared_indexes(self, store_hash: str) -> None:
        """A purged store leaves the indexes every store shares (storefront origins, billing)."""
        self.storefront.forget_origins(store_hash)
        if self.billing is not None:
            self.billing.records.forget(store_hash)

    @cached_property
    def queue(self) -> TaskQueue:
        """Celery, to queue background tasks (webhook handlers, subscriptions)."""
        return TaskQueue(celery_app(self.settings, self._redis_url))

    @cached_property
    def tasks(self) -> Tasks:
        """Background work: queueing tasks, what their runs check and keep (the worker's)."""
        return Tasks(
            self.queue,
            self.task_records,
            claims=self._short_lived,
            dead_letters=self.dead_letters,
            clock=self.clock,
            installations=self._installations,
            lease_seconds=self.settings.task_visibility_timeout,
        )

    @cached_property
    def task_records(self) -> RedisTaskRecords:
        """What workers keep: handled runs and dead letters."""
        return RedisTaskRecords(self._redis, self._keys, self.settings.uninstall_grace_seconds)

    @cached_property
    def dead_letters(self) -> DeadLetters:
        """Webhook events whose handler failed for good: list and replay."""
        return DeadLetters(self.task_records, self.queue)

    @cached_property
    def billing(self) -> Billing | None:
        """Unified Billing; None when it is not configured (bcapp/billing/config.py)."""
        config, settings = self.settings.billing, self.settings
        if config is None:
            return None
        budget = AccountApiBudget(self._redis, self._keys.prefix, config)
        timeouts = (settings.http_connect_timeout, settings.http_read_timeout)
        api = AccountApi(config, settings.api_url, budget, self.clock, settings.user_agent,
                         timeouts)
        return Billing(
            config,
            api,
            RedisBillingRecords(self._redis, self._keys),
            self.clock,
            store_information=lambda store_hash: self.stores.client(store_hash).get("v2/store"),
            panel_url=self.stores.control_panel_url,
            publish=self.tasks.publish_signal,
        )

    def close(self) -> None:
        """Release Redis, broker and HTTP connections (and stop an embedded Redis it was asked
        to)."""
        if "queue" in self.__dict__:
            self.queue.close()
        billing = self.__dict__.get("billing")
        if isinstance(billing, Billing):
            billing.api.close()
        self._bigcommerce.close()
        with unavailable_on_redis_error("close"):
            self._redis.close()
        if self._embedded_to_stop is not None:
            embedded.stop(self._embedded_to_stop)
            self._embedded_to_stop = None

    def __enter__(self) -> Bcapp:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def build(
    settings: Settings, clock: Clock | None = None, *, stop_what_it_starts: bool = False
) -> Bcapp:
    """Wire bcapp for `settings`; redis-py connects lazily, on first use.

    Without REDIS_URL, development starts or joins the embedded Redis of the instance directory;
    with `stop_what_it_starts` (a command), an embedded Redis it had to start stops on `close`,
    while one that was running (`make run`'s) is left alone.
    The app's declarations are loaded first (bcapp/app_spec.py, `load_declarations`): its
    modules imported, so their signal receivers are connected, and the required scopes complete.
    """
    settings = load_declarations(settings)
    to_stop = None
    if settings.redis_url is None:
        instance = settings.instance_dir
        if stop_what_it_starts and not embedded.is_running(instance):
            to_stop = instance
        url = embedded.ensure_running(instance)
    else:
        url = settings.redis_url
    client = connect(url, tls=settings.redis_tls)
    return Bcapp(settings, clock or default_clock(), client, to_stop, url)
