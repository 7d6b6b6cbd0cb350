"""Background work's one home: what the webhook intake, the worker and the CLI share.

- `TaskEvent` (bcapp/service/task_event.py): the one event a task carries;
- queueing: one task per declared handler of a delivery, its claim carried by the first
  (`queue_claimed`; `queue_handlers` without a claim), a store's sync
  after an install (`queue_sync`), a signal's task receiver (`publish_signal`, the publisher a
  web request sets in bcapp/signals.py);
- the duplicate check a run makes before it runs (`skip_reason`): its handled marker, and for
  a webhook the delivery's claim (`outrun`: the tasks queued for a duplicate delivery drop);
- handled markers and dead letters (`finished`, `keep_dead`; bcapp/service/dead_letters.py
  lists and replays them);
- one run of a handler (`run_once`): it holds the run's lease while it runs, so a second copy
  of a running event (kombu restores an unacknowledged message when the worker's connection
  drops) waits instead of running beside it (`RunDeferred`, retried by the worker); a run that
  meets its store uninstalled by an uninstall callback (forgeable: docs/security.md R9) is
  held as a waiting dead letter and queued again when the store is reinstated
  (`DeadLetters.resume`); one that meets a store BigCommerce uninstalled is dropped.

The worker (bcapp/worker.py) runs the tasks on these and nothing of the callbacks' service:
no load path, no abuse limits (tests/test_worker_tasks.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from bcapp import signals, webhooks
from bcapp.broker import HANDLE_EVENT, RUN_SIGNAL, SYNC_STORE, TaskQueue
from bcapp.clock import Clock
from bcapp.errors import NotInstalled, StoreUnavailable
from bcapp.service.access import REINSTATABLE_SOURCES
from bcapp.service.dead_letters import DeadLetter, DeadLetters
from bcapp.service.stores import Stores
from bcapp.service.task_event import TaskEvent, claim_nonces, run_id_of
from bcapp.store import ClaimFound, InstallationStore, ReplayGuards, ScriptCarrier
from bcapp.store.task_records import RedisTaskRecords

log = logging.getLogger(__name__)


class Undeclared(LookupError):
    """The run names a handler or receiver no longer declared: a dead letter at once."""


class RunDeferred(Exception):
    """The run cannot start now: Redis cannot tell whether it ran (`for_redis`), or another
    copy of it is running. The worker retries it later, whatever its attempts."""

    def __init__(self, reason: str, for_redis: bool) -> None:
        super().__init__(reason, for_redis)  # both: Celery pickles it, as cls(*args)
        self.reason = reason
        self.for_redis = for_redis

    def __str__(self) -> str:
        return self.reason


HELD = "waiting for reinstatement"  # a run kept until its store is reinstated
HELD_ERROR = ("NotInstalled: the store was uninstalled by an uninstall callback (which a staff "
              "user can forge); runs when the store is reinstated (load or reconcile)")


def call_handler(stores: Stores, event: TaskEvent, handler: str, attempt: int) -> object:
    """Run the declared webhook handler `handler` on `event` (its `attempt`th run)."""
    declared = webhooks.named(handler)
    if declared is None:
        raise Undeclared(f"no handler {handler} is declared (BCAPP_RECEIVERS?)")
    store_hash = event.store_hash
    return declared.function(
        webhooks.Event(
            id=event.id, store_hash=store_hash, scope=event.scope, data=dict(event.data),
            hash=event.hash, created_at=event.created_at, attempt=attempt,
            client_of_store=lambda: stores.client(store_hash),
            app_data_of_store=lambda: stores.installed_app_data(store_hash),
        )
    )


def call_receiver(event: TaskEvent, receiver: str) -> object:
    """Run the signal's task receiver `receiver` (the event's scope names the signal)."""
    connected = signals.task_receiver(event.scope, receiver)
    if connected is None:
        raise Undeclared(f"no task receiver {receiver} is connected (BCAPP_RECEIVERS?)")
    return connected(event.store_hash, **event.data)


class Tasks:
    """Queue background tasks, and what their runs check and keep."""

    def __init__(
        self,
        queue: TaskQueue,
        records: RedisTaskRecords,
        claims: ReplayGuards,
        dead_letters: DeadLetters,
        clock: Clock,
        installations: InstallationStore,
        lease_seconds: int,
    ) -> None:
        self._queue = queue
        self._records = records
        self._claims = claims  # the deliveries' claims the intake made
        self.dead_letters = dead_letters
        self._clock = clock
        self._installations = installations
        # A run's lease lasts the visibility timeout: the broker gives a message held longer
        # to another worker anyway (docs/webhooks.md, "When an event runs twice").
        self._lease_seconds = lease_seconds

    def queue_handlers(self, event: TaskEvent, receipt: str) -> int:
        """Queue one task per declared handler that receives the event's scope, without a
        claim (the intake's is `queue_claimed`); how many. BrokerUnavailable (503) when the
        broker fails."""
        tasks = self._handler_tasks(event, receipt)
        for run_id, kwargs in tasks:
            self._queue.publish(HANDLE_EVENT, kwargs, run_id)
        return len(tasks)

    def queue_claimed(
        self, event: TaskEvent, receipt: str, claim: Callable[[ScriptCarrier | None], ClaimFound]
    ) -> tuple[ClaimFound, int]:
        """Take the delivery's `claim`, then, unless it found a replay, queue one task per
        declared handler of the event's scope: what the claim found, and how many were queued.

        When the broker is the app's Redis, the claim rides on the first task's push
        (`TaskQueue.carrier`): one round trip, and the claim and that task are both written or
        neither. BrokerUnavailable (503) when the broker fails."""
        tasks = self._handler_tasks(event, receipt)
        carry = self._queue.carrier(HANDLE_EVENT, tasks[0][1], tasks[0][0]) if tasks else None
        found = claim(carry)
        if found == "replay":
            return found, 0
        for run_id, kwargs in tasks[1:] if carry is not None else tasks:
            self._queue.publish(HANDLE_EVENT, kwargs, run_id)
        return found, len(tasks)

    @staticmethod
    def _handler_tasks(event: TaskEvent, receipt: str) -> list[tuple[str, dict[str, Any]]]:
        """The run id and arguments of each declared handler's task for the event."""
        carried = event.as_json()
        tasks = []
        for handler in webhooks.handlers_for(event.scope):
            run_id = run_id_of(event.key, handler.name)
            kwargs = {"run_id": run_id, "handler": handler.name, "event": carried,
                      "receipt": receipt}
            tasks.append((run_id, kwargs))
        return tasks

    def queue_sync(self, store_hash: str) -> None:
        """Queue the store's webhook subscriptions and App Extensions sync (BrokerUnavailable
        when the broker fails)."""
        self._queue.publish(SYNC_STORE, {"store_hash": store_hash}, None)

    def publish_signal(
        self, signal: str, receiver: str, store_hash: str, fields: dict[str, Any]
    ) -> None:
        """Queue one run of a signal's task receiver (bcapp/signals.py). With the broker down
        the receiver runs at once instead, its failure logged: the callback that sent the
        signal succeeded, and the receiver's work is not lost."""
        run_id = uuid.uuid4().hex
        event = TaskEvent(run_id, store_hash, signal, fields, "", int(self._clock.now()))
        try:
            kwargs = {"run_id": run_id, "handler": receiver, "event": event.as_json()}
            self._queue.publish(RUN_SIGNAL, kwargs, run_id)
        except StoreUnavailable:
            log.warning("broker unavailable: %s runs now, in the request", receiver)
            run_now = signals.task_receiver(signal, receiver)
            try:
                if run_now is not None:
                    run_now(store_hash, **fields)
            except Exception:  # the app's code: its failure must not fail the callback
                log.exception("%s failed for store=%s", receiver, store_hash)

    def outrun(self, event: TaskEvent, receipt: str) -> bool:
        """True when the event's claim belongs to another receipt than `receipt`: the task was
        queued for a duplicate delivery, and the claiming delivery's own task runs the event.
        False when the claim is this receipt's or missing (expired, or never made)."""
        nonces = claim_nonces(event)
        owners = self._claims.claimants(event.store_hash, nonces)
        return any(owner is not None and owner != receipt for owner in owners)

    def skip_reason(self, event: TaskEvent, run_id: str, receipt: str = "") -> str | None:
        """Why a run must not run ("already handled", "duplicate delivery"), or None;
        StoreUnavailable when Redis cannot tell."""
        if self._records.was_handled(event.store_hash, run_id):
            return "already handled"
        if receipt and self.outrun(event, receipt):
            return "duplicate delivery"  # queued before the intake knew (service/webhooks.py)
        return None

    def finished(self, store_hash: str, run_id: str) -> None:
        """Mark the run handled (a redelivery runs nothing), or log that it could not be.

        The work is done: failing or retrying the task would only report it wrongly or run it
        again. BigCommerce's retries still meet the delivery's claim; only a redelivery of this
        very message (its acknowledgement lost too) would run it a second time."""
        try:
            self._records.mark_handled(store_hash, run_id)
        except StoreUnavailable as exc:
            log.warning("run %s for store=%s ran, but could not be recorded (%s)",
                        run_id, store_hash, exc.reason)

    def keep_dead(self, letter: DeadLetter) -> None:
        """Keep a run that gave up (its task's last word on it)."""
        self.dead_letters.keep(letter)

    def run_once(
        self, task: str, run_id: str, handler: str, event: TaskEvent, receipt: str,
        call: Callable[[], object], attempt: int,
    ) -> str:
        """Run `call` (the app's function) under the run's lease unless the run finished
        before or was queued for a duplicate delivery; what became of it ("handled", a skip
        reason, `HELD`). RunDeferred when it cannot start now; the app's failure propagates."""
        holder, store_hash = uuid.uuid4().hex, event.store_hash
        try:
            taken = self._records.hold_run(store_hash, run_id, holder, self._lease_seconds)
        except StoreUnavailable as exc:  # a failed task would be acknowledged, the event lost
            raise RunDeferred(exc.reason, for_redis=True) from exc
        if not taken:
            raise RunDeferred("another worker is running it", for_redis=False)
        try:
            try:
                skipped = self.skip_reason(event, run_id, receipt)
            except StoreUnavailable as exc:
                raise RunDeferred(exc.reason, for_redis=True) from exc
            if skipped is not None:
                return skipped
            try:
                call()
            except NotInstalled:
                return self.not_installed(task, run_id, handler, event, attempt)
            self.finished(store_hash, run_id)  # before the lease goes: a waiting copy skips
            return "handled"
        finally:
            self._release(store_hash, run_id, holder)

    def _release(self, store_hash: str, run_id: str, holder: str) -> None:
        try:
            self._records.release_run(store_hash, run_id, holder)
        except StoreUnavailable as exc:  # it expires with the visibility timeout
            log.warning("run %s for store=%s: its lease not released (%s)",
                        run_id, store_hash, exc.reason)

    def not_installed(
        self, task: str, run_id: str, handler: str, event: TaskEvent, attempt: int
    ) -> str:
        """A run that met its store not installed: held as a waiting dead letter when an
        uninstall callback (forgeable) ended the store, else dropped with any letter of it."""
        store_hash = event.store_hash
        installation = self._installations.get_installation(store_hash)
        uninstall = None if installation is None else installation.uninstall
        reinstated = installation is not None and installation.is_installed  # meanwhile
        if task != HANDLE_EVENT or not (
            reinstated or (uninstall is not None and uninstall.source in REINSTATABLE_SOURCES)
        ):
            log.info("%s for store=%s skipped: the store is not installed", handler, store_hash)
            if task == HANDLE_EVENT:
                self.dead_letters.drop(store_hash, run_id)  # a replay's: it will never run
            return "skipped: not installed"
        self.dead_letters.keep(DeadLetter(
            run_id, handler, event.as_json(), HELD_ERROR, attempt, int(self._clock.now()),
            task, waiting=True,
        ))
        log.warning("%s for store=%s %s: the store was uninstalled by an uninstall callback",
                    handler, store_hash, HELD)
        again = self._installations.get_installation(store_hash)
        if again is not None and again.is_installed:  # reinstated before the letter was kept
            self.dead_letters.resume(store_hash)
        return HELD


__all__ = ["HELD", "RunDeferred", "TaskEvent", "Tasks", "Undeclared", "claim_nonces", "run_id_of"]
