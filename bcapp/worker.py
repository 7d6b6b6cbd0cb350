"""bcapp's Celery worker: bcapp's tasks, defined once here and bound to the Celery application
the composition root builds (`Bcapp.queue`, configured in bcapp/broker.py).

`bcapp worker` runs it; Celery's own commands work too: ``celery -A bcapp.worker inspect
active`` (the module builds its application from the environment when `app` is first read).
Tasks, each a `BcappTask` run on the tasks service (bcapp/service/tasks.py):

- `bcapp.handle_event`: one declared handler's run of one webhook event (bcapp/webhooks.py);
  a finished run is marked handled, and a task queued for a duplicate delivery runs nothing.
- `bcapp.run_signal`: a signal's (or billing change's) task receiver.
- `bcapp.sync_store`: a store's subscriptions, App Extensions and scripts after an install,
  retried while BigCommerce or Redis fails (bcapp/service/stores.py).
- `bcapp.reconcile`, `bcapp.billing_sweep`: from Celery beat (`bcapp worker --beat`).

Retries are Celery's: `autoretry_for` with `retry_backoff` (full jitter, capped at half the
visibility timeout) and `max_retries` from the settings (bcapp/task_retries.py, `retry_policy`). A
task that gives up is kept as a dead letter in its `on_failure` (`bcapp webhooks failed`,
`show`, `replay`); each failure is logged with its traceback, and the letter keeps the last.
A run that cannot reach Redis to check its handled marker waits for it however long it takes:
a failed task would be acknowledged and its event lost. Metrics come from Celery's task
signals (`task_prerun`, `task_postrun`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from celery import Celery, Task, shared_task, signals
from celery.exceptions import Reject

from bcapp import task_metrics, tracing
from bcapp.broker import (
    BILLING_SWEEP,
    HANDLE_EVENT,
    RECONCILE,
    RUN_SIGNAL,
    SYNC_STORE,
)
from bcapp.errors import ApiError, NotInstalled, StoreUnavailable, TokenRejected
from bcapp.logs import redact
from bcapp.service.dead_letters import MAX_ERROR_CHARS, SYNC_SCOPE, DeadLetter
from bcapp.service.tasks import (
    RunDeferred,
    TaskEvent,
    Undeclared,
    call_handler,
    call_receiver,
)
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings
from bcapp.task_retries import retry_wait

__all__ = ["BcappTask", "application", "retry_wait"]

log = logging.getLogger(__name__)
# A run that cannot read its records waits for Redis this long at most between tries (well
# under any visibility timeout: Celery's Redis transport redelivers a task held longer).
MAX_REDIS_WAIT = 60
REQUEUE_PAUSE = 1.0  # seconds before a run whose retry the broker refused is put back
DEPLOYMENT = "bcapp_deployment"  # the attribute of a Celery app naming the deployment it runs


class BcappTask(Task):  # type: ignore[misc]  # Celery is untyped
    """A bcapp task: acknowledged when it ends (`acks_late`), retried by Celery's options, kept
    as a dead letter when it gives up; it runs on the deployment its Celery app was bound to."""

    # bcapp logs each failure itself, once, redacted (`on_retry`, `on_failure`): Celery only
    # notes it, without the task's arguments (an event's data).
    throws = (Exception,)

    @property
    def deployment(self) -> Bcapp:
        """The deployment this task's Celery app runs (`application`)."""
        found: Bcapp = getattr(self.app, DEPLOYMENT)
        return found

    @property
    def attempt(self) -> int:
        """1 for the first run, 2 for the first retry, ..."""
        return int(self.request.retries) + 1

    def wait(self, deferred: RunDeferred) -> NoReturn:
        """Retry the run once Redis may be back, or the other copy of it has ended (full
        jitter, `MAX_REDIS_WAIT` at most), however many times: raises Celery's Retry."""
        wait = retry_wait(self.attempt, self.deployment.settings, most=MAX_REDIS_WAIT)
        try:
            raise self.retry(countdown=wait, exc=deferred, max_retries=sys.maxsize) from deferred
        finally:
            # Celery keeps a call's `max_retries` on the task object, which its threads share,
            # until an autoretry takes it: it is this call's alone.
            self.__dict__.pop("override_max_retries", None)

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's retry; when its message cannot be published, Celery would reject the
        running one without requeue (the event lost: L7 of the fourth review): it is put back
        after a pause instead, or stays unacknowledged until the visibility timeout."""
        try:
            return super().retry(*args, **kwargs)
        except Reject as rejected:
            if rejected.requeue:
                raise
            what, store_hash = _about(self.name, self.request.kwargs or {})
            cause = rejected.reason
            said = _error(cause) if isinstance(cause, BaseException) else "the broker refused"
            log.error("%s for store=%s: its retry could not be queued (%s); put back",
                      what, store_hash, said)
            time.sleep(REQUEUE_PAUSE)
            raise Reject(rejected.reason, requeue=True) from rejected

    def on_retry(
        self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any], einfo: Any
    ) -> None:
        """Log the retry: the wait for Redis, or the failure with its traceback."""
        wait = float(getattr(einfo.exception, "when", None) or 0)  # Celery's Retry: countdown
        what, store_hash = _about(self.name, kwargs)
        if isinstance(exc, RunDeferred):
            log.warning("%s for store=%s waits %s (%s), again in %.1f s", what, store_hash,
                        "for Redis" if exc.for_redis else "its turn", exc.reason, wait)
            return
        log.warning("%s for store=%s failed (attempt %d), again in %.1f s: %s",
                    what, store_hash, self.attempt, wait, _error(exc), exc_info=exc)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any], einfo: Any
    ) -> None:
        """Keep the run that gave up as a dead letter, and log it with its traceback."""
        # Celery hands over a picklable copy (a custom exception may lose its type): the one
        # raised is still being handled, so the letter keeps its own name and traceback.
        raised = sys.exc_info()[1]
        error = raised if raised is not None else exc
        what, store_hash = _about(self.name, kwargs)
        attempts = self.attempt
        log.error("%s for store=%s is a dead letter after %d attempts: %s",
                  what, store_hash, attempts, _error(error), exc_info=error)
        letter = self.dead_letter(task_id, kwargs, error, attempts)
        if letter is None:
            return
        try:
            self.deployment.tasks.keep_dead(letter)
        except StoreUnavailable as failed:
            log.error("%s for store=%s: the dead letter could not be kept (%s)",
                      what, store_hash, failed.reason)

    def dead_letter(
        self, task_id: str, kwargs: dict[str, Any], error: BaseException, attempts: int
    ) -> DeadLetter | None:
        """The dead letter of this task's run (None for reconcile: its next run comes)."""
        failed_at = int(self.deployment.clock.now())
        if self.name == SYNC_STORE:
            run_id = str(kwargs.get("run_id") or task_id.replace("-", ""))
            event = TaskEvent(run_id, str(kwargs["store_hash"]), SYNC_SCOPE).as_json()
            return DeadLetter.of_failure(
                SYNC_STORE, run_id, SYNC_STORE, event, error, attempts, failed_at
            )
        if self.name in (HANDLE_EVENT, RUN_SIGNAL):
            return DeadLetter.of_failure(
                self.name, kwargs["run_id"], kwargs["handler"], kwargs["event"], error,
                attempts, failed_at,
            )
        return None


def _about(task_name: str, kwargs: dict[str, Any]) -> tuple[str, str]:
    """What a task's log lines name: the handler (or the task) and the store."""
    if "handler" in kwargs:
        return str(kwargs["handler"]), str(kwargs.get("event", {}).get("store_hash", ""))
    return task_name, str(kwargs.get("store_hash", "-"))


def _error(exc: BaseException) -> str:
    """The error as a log line names it, redacted and bounded as a dead letter keeps it."""
    return redact(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]


def _run_once(
    task: BcappTask, run_id: str, handler: str, event: TaskEvent, receipt: str,
    call: Callable[[int], object],
) -> str:
    """`call(attempt)` (the app's function) once, under the run's lease (`Tasks.run_once`); a
    run that cannot start now waits (a retry); the app's failure goes to Celery's retries."""
    try:
        return task.deployment.tasks.run_once(
            task.name, run_id, handler, event, receipt, lambda: call(task.attempt), task.attempt
        )
    except RunDeferred as exc:
        task.wait(exc)


def handle_event(
    task: BcappTask, run_id: str, handler: str, event: dict[str, Any],
    queued_at: float = 0.0, receipt: str = "",
) -> str:
    """Run one declared handler on one webhook event (`receipt`: the delivery that queued it,
    "" for a replay)."""
    found = TaskEvent.of_json(event)
    return _run_once(task, run_id, handler, found, receipt,
                     lambda attempt: call_handler(task.deployment.stores, found, handler, attempt))


def run_signal(
    task: BcappTask, run_id: str, handler: str, event: dict[str, Any],
    queued_at: float = 0.0, receipt: str = "",
) -> str:
    """Run one signal's task receiver (the event's scope names the signal)."""
    found = TaskEvent.of_json(event)
    return _run_once(task, run_id, handler, found, "", lambda _: call_receiver(found, handler))


def sync_store(task: BcappTask, store_hash: str, queued_at: float = 0.0, run_id: str = "") -> str:
    """Subscribe a store to its webhooks and sync its App Extensions (`run_id`: the dead
    letter replayed, taken out when the sync ends)."""
    bcapp = task.deployment
    try:
        outcome = bcapp.stores.sync(store_hash)  # an App Extensions failure is remembered
        if bcapp.billing is not None:
            bcapp.billing.remember_merchant(store_hash)  # the account a checkout names
    except (NotInstalled, TokenRejected) as exc:
        return f"skipped: {exc.reason}"  # nothing to subscribe, or a re-install will
    if run_id:
        bcapp.tasks.finished(store_hash, run_id)
    return "; ".join(outcome.said()) or "unchanged"


def reconcile(task: BcappTask, queued_at: float = 0.0) -> str:
    """`bcapp reconcile`, from Celery beat."""
    return task.deployment.operations.reconcile().summary()


def billing_sweep(task: BcappTask, queued_at: float = 0.0) -> str:
    """`bcapp billing sync`, from Celery beat."""
    billing = task.deployment.billing
    return billing.sweep().summary() if billing is not None else "skipped: billing is off"


# Defined once; each Celery application that finalizes gets its own copy, bound to it.
_RUNS = {"base": BcappTask, "bind": True, "autoretry_for": (Exception,),
         "dont_autoretry_for": (Undeclared,)}
shared_task(name=HANDLE_EVENT, **_RUNS)(handle_event)
shared_task(name=RUN_SIGNAL, **_RUNS)(run_signal)
shared_task(
    name=SYNC_STORE, base=BcappTask, bind=True, autoretry_for=(ApiError, StoreUnavailable)
)(sync_store)
shared_task(name=RECONCILE, base=BcappTask, bind=True)(reconcile)
shared_task(name=BILLING_SWEEP, base=BcappTask, bind=True)(billing_sweep)


task_metrics.connect()  # each run timed and counted from Celery's task signals
# Traces when OTEL_* asks (bcapp/tracing): in the worker's process, and in each prefork child.
signals.worker_init.connect(lambda **_: tracing.start("worker"), weak=False)
signals.worker_process_init.connect(lambda **_: tracing.start("worker"), weak=False)


def beat_schedule(settings: Settings, reconcile_every: int) -> dict[str, dict[str, Any]]:
    """Celery beat's schedule: reconcile every `reconcile_every` seconds, and Unified
    Billing's sweep when billing is configured."""
    schedule = {"bcapp-reconcile": {"task": RECONCILE, "schedule": float(reconcile_every)}}
    if settings.billing is not None:
        every = float(settings.billing.sweep_seconds)
        schedule["bcapp-billing-sweep"] = {"task": BILLING_SWEEP, "schedule": every}
    return schedule


def application(bcapp: Bcapp, reconcile_every: int | None = None) -> Celery:
    """The Celery application of a deployment already built, with bcapp's tasks bound to it;
    with `reconcile_every`, a beat schedule that runs reconcile that often (seconds)."""
    app = bcapp.queue.app
    setattr(app, DEPLOYMENT, bcapp)
    app.finalize()  # binds the tasks defined above to this application
    if reconcile_every is not None:
        app.conf.beat_schedule = beat_schedule(bcapp.settings, reconcile_every)
        instance = bcapp.settings.instance_dir
        instance.mkdir(parents=True, exist_ok=True)  # a fresh checkout has none yet
        app.conf.beat_schedule_filename = str(instance / "celerybeat-schedule")
    return app


def __getattr__(name: str) -> Any:
    """`app` (and `celery`): for Celery's own commands, `celery -A bcapp.worker …`."""
    if name in ("app", "celery"):
        from bcapp.process import configure_process
        from bcapp.service.wiring import build

        configure_process()
        built = application(build(Settings.from_env()))
        globals()["app"] = globals()["celery"] = built
        return built
    raise AttributeError(f"module 'bcapp.worker' has no attribute {name!r}")
