"""Failed webhook events and signal tasks: listed for operators and queued again on request.

A dead letter is one handler's run of one event, one run of a signal's task receiver, or one
store's sync after an install, that gave up (the task's `on_failure`, bcapp/worker.py). It
keeps the event (never a token), the function's name,
the last error and its traceback (bounded, redacted as log lines are), the attempts and when it
failed; `replay` queues the same run again, from attempt 1, and leaves it listed until that
run ends: the run takes it out when it finishes, keeps it again when it fails, and a replay
never deletes a letter whose run did not happen. A held letter (`waiting`) is a webhook
handler's run that met its store uninstalled by an uninstall callback, which a staff user
can forge (docs/security.md R9): it is queued again when the store is reinstated
(`resume`, from bcapp/store/lifecycle.py's reinstate hook), dropped once the run meets a
store BigCommerce uninstalled (bcapp/service/tasks.py). Letters kept
before tracebacks were kept read back with an empty one. A letter that cannot be read back (it
does not parse, a field has another type, it names another store or run than its key, or a task
bcapp never runs) is logged by its key, never its content, and skipped: listed by nobody,
queued by nobody, left to expire (docs/architecture.md, "Corrupt records").
"""

from __future__ import annotations

import json
import logging
import traceback as tracebacks
from dataclasses import asdict, dataclass
from typing import Any

from bcapp.broker import HANDLE_EVENT, RUN_SIGNAL, SYNC_STORE, TaskQueue
from bcapp.errors import StoreUnavailable
from bcapp.logs import redact
from bcapp.store.records import CorruptRecord
from bcapp.store.task_records import RedisTaskRecords
from bcapp.validation import STORE_HASH, printable

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 500
MAX_TRACEBACK_CHARS = 4096  # a dead letter's traceback: its innermost frames
SYNC_SCOPE = "webhooks and App Extensions"  # what a store's sync letter names as its scope
_REPLAYED = (HANDLE_EVENT, RUN_SIGNAL, SYNC_STORE)  # the tasks a letter may name


@dataclass(frozen=True)
class DeadLetter:
    """One failed run, as the worker keeps it and `bcapp webhooks failed` shows it."""

    run_id: str
    handler: str
    event: dict[str, Any]  # the task's event: store hash, scope, data, hash, times
    error: str
    attempts: int
    failed_at: int
    task: str = HANDLE_EVENT  # RUN_SIGNAL: a signal's task receiver; SYNC_STORE: a sync
    traceback: str = ""  # the last error's, bounded and redacted (`traceback_of`)
    waiting: bool = False  # held for its store's reinstatement (an uninstall callback)

    @classmethod
    def of_failure(
        cls, task: str, run_id: str, handler: str, event: dict[str, Any], error: BaseException,
        attempts: int, failed_at: int,
    ) -> DeadLetter:
        """The letter of a run that gave up with `error` (its message and traceback redacted
        as log lines are)."""
        message = redact(f"{type(error).__name__}: {error}")[:MAX_ERROR_CHARS]
        return cls(run_id, handler, event, message, attempts, failed_at, task, traceback_of(error))

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
    def is_webhook(self) -> bool:
        """True for a webhook handler's run (it has a delivery's `webhook-id`)."""
        return self.task == HANDLE_EVENT

    @property
    def kind(self) -> str:
        """What ran, as people read it."""
        if self.task == SYNC_STORE:
            return "store sync after an install"
        return "signal task receiver" if self.is_signal else "webhook handler"

    def replay_kwargs(self) -> dict[str, Any]:
        """What its task is queued with again (from attempt 1)."""
        if self.task == SYNC_STORE:
            return {"store_hash": self.store_hash, "run_id": self.run_id}
        return {"run_id": self.run_id, "handler": self.handler, "event": self.event}

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
            "waiting": raw.get("waiting", False),
        }
        for name, kind in _FIELD_TYPES.items():
            if type(fields[name]) is not kind:
                raise CorruptRecord(f"field_{name}")
        if fields["task"] not in _REPLAYED:
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
    "waiting": bool,
}


class DeadLetters:
    """List and replay the runs that failed for good."""

    def __init__(self, records: RedisTaskRecords, queue: TaskQueue) -> None:
        self._records = records
        self._queue = queue

    def failed(self, of_store: str | None = None) -> list[DeadLetter]:
        """Every readable dead letter (of the store `of_store`, or of every store), oldest failure
        first (a corrupt one is logged by its key and skipped: one must not hide, nor stop the
        replay of, every other)."""
        letters = []
        for store_hash, run_id, text in self._records.dead_letters(of_store):
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
        """Keep a run that gave up (its task's last word on it), or one held (`waiting`)."""
        self._records.keep_dead(
            letter.store_hash, letter.run_id, letter.as_record(), held=letter.waiting
        )

    def drop(self, store_hash: str, run_id: str) -> None:
        """Take out the letter of a run that will never run (its store is gone for good)."""
        self._records.take_dead(store_hash, run_id)

    def replay(self, run_id: str | None = None) -> list[DeadLetter]:
        """Queue again the dead letter `run_id` (None: every one); the ones queued.

        Each stays listed until its run ends (the run takes it out, or keeps it again): a
        broker failure (BrokerUnavailable) or a lost message leaves it listed; two replays at
        once queue it twice, and the handled marker and the run's lease run it once."""
        chosen = [letter for letter in self.failed() if run_id in (None, letter.run_id)]
        for letter in chosen:
            self._queue.publish(letter.task, letter.replay_kwargs(), None)
        return chosen

    def resume(self, store_hash: str) -> int:
        """Queue the store's held letters again (it was reinstated); how many. A failure is
        logged, not raised: the load or reconcile that reinstated the store succeeded, and the
        letters stay listed for `bcapp webhooks replay`."""
        try:
            held = [letter for letter in self.failed(store_hash) if letter.waiting]
            for letter in held:
                self._queue.publish(letter.task, letter.replay_kwargs(), None)
        except StoreUnavailable as exc:  # Redis, or the broker (BrokerUnavailable)
            log.error("store=%s reinstated, its held runs not queued (%s): see bcapp webhooks "
                      "failed", store_hash, exc.reason)
            return 0
        if held:
            log.info("store=%s reinstated: %d held run(s) queued again", store_hash, len(held))
        return len(held)



def traceback_of(exc: BaseException) -> str:
    """The failure's traceback as a dead letter keeps it: its last `MAX_TRACEBACK_CHARS`
    (the innermost frames and the message), cut where a frame starts, redacted as log lines are.

    A traceback holds the code's frames (file, line, source text: no local values) and the
    exception's message. bcapp's own errors name reasons, never a token or a payload; an app's
    message is the app's words, as in the `error` field and the log, and the redaction pass
    (bcapp/logs.py) replaces anything shaped like a token or secret in it.
    """
    text = redact("".join(tracebacks.format_exception(exc)))  # whole: no token cut in two
    if len(text) > MAX_TRACEBACK_CHARS:
        tail = text[-MAX_TRACEBACK_CHARS:]
        frame = tail.find("\n  File ")  # whole frames: a frame's source line never stands alone
        text = "[earlier lines left out]\n" + tail[(frame if frame >= 0 else tail.find("\n")) + 1 :]
    return text
