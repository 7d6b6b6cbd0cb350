"""bcapp's tasks measured from Celery's own task signals (`task_prerun`, `task_postrun`): each
run's seconds, its wait in the queue on its first attempt and, for a webhook, its outcome
(bcapp/metrics.py). A run that ran nothing of the app's (already handled, a duplicate, held,
waiting for Redis) is not measured. Connected once by bcapp/worker.py.
"""

from __future__ import annotations

import time
from typing import Any

from celery.signals import task_postrun, task_prerun

from bcapp import webhook_scopes
from bcapp.broker import HANDLE_EVENT
from bcapp.metrics import TASK_SECONDS, WEBHOOKS
from bcapp.service.tasks import HELD, RunDeferred

NOT_RUN = ("already handled", "duplicate delivery", HELD)  # a run that ran nothing of the app's
PREFIX = "bcapp."  # every task of bcapp is named so (bcapp/broker.py)


def connect() -> None:
    """Connect the measurements to Celery's signals (once per process: blinker keeps one)."""
    task_prerun.connect(_started, weak=False, dispatch_uid="bcapp-task-started")
    task_postrun.connect(_ended, weak=False, dispatch_uid="bcapp-task-ended")


def _ours(task: Any) -> bool:
    return str(getattr(task, "name", "")).startswith(PREFIX)


def _started(task: Any = None, kwargs: dict[str, Any] | None = None, **_: Any) -> None:
    """Celery's `task_prerun`: time the run, and its wait in the queue on its first attempt."""
    if not _ours(task):
        return
    task.request.bcapp_started = time.monotonic()
    queued_at = (kwargs or {}).get("queued_at", 0)
    if task.request.retries == 0 and isinstance(queued_at, int | float) and queued_at > 0:
        TASK_SECONDS.labels(task.name, "wait").observe(max(time.time() - queued_at, 0.0))


def _ended(
    task: Any = None, kwargs: dict[str, Any] | None = None, retval: Any = None,
    state: str | None = None, **_: Any,
) -> None:
    """Celery's `task_postrun`: the run's seconds and, for a webhook, its outcome (a run that
    ran nothing of the app's is not measured)."""
    if not _ours(task):
        return
    if (state == "SUCCESS" and retval in NOT_RUN) or (
        state == "RETRY" and isinstance(getattr(retval, "exc", None), RunDeferred)
    ):
        return
    started = getattr(task.request, "bcapp_started", None)
    if started is not None:
        TASK_SECONDS.labels(task.name, "run").observe(time.monotonic() - started)
    if task.name == HANDLE_EVENT and kwargs is not None:
        outcome = {"RETRY": "retried", "FAILURE": "dead"}.get(
            state or "", "handled" if retval == "handled" else "skipped"
        )
        WEBHOOKS.labels(webhook_scopes.label(kwargs["event"]["scope"]), outcome).inc()
