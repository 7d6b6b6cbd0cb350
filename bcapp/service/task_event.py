"""The one event a task carries, and the names it is claimed and run under.

A webhook delivery's event (its `webhook-id`, scope, payload data, hash and time) or a signal's
run, as a typed value; a task message and a dead letter hold it as JSON (`as_json`, `of_json`),
never a token. `claim_nonces` are what the intake claims for a delivery (bcapp/service/
webhooks.py), `run_id_of` names one handler's run of one event (bcapp/service/tasks.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskEvent:
    """The event a task runs on: a webhook delivery's (its `webhook-id`, scope, payload data,
    hash and time), or a signal's run (its run id, the signal's name as scope, its fields)."""

    id: str
    store_hash: str
    scope: str
    data: dict[str, Any] = field(default_factory=dict)
    hash: str = ""  # BigCommerce's digest: equal for every delivery of one event ("" if none)
    created_at: int = 0

    @property
    def key(self) -> str:
        """What one event is across its deliveries (BigCommerce's retries resend the same
        body, maybe under a new id): its `hash` with its scope and `created_at`, or its id
        when it has no hash. BigCommerce does not document whether `hash` covers `created_at`
        or only `data`: keyed with the time, a genuine second change of a record with the
        same data at another moment is another event, never dropped as a duplicate (fourth
        review, "Also"); a retry keeps its time, so it is still one event."""
        return f"{self.scope}|{self.created_at}|{self.hash}" if self.hash else self.id

    def as_json(self) -> dict[str, Any]:
        """The event as a task message and a dead letter carry it."""
        return {
            "id": self.id,
            "store_hash": self.store_hash,
            "scope": self.scope,
            "data": self.data,
            "hash": self.hash,
            "created_at": self.created_at,
        }

    @classmethod
    def of_json(cls, raw: Mapping[str, Any]) -> TaskEvent:
        """The event a message (or a dead letter) carries."""
        created_at = raw.get("created_at")
        return cls(
            id=str(raw["id"]),
            store_hash=str(raw["store_hash"]),
            scope=str(raw.get("scope", "")),
            data=dict(raw.get("data") or {}),
            hash=str(raw.get("hash") or ""),
            created_at=created_at if type(created_at) is int else 0,
        )


def claim_nonces(event: TaskEvent) -> list[str]:
    """What a delivery claims: its id and, when it has a hash, its event's key (the same for
    every delivery of the event, `TaskEvent.key`)."""
    nonces = ["webhook:" + event.id]
    if event.hash:
        nonces.append("webhook-event:" + event.key)
    return nonces


def run_id_of(event_key: str, handler_name: str) -> str:
    """One handler's run of one event: the same for every delivery of the event."""
    return hashlib.sha256(f"{event_key}\n{handler_name}".encode()).hexdigest()[:32]
