"""bcapp's Celery worker: the tasks behind webhooks and installs, and how they are retried.

`bcapp worker` runs it; Celery's own commands work too: ``celery -A bcapp.worker inspect
active`` (the module builds its application from the environment when `app` is first read).
Tasks:

- `bcapp.handle_event`: one declared handler's run of one webhook event (bcapp/webhooks.py).
  A run that finished is marked handled, so a redelivery runs nothing; a failure is retried
  with exponential backoff and full jitter (`BCAPP_TASK_RETRY_BASE` * 2^(attempt-1) at most)
  until `BCAPP_TASK_MAX_ATTEMPTS`, then kept as a dead letter (`bcapp webhooks failed`).
- `bcapp.sync_hooks`: a store's webhook subscriptions after an install
  (bcapp/service/subscriptions.py), retried the same way while BigCommerce fails.
- `bcapp.reconcile`: `bcapp reconcile` from Celery beat (`bcapp worker --beat`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task

from bcapp import webhook_scopes, webhooks
from bcapp.broker import HANDLE_EVENT, RECONCILE, SYNC_HOOKS
from bcapp.errors import ApiError, NotInstalled, StoreUnavailable, TokenRejected
from bcapp.metrics import TASK_SECONDS, WEBHOOKS
from bcapp.service.dead_letters import DeadLetter
from bcapp.service.wiring import Bcapp

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 500
_random = random.SystemRandom()


def backoff_seconds(attempt: int, base: float) -> float:
    """Full jitter: a uniform wait in [0, base * 2^(attempt-1)] (AWS's "full jitter")."""
    return _random.uniform(0, base * 2 ** (attempt - 1))


def register_tasks(app: Celery, service: Callable[[], Bcapp]) -> None:
    """Define bcapp's tasks on `app`, each running on the deployment `service()` returns."""

    def handle_event(
        task: Task, run_id: str, handler: str, event: dict[str, Any], queued_at: float = 0.0
    ) -> str:
        return _handle_event(task, service(), run_id, handler, event, queued_at)

    def sync_store_hooks(task: Task, store_hash: str, queued_at: float = 0.0) -> str:
        bcapp = service()
        _observe_wait(SYNC_HOOKS, queued_at)
        try:
            changes = bcapp.stores.sync_hooks(store_hash, bcapp.settings.webhook_destination)
        except (NotInstalled, TokenRejected) as exc:
            return f"skipped: {exc.reason}"  # nothing to subscribe, or a re-install will
        except (ApiError, StoreUnavailable) as exc:
            attempt = task.request.retries + 1
            settings = bcapp.settings
            if attempt >= settings.task_max_attempts:
                log.error("store=%s webhook subscriptions failed: %s", store_hash, exc.reason)
                return "failed"
            raise task.retry(
                countdown=backoff_seconds(attempt, settings.task_retry_base), exc=exc
            ) from exc
        return changes.summary()

    def reconcile(queued_at: float = 0.0) -> str:
        report = service().operations.reconcile()
        return report.summary()

    # shared=False: each application has its own tasks (Celery shares them with every app
    # created later by default; tests build one deployment each).
    app.task(name=HANDLE_EVENT, bind=True, max_retries=None, shared=False)(handle_event)
    app.task(name=SYNC_HOOKS, bind=True, max_retries=None, shared=False)(sync_store_hooks)
    app.task(name=RECONCILE, shared=False)(reconcile)


def _handle_event(
    task: Task, bcapp: Bcapp, run_id: str, handler_name: str, event: dict[str, Any],
    queued_at: float,
) -> str:
    store_hash, scope = event["store_hash"], event["scope"]
    label = webhook_scopes.label(scope)
    records = bcapp.task_records
    if records.was_handled(store_hash, run_id):
        return "already handled"
    attempt = task.request.retries + 1
    if attempt == 1:
        _observe_wait(HANDLE_EVENT, queued_at)
    started = time.monotonic()
    try:
        handler = webhooks.named(handler_name)
        if handler is None:
            raise LookupError(f"no handler {handler_name} is declared (BCAPP_RECEIVERS?)")
        handler.function(_event_of(event, attempt, lambda: bcapp.stores.client(store_hash)))
    except NotInstalled:
        log.info("%s for store=%s skipped: the store is not installed", handler_name, store_hash)
        WEBHOOKS.labels(label, "skipped").inc()
        return "skipped: not installed"
    except Exception as exc:  # any failure of the app's handler is retried
        settings = bcapp.settings
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        if attempt < settings.task_max_attempts and not isinstance(exc, LookupError):
            WEBHOOKS.labels(label, "retried").inc()
            wait = backoff_seconds(attempt, settings.task_retry_base)
            log.warning("%s for store=%s failed (attempt %d), again in %.1f s: %s",
                        handler_name, store_hash, attempt, wait, error)
            raise task.retry(countdown=wait, exc=exc) from exc
        bcapp.dead_letters.keep(
            DeadLetter(run_id, handler_name, event, error, attempt, int(time.time()))
        )
        WEBHOOKS.labels(label, "dead").inc()
        log.error("%s for store=%s is a dead letter after %d attempts: %s",
                  handler_name, store_hash, attempt, error)
        return "dead"
    finally:
        TASK_SECONDS.labels(HANDLE_EVENT, "run").observe(time.monotonic() - started)
    records.mark_handled(store_hash, run_id)
    WEBHOOKS.labels(label, "handled").inc()
    return "handled"


def _event_of(
    event: dict[str, Any], attempt: int, client_of_store: Callable[[], Any]
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
        from bcapp.settings import Settings

        configure_process()
        built = application(build(Settings.from_env()))
        globals()["app"] = globals()["celery"] = built
        return built
    raise AttributeError(f"module 'bcapp.worker' has no attribute {name!r}")
