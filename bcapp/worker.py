"""bcapp's Celery worker: the tasks behind webhooks and installs, and how they are retried.

`bcapp worker` runs it; Celery's own commands work too: ``celery -A bcapp.worker inspect
active`` (the module builds its application from the environment when `app` is first read).
Tasks:

- `bcapp.handle_event`: one declared handler's run of one webhook event (bcapp/webhooks.py).
  A run that finished is marked handled, so a redelivery runs nothing; a task the intake
  queued for a duplicate delivery runs nothing either (the event's claim names another
  delivery, bcapp/service/webhooks.py); a failure is retried
  with exponential backoff and full jitter (`BCAPP_TASK_RETRY_BASE` * 2^(attempt-1) at most)
  until `BCAPP_TASK_MAX_ATTEMPTS`, then kept as a dead letter (`bcapp webhooks failed`, `show`);
  each failure is logged with its traceback, and the dead letter keeps the last one.
- `bcapp.run_signal`: a lifecycle signal's task receiver (`signals.app_installed.connect_task`),
  retried and kept as a dead letter in the same way.
- `bcapp.sync_store`: a store's webhook subscriptions and App Extensions after an install
  (bcapp/service/subscriptions.py, app_extensions.py), retried the same way while BigCommerce
  fails (an App Extensions failure is remembered for `bcapp stores show` and left to reconcile).
- `bcapp.reconcile`: `bcapp reconcile` from Celery beat (`bcapp worker --beat`).
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task

from bcapp import signals, webhook_scopes, webhooks
from bcapp.broker import HANDLE_EVENT, RECONCILE, RUN_SIGNAL, SYNC_STORE
from bcapp.errors import ApiError, NotInstalled, StoreUnavailable, TokenRejected
from bcapp.logs import redact
from bcapp.metrics import TASK_SECONDS, WEBHOOKS
from bcapp.service.dead_letters import DeadLetter
from bcapp.service.wiring import Bcapp
from bcapp.settings import Settings

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 500
MAX_TRACEBACK_CHARS = 4096  # a dead letter's traceback: its innermost frames
# A run that cannot read its records waits for Redis this long at most between tries (well
# under any visibility timeout: Celery's Redis transport redelivers a task held longer).
MAX_REDIS_WAIT = 60.0
_random = random.SystemRandom()


def backoff_seconds(attempt: int, base: float) -> float:
    """Full jitter: a uniform wait in [0, base * 2^(attempt-1)] (AWS's "full jitter")."""
    return _random.uniform(0, base * 2 ** (attempt - 1))


def retry_wait(attempt: int, settings: Settings, most: float | None = None) -> float:
    """How long before attempt `attempt + 1`: full-jitter backoff, never more than `most` nor
    half the visibility timeout. Celery holds a retry's countdown in the worker, unacknowledged,
    and the Redis transport redelivers a message held past the visibility timeout: a longer
    wait would run the event twice (BCAPP_TASK_VISIBILITY_TIMEOUT=600 with the default base
    would otherwise allow 2,560 s)."""
    ceiling = settings.task_visibility_timeout / 2
    if most is not None:
        ceiling = min(ceiling, most)
    return min(backoff_seconds(attempt, settings.task_retry_base), ceiling)


def register_tasks(app: Celery, service: Callable[[], Bcapp]) -> None:
    """Define bcapp's tasks on `app`, each running on the deployment `service()` returns."""

    def runner(task_name: str, invoke: Invoke) -> Callable[..., str]:
        """The body of a task that runs one app function once (webhook handler, receiver)."""

        def run(
            task: Task,
            run_id: str,
            handler: str,
            event: dict[str, Any],
            queued_at: float = 0.0,
            receipt: str = "",
        ) -> str:
            found = Run(task_name, run_id, handler, event, queued_at, receipt)
            return _run_once(task, service(), found, invoke)

        return run

    def sync_store(task: Task, store_hash: str, queued_at: float = 0.0) -> str:
        bcapp = service()
        _observe_wait(SYNC_STORE, queued_at)
        try:
            changes = bcapp.stores.sync_hooks(store_hash, bcapp.settings.webhook_destination)
            extensions = bcapp.stores.sync_extensions(store_hash)  # its failure is remembered
        except (NotInstalled, TokenRejected) as exc:
            return f"skipped: {exc.reason}"  # nothing to subscribe, or a re-install will
        except (ApiError, StoreUnavailable) as exc:
            attempt = task.request.retries + 1
            settings = bcapp.settings
            if attempt >= settings.task_max_attempts:
                log.error("store=%s webhook subscriptions failed: %s", store_hash, exc.reason)
                return "failed"
            raise task.retry(countdown=retry_wait(attempt, settings), exc=exc) from exc
        made = "failed (see bcapp stores show)" if extensions is None else extensions.summary()
        return f"webhooks {changes.summary()}; App Extensions {made}"

    def reconcile(queued_at: float = 0.0) -> str:
        report = service().operations.reconcile()
        return report.summary()

    # shared=False: each application has its own tasks (Celery shares them with every app
    # created later by default; tests build one deployment each).
    for name, invoke in ((HANDLE_EVENT, _webhook_handler), (RUN_SIGNAL, _signal_receiver)):
        app.task(name=name, bind=True, max_retries=None, shared=False)(runner(name, invoke))
    app.task(name=SYNC_STORE, bind=True, max_retries=None, shared=False)(sync_store)
    app.task(name=RECONCILE, shared=False)(reconcile)


@dataclass(frozen=True)
class Run:
    """One run of an app's function: a webhook handler on an event, or a signal's task
    receiver (its `event` has the signal's name as `scope` and its fields as `data`)."""

    task: str
    run_id: str
    handler: str
    event: dict[str, Any]
    queued_at: float
    receipt: str = ""  # the webhook delivery that queued it ("" for a replay or a signal)

    @property
    def store_hash(self) -> str:
        """The store the run is about."""
        return str(self.event["store_hash"])

    def count(self, outcome: str) -> None:
        """Count a webhook run's outcome (signal runs are counted by `bcapp_task_seconds`)."""
        if self.task == HANDLE_EVENT:
            WEBHOOKS.labels(webhook_scopes.label(self.event["scope"]), outcome).inc()


# Calls the app's function of a run (LookupError when it is no longer declared).
Invoke = Callable[[Bcapp, Run, int], object]


def _webhook_handler(bcapp: Bcapp, run: Run, attempt: int) -> object:
    handler = webhooks.named(run.handler)
    if handler is None:
        raise LookupError(f"no handler {run.handler} is declared (BCAPP_RECEIVERS?)")
    store_hash = run.store_hash
    event = _event_of(
        run.event, attempt, lambda: bcapp.stores.client(store_hash),
        lambda: bcapp.stores.installed_app_data(store_hash),
    )
    return handler.function(event)


def _signal_receiver(bcapp: Bcapp, run: Run, attempt: int) -> object:
    receiver = signals.task_receiver(run.event["scope"], run.handler)
    if receiver is None:
        raise LookupError(f"no task receiver {run.handler} is connected (BCAPP_RECEIVERS?)")
    return receiver(run.store_hash, **run.event.get("data", {}))


def _run_once(task: Task, bcapp: Bcapp, run: Run, invoke: Invoke) -> str:
    """Run the app's function unless this run finished before; retry it on failure with
    full-jitter backoff; keep it as a dead letter after the last attempt."""
    store_hash, records = run.store_hash, bcapp.task_records
    attempt = task.request.retries + 1
    try:
        if records.was_handled(store_hash, run.run_id):
            return "already handled"
        if run.receipt and bcapp.callbacks.outrun(run.event, run.receipt):
            return "duplicate delivery"  # queued before the intake knew (service/webhooks.py)
    except StoreUnavailable as exc:  # a failed task would be acknowledged, the event lost
        wait = retry_wait(attempt, bcapp.settings, most=MAX_REDIS_WAIT)
        log.warning("%s for store=%s waits for Redis (%s), again in %.1f s",
                    run.handler, store_hash, exc.reason, wait)
        raise task.retry(countdown=wait, exc=exc) from exc
    if attempt == 1:
        _observe_wait(run.task, run.queued_at)
    started = time.monotonic()
    try:
        invoke(bcapp, run, attempt)
    except NotInstalled:
        log.info("%s for store=%s skipped: the store is not installed", run.handler, store_hash)
        run.count("skipped")
        return "skipped: not installed"
    except Exception as exc:  # any failure of the app's function is retried
        settings = bcapp.settings
        error = redact(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS]
        if attempt < settings.task_max_attempts and not isinstance(exc, LookupError):
            run.count("retried")
            wait = retry_wait(attempt, settings)
            log.warning("%s for store=%s failed (attempt %d), again in %.1f s: %s",
                        run.handler, store_hash, attempt, wait, error, exc_info=exc)
            raise task.retry(countdown=wait, exc=exc) from exc
        bcapp.dead_letters.keep(
            DeadLetter(run.run_id, run.handler, run.event, error, attempt, int(time.time()),
                       run.task, traceback_of(exc))
        )
        run.count("dead")
        log.error("%s for store=%s is a dead letter after %d attempts: %s",
                  run.handler, store_hash, attempt, error, exc_info=exc)
        return "dead"
    finally:
        TASK_SECONDS.labels(run.task, "run").observe(time.monotonic() - started)
    try:
        records.mark_handled(store_hash, run.run_id)
    except StoreUnavailable as exc:
        # The work is done: failing or retrying the task would only report it wrongly or run
        # it again. BigCommerce's retries still meet the delivery's claim; only a redelivery
        # of this very message (its acknowledgement lost too) would run it a second time.
        log.warning("%s for store=%s ran, but its run could not be recorded (%s)",
                    run.handler, store_hash, exc.reason)
    run.count("handled")
    return "handled"


def traceback_of(exc: BaseException) -> str:
    """The failure's traceback as a dead letter keeps it: its last `MAX_TRACEBACK_CHARS`
    (the innermost frames and the message), cut where a frame starts, redacted as log lines are.

    A traceback holds the code's frames (file, line, source text: no local values) and the
    exception's message. bcapp's own errors name reasons, never a token or a payload; an app's
    message is the app's words, as in the `error` field and the log, and the redaction pass
    (bcapp/logs.py) replaces anything shaped like a token or secret in it.
    """
    text = redact("".join(traceback.format_exception(exc)))  # whole: no token cut in two
    if len(text) > MAX_TRACEBACK_CHARS:
        tail = text[-MAX_TRACEBACK_CHARS:]
        frame = tail.find("\n  File ")  # whole frames: a frame's source line never stands alone
        text = "[earlier lines left out]\n" + tail[(frame if frame >= 0 else tail.find("\n")) + 1 :]
    return text


def _event_of(
    event: dict[str, Any],
    attempt: int,
    client_of_store: Callable[[], Any],
    app_data_of_store: Callable[[], Any],
) -> webhooks.Event:
    return webhooks.Event(
        id=str(event["id"]),
        store_hash=event["store_hash"],
        scope=event["scope"],
        data=dict(event.get("data") or {}),
        hash=str(event.get("hash", "")),
        created_at=int(event.get("created_at", 0)),
        attempt=attempt,
        client_of_store=client_of_store,
        app_data_of_store=app_data_of_store,
    )


def _observe_wait(task_name: str, queued_at: float) -> None:
    if queued_at > 0:
        TASK_SECONDS.labels(task_name, "wait").observe(max(time.time() - queued_at, 0.0))


def application(bcapp: Bcapp, reconcile_every: int | None = None) -> Celery:
    """The Celery application of a deployment already built, with bcapp's tasks; with
    `reconcile_every`, a beat schedule that runs reconcile that often (seconds)."""
    app = bcapp.queue.app
    register_tasks(app, lambda: bcapp)
    if reconcile_every is not None:
        app.conf.beat_schedule = {
            "bcapp-reconcile": {"task": RECONCILE, "schedule": float(reconcile_every)},
        }
        app.conf.beat_schedule_filename = str(
            bcapp.settings.instance_dir / "celerybeat-schedule"
        )
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
