"""Failed webhook events and signal tasks: listed for operators and queued again on request.

A dead letter is one handler's run of one event, or one run of a signal's task receiver, that
used every attempt (bcapp/worker.py). It keeps the event (never a token), the function's name,
the last error and its traceback (bounded, redacted as log lines are), the attempts and when it
failed; `replay` queues the same run again, from attempt 1, and takes it out. Letters kept
before tracebacks were kept read back with an empty one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bcapp.broker import HANDLE_EVENT, RUN_SIGNAL, TaskQueue
from bcapp.store.task_records import RedisTaskRecords


@dataclass(frozen=True)
class DeadLetter:
    """One failed run, as the worker keeps it and `bcapp webhooks failed` shows it."""

    run_id: str
    handler: str
    event: dict[str, Any]  # the task's event: store hash, scope, data, hash, times
    error: str
    attempts: int
    failed_at: int
    task: str = HANDLE_EVENT  # or RUN_SIGNAL: a signal's task receiver
    traceback: str = ""  # the last error's (bcapp/worker.py bounds and redacts it)

    @property
    def store_hash(self) -> str:
        """The store the event came from."""
        return str(self.event.get("store_hash", ""))

    @property
    def scope(self) -> str:
        """The event's scope."""
        return str(self.event.get("scope", ""))

    @property
    def is_signal(self) -> bool:
        """True for a signal's task receiver, False for a webhook handler."""
        return self.task == RUN_SIGNAL

    @property
    def webhook_id(self) -> str:
        """The delivery's `webhook-id` (a signal's run: the run's own id)."""
        return str(self.event.get("id", ""))

    @property
    def resource_id(self) -> str:
        """The id of what the event is about, `data.id` (an order's number); "" when none."""
        data = self.event.get("data")
        found = data.get("id") if isinstance(data, dict) else None
        return "" if found is None else str(found)

    def as_record(self) -> dict[str, Any]:
        """What is stored (JSON)."""
        return asdict(self)

    @classmethod
    def of_record(cls, raw: dict[str, Any]) -> DeadLetter:
        """A stored letter read back."""
        return cls(
            run_id=str(raw["run_id"]),
            handler=str(raw.get("handler", "")),
            event=dict(raw.get("event") or {}),
            error=str(raw.get("error", "")),
            attempts=int(raw.get("attempts", 0)),
            failed_at=int(raw.get("failed_at", 0)),
            task=str(raw.get("task", HANDLE_EVENT)),
            traceback=str(raw.get("traceback") or ""),
        )


class DeadLetters:
    """List and replay the runs that failed for good."""

    def __init__(self, records: RedisTaskRecords, queue: TaskQueue) -> None:
        self._records = records
        self._queue = queue

    def failed(self) -> list[DeadLetter]:
        """Every dead letter, oldest failure first."""
        return [DeadLetter.of_record(raw) for raw in self._records.dead_letters()]

    def find(self, run_id: str) -> DeadLetter | None:
        """The dead letter `run_id`, or None."""
        return next((letter for letter in self.failed() if letter.run_id == run_id), None)

    def keep(self, letter: DeadLetter) -> None:
        """Keep a run that used every attempt (the worker's last word on it)."""
        self._records.keep_dead(letter.store_hash, letter.run_id, letter.as_record())

    def replay(self, run_id: str | None = None) -> list[DeadLetter]:
        """Queue again the dead letter `run_id` (None: every one); the ones queued.

        Each is queued before it is removed: a broker failure (BrokerUnavailable) leaves it
        listed; two replays at once queue it twice, and the handled marker runs it once."""
        chosen = [letter for letter in self.failed() if run_id in (None, letter.run_id)]
        for letter in chosen:
            kwargs = {"run_id": letter.run_id, "handler": letter.handler, "event": letter.event}
            self._queue.publish(letter.task, kwargs, None)
            self._records.take_dead(letter.store_hash, letter.run_id)
        return chosen

