"""Failed webhook events and signal tasks: listed for operators and queued again on request.

A dead letter is one handler's run of one event, or one run of a signal's task receiver, that
used every attempt (bcapp/worker.py). It keeps the event (never a token), the function's name,
the last error and its traceback (bounded, redacted as log lines are), the attempts and when it
failed; `replay` queues the same run again, from attempt 1, and takes it out. Letters kept
before tracebacks were kept read back with an empty one. A letter that cannot be read back (it
does not parse, a field has another type, it names another store or run than its key, or a task
bcapp never runs) is logged by its key, never its content, and skipped: listed by nobody,
queued by nobody, left to expire (docs/architecture.md, "Corrupt records").
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from bcapp.broker import HANDLE_EVENT, RUN_SIGNAL, TaskQueue
from bcapp.store.records import CorruptRecord
from bcapp.store.task_records import RedisTaskRecords
from bcapp.validation import STORE_HASH, printable

log = logging.getLogger(__name__)


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
        """A stored letter read back; CorruptRecord naming the fault (never a value)."""
        fields = {
            "run_id": raw.get("run_id"),
            "handler": raw.get("handler", ""),
            "event": raw.get("event") or {},
            "error": raw.get("error", ""),
            "attempts": raw.get("attempts", 0),
            "failed_at": raw.get("failed_at", 0),
            "task": raw.get("task", HANDLE_EVENT),
            "traceback": raw.get("traceback") or "",
        }
        for name, kind in _FIELD_TYPES.items():
            if type(fields[name]) is not kind:
                raise CorruptRecord(f"field_{name}")
        if fields["task"] not in (HANDLE_EVENT, RUN_SIGNAL):
            raise CorruptRecord("field_task")  # replay queues only what bcapp runs
        return cls(**fields)

    @classmethod
    def of_stored(cls, store_hash: str, run_id: str, text: str | None) -> DeadLetter:
        """The letter stored under `store_hash` and `run_id`; CorruptRecord when it does not
        parse or names another store or run than its key (replay takes out by those)."""
        if text is None:
            raise CorruptRecord("not_a_string")
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CorruptRecord("not_json") from exc
        if not isinstance(raw, dict):
            raise CorruptRecord("not_an_object")
        letter = cls.of_record(raw)
        if letter.run_id != run_id or letter.store_hash != store_hash:
            raise CorruptRecord("another_key")
        if not STORE_HASH.fullmatch(store_hash):
            raise CorruptRecord("store_hash")  # no key of bcapp's: replay could not take it out
        return letter


# What each stored field must be (a letter bcapp wrote always is).
_FIELD_TYPES: dict[str, type] = {
    "run_id": str,
    "handler": str,
    "event": dict,
    "error": str,
    "attempts": int,
    "failed_at": int,
    "task": str,
    "traceback": str,
}


class DeadLetters:
    """List and replay the runs that failed for good."""

    def __init__(self, records: RedisTaskRecords, queue: TaskQueue) -> None:
        self._records = records
        self._queue = queue

    def failed(self) -> list[DeadLetter]:
        """Every readable dead letter, oldest failure first (a corrupt one is logged by its
        key and skipped: one must not hide, nor stop the replay of, every other)."""
        letters = []
        for store_hash, run_id, text in self._records.dead_letters():
            try:
                letters.append(DeadLetter.of_stored(store_hash, run_id, text))
            except CorruptRecord as error:
                log.error(
                    "corrupt dead letter store=%s run=%s (%s): skipped",
                    printable(store_hash),
                    printable(run_id),
                    error.reason,
                )
        return sorted(letters, key=lambda letter: (letter.failed_at, letter.run_id))

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

