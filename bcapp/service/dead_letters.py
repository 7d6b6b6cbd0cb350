"""Failed webhook events: listed for operators and queued again on request.

A dead letter is one handler's run of one event that used every attempt (bcapp/worker.py). It
keeps the event (never a token), the handler's name, the last error, the attempts and when it
failed; `replay` takes it out and queues the same run again, from attempt 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bcapp.broker import HANDLE_EVENT, TaskQueue
from bcapp.store.task_records import RedisTaskRecords


@dataclass(frozen=True)
class DeadLetter:
    """One failed run, as `bcapp webhooks failed` shows it."""

    run_id: str
    store_hash: str
    scope: str
    handler: str
    error: str
    attempts: int
    failed_at: int
    event: dict[str, Any]


class DeadLetters:
    """List and replay the runs that failed for good."""

    def __init__(self, records: RedisTaskRecords, queue: TaskQueue) -> None:
        self._records = records
        self._queue = queue

    def failed(self) -> list[DeadLetter]:
        """Every dead letter, oldest failure first."""
        return [_letter(raw) for raw in self._records.dead_letters()]

    def replay(self, run_id: str | None = None) -> list[DeadLetter]:
        """Queue again the dead letter `run_id` (None: every one); the ones queued."""
        chosen = [letter for letter in self.failed() if run_id in (None, letter.run_id)]
        replayed = []
        for letter in chosen:
            if self._records.take_dead(letter.store_hash, letter.run_id) is None:
                continue  # replayed by someone else meanwhile
            kwargs = {"run_id": letter.run_id, "handler": letter.handler, "event": letter.event}
            try:
                self._queue.publish(HANDLE_EVENT, kwargs, None)
            except Exception:
                self._records.keep_dead(letter.store_hash, letter.run_id, _raw(letter))
                raise
            replayed.append(letter)
        return replayed


def _letter(raw: dict[str, Any]) -> DeadLetter:
    event = dict(raw.get("event") or {})
    return DeadLetter(
        run_id=str(raw["run_id"]),
        store_hash=str(event.get("store_hash", "")),
        scope=str(event.get("scope", "")),
        handler=str(raw.get("handler", "")),
        error=str(raw.get("error", "")),
        attempts=int(raw.get("attempts", 0)),
        failed_at=int(raw.get("failed_at", 0)),
        event=event,
    )


def _raw(letter: DeadLetter) -> dict[str, Any]:
    return {
        "run_id": letter.run_id,
        "handler": letter.handler,
        "event": letter.event,
        "error": letter.error,
        "attempts": letter.attempts,
        "failed_at": letter.failed_at,
    }
