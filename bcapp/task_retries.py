"""How bcapp's tasks are retried: Celery's own options, per deployment (bcapp/broker.py sets
them as task annotations), and the wait they give an attempt (bcapp/worker.py)."""

from __future__ import annotations

from typing import Any

from celery.utils.time import get_exponential_backoff_interval

from bcapp.settings import Settings


def backoff_cap(settings: Settings) -> int:
    """The longest wait before a retry: half the visibility timeout. Celery holds a retry's
    countdown in the worker, unacknowledged, and the Redis transport redelivers a message held
    past the visibility timeout: a longer wait would run the event twice
    (BCAPP_TASK_VISIBILITY_TIMEOUT=600 with the default base would otherwise allow 2,560 s)."""
    return max(settings.task_visibility_timeout // 2, 1)


def retry_policy(settings: Settings) -> dict[str, Any]:
    """Celery's retry options for bcapp's tasks: exponential backoff from
    `BCAPP_TASK_RETRY_BASE` with full jitter, capped at `backoff_cap`, and
    `BCAPP_TASK_MAX_ATTEMPTS` runs in all. Celery waits a uniform whole number of seconds in
    [0, min(cap, base * 2^retries)] (AWS's "full jitter"); a base under 1 s counts as 1 s."""
    return {
        "max_retries": settings.task_max_attempts - 1,
        "retry_backoff": settings.task_retry_base,
        "retry_backoff_max": backoff_cap(settings),
        "retry_jitter": True,
    }


def retry_wait(attempt: int, settings: Settings, most: float | None = None) -> int:
    """How long before attempt `attempt + 1`, as Celery's `retry_backoff` computes it for
    bcapp's tasks (`retry_policy`), and never more than `most`."""
    cap = backoff_cap(settings) if most is None else min(backoff_cap(settings), int(most))
    factor = int(max(1.0, settings.task_retry_base))  # as Celery's autoretry reads the option
    return int(get_exponential_backoff_interval(factor, attempt - 1, cap, full_jitter=True))
