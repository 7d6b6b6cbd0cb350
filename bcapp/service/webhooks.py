"""BigCommerce webhooks: Standard Webhooks signatures, timestamps, de-duplication, intake.

BigCommerce signs deliveries as Standard Webhooks keyed with the client secret of the client
that owns the hook: the app's, or for hooks made with a store-level API account's token, that
account's (`verify_delivery`). BigCommerce's samples base64-encode the secret before handing
it to the library, which decodes it, so the HMAC key is the secret's raw bytes
(docs/protocol.md "Webhooks"). The signature scheme is the
`standardwebhooks` library's own `sign`; the timestamp is checked here, against bcapp's clock,
so tests can move time.

A verified delivery claims its event and queues one task per declared handler of its scope
(bcapp/webhooks.py); when the broker is the app's own Redis the claim rides on the first task's
push, one round trip (`Tasks.queue_claimed`); `store/app/uninstalled` then ends the
installation like an uninstall (docs/security.md R13). The answer waits for no handler.

The claim (`ReplayGuards.claim`) does two things at once. It refuses an attempt seen before
(its `webhook-id` with its `webhook-timestamp`, remembered for `ATTEMPT_SECONDS`, as long as
the timestamp passes): a captured delivery replayed for its 5 minutes is a duplicate and puts
nothing in the broker (L8 of the fourth review). BigCommerce signs each retry anew, so a retry
is another attempt: it takes the event's claim (its id and its key: its `hash` with its scope
and `created_at`, `TaskEvent.key`; a retry may come with a new id) over, in the name of its
`receipt` (random per delivery received), and queues the tasks again (answered "duplicate":
the event was received before, but whether the earlier attempt's tasks were ever queued only
a write after queueing could tell). Tasks queued for an earlier attempt then find the claim
is another's and drop (`Tasks.outrun`, bcapp/service/tasks.py); a run that ended before is
marked handled and runs nothing again (bcapp/worker.py).

Claim first (with the first task, or alone), queue the rest second, nothing written after: a
broker outage (503) or a failed uninstall gives the attempt back (`release`), so even an
identical retry does it all again; a process lost between the two leaves the event to
BigCommerce's retry, which is another attempt. Only a retry repeating the lost attempt's
timestamp within `ATTEMPT_SECONDS` would be taken for a replay (BigCommerce signs retries at
their own time; docs/webhooks.md).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_hex
from typing import Any

from standardwebhooks.webhooks import Webhook

from bcapp import webhook_scopes
from bcapp.clock import Clock
from bcapp.errors import BadRequest, StoreUnavailable, Unauthorized
from bcapp.metrics import WEBHOOKS
from bcapp.models import UninstallEvent
from bcapp.service.tasks import TaskEvent, claim_nonces
from bcapp.store import ClaimFound, ReplayGuards, ScriptCarrier
from bcapp.validation import store_hash_from_context

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300  # the Standard Webhooks default
# BigCommerce retries a failed delivery for about 48 h; ids are remembered a day longer.
DEDUPLICATE_SECONDS = 3 * 86400
# An attempt passes the timestamp check from 300 s before its time to 300 s after it.
ATTEMPT_SECONDS = 2 * TOLERANCE_SECONDS + 60
MAX_ID_CHARS = 256
MAX_HASH_CHARS = 128
MAX_SIGNATURE_CHARS = 4096
UNINSTALLED_SCOPE = "store/app/uninstalled"
# Logged in development when no configured secret signed a delivery: the usual cause is a
# BC_CLIENT_SECRET copied from elsewhere. It names the variable, never its value.
SIGNATURE_HINT = (
    "webhook delivery refused: signed with another secret: is BC_CLIENT_SECRET the app's "
    "client secret from the Developer Portal (My Apps > View Client ID)?"
)


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery."""

    webhook_id: str
    timestamp: int  # when this attempt was signed (a retry is signed anew)
    scope: str
    store_hash: str
    created_at: int  # when the event happened: the payload's `created_at` (else `timestamp`)
    data: dict[str, Any]  # the payload's `data` object ({} when absent)
    event_hash: str  # the payload's `hash`: equal for every delivery of one event ("" if none)

    @property
    def scope_label(self) -> str:
        """The scope as a metrics label."""
        return webhook_scopes.label(self.scope)

    def as_event(self) -> TaskEvent:
        """The event its handlers' tasks carry (never a token)."""
        return TaskEvent(
            self.webhook_id, self.store_hash, self.scope, self.data, self.event_hash,
            self.created_at,
        )


def verify_delivery(
    body: bytes,
    headers: Mapping[str, str],
    secrets: list[str],
    now: float,
    store_secrets: Callable[[str], list[str]] = lambda _store_hash: [],
) -> Delivery:
    """The verified delivery; BadRequest (400) when malformed or stale, Unauthorized (401) when
    no configured secret signed it.

    `secrets` are the app's; when none of them signed it, `store_secrets(store_hash)` gives the
    secrets of the store the body names (a store-level API account's own client secret: the
    hooks bcapp creates with that account's token belong to the account, and BigCommerce signs
    their deliveries with its secret). That secret can only vouch for its own store: a body
    naming another store is looked up under that store.
    """
    webhook_id = headers.get("webhook-id", "")
    timestamp_text = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not webhook_id or len(webhook_id) > MAX_ID_CHARS or not webhook_id.isprintable():
        raise BadRequest("webhook_id")
    if not signatures or len(signatures) > MAX_SIGNATURE_CHARS:
        raise BadRequest("webhook_signature_missing")
    # ASCII digits only: `isdigit()` alone takes `²` (which int() refuses: a 500) and
    # Arabic-Indic digits (which int() reads: a second spelling of a signed time).
    if not (timestamp_text.isascii() and timestamp_text.isdigit()) or len(timestamp_text) > 12:
        raise BadRequest("webhook_timestamp")
    timestamp = int(timestamp_text)
    # The signature first: an unsigned request learns nothing, not even the server's clock.
    signed = (webhook_id, timestamp, body, signatures)
    if not any(_signed_by(_app_signer(secret), *signed) for secret in secrets):
        named = _named_store(body)
        others = store_secrets(named) if named is not None else []
        if not any(_signed_by(_signer(other), *signed) for other in others):
            raise Unauthorized("webhook_signature")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        log.warning("webhook timestamp %.0f s away from now; refused", timestamp - now)
        raise BadRequest("webhook_stale")
    data = _json_object(body)
    scope = data.get("scope")
    try:
        store_hash = store_hash_from_context(str(data.get("producer", "")))
    except ValueError as exc:
        raise BadRequest("webhook_producer") from exc
    if not isinstance(scope, str):
        raise BadRequest("webhook_scope")
    created_at = data.get("created_at")
    if type(created_at) is not int or not 0 < created_at <= timestamp + TOLERANCE_SECONDS:
        created_at = timestamp  # absent or implausible: the attempt's own time
    event_data = data.get("data")
    event_hash = data.get("hash")
    if not isinstance(event_hash, str) or len(event_hash) > MAX_HASH_CHARS:
        event_hash = ""
    return Delivery(
        webhook_id,
        timestamp,
        scope,
        store_hash,
        created_at,
        event_data if isinstance(event_data, dict) else {},
        event_hash,
    )


def _signed_by(
    signer: Webhook, webhook_id: str, timestamp: int, body: bytes, signatures: str
) -> bool:
    """True when one `v1,<base64>` entry of the header is `signer`'s signature."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return False
    expected = signer.sign(webhook_id, datetime.fromtimestamp(timestamp, tz=UTC), text)
    expected_bytes = base64.b64decode(expected.split(",", 1)[1])
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected_bytes, candidate):
            return True
    return False


def _signer(secret: str) -> Webhook:
    """The library's signer keyed with `secret`'s bytes (it decodes the base64 it is given:
    BigCommerce's samples hand it the secret's)."""
    return Webhook(base64.b64encode(secret.encode()).decode())


# The app's own secrets (and the previous ones) sign nearly every delivery: each signer is
# built once per process. An API account's secret, decrypted for one delivery, is not kept.
_app_signer = functools.lru_cache(maxsize=8)(_signer)


def _named_store(body: bytes) -> str | None:
    """The store an unverified body names in `producer` (None when it names none): where to
    look for the secret that may have signed it, and nothing more."""
    try:
        producer = _json_object(body).get("producer")
        return store_hash_from_context(str(producer)) if isinstance(producer, str) else None
    except (BadRequest, ValueError):
        return None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadRequest("webhook_not_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("webhook_not_object")
    return data


def receive(
    body: bytes,
    headers: Mapping[str, str],
    secrets: list[str],
    clock: Clock,
    short_lived: ReplayGuards,
    end: Callable[[str, UninstallEvent], bool],
    queue_claimed: Callable[[TaskEvent, str, DeliveryClaim], tuple[ClaimFound, int]],
    store_secrets: Callable[[str], list[str]] = lambda _store_hash: [],
) -> str:
    """Verify a delivery, claim it, queue its handlers, act on it: "ended", "queued",
    "ignored" or "duplicate" (the event was received before: an attempt seen before queues
    nothing; a retry's tasks are queued again, in case the earlier attempt's never were, and
    run nothing when they were).

    `queue_claimed(event, receipt, claim)` takes the claim and queues the handlers' tasks
    (`Tasks.queue_claimed`); a failure after the claim may have been taken (BrokerUnavailable,
    503) gives it back, so BigCommerce's retry is not taken for a duplicate.
    """
    delivery = verify_delivery(body, headers, secrets, clock.now(), store_secrets)
    store_hash = delivery.store_hash
    event = delivery.as_event()
    attempt = f"webhook-attempt:{delivery.webhook_id}.{delivery.timestamp}"
    receipt = token_hex(8)
    claim = DeliveryClaim(short_lived, store_hash, [attempt, *claim_nonces(event)], receipt)
    try:
        found, queued = queue_claimed(event, receipt, claim)
        if found == "replay":
            WEBHOOKS.labels(delivery.scope_label, "duplicate").inc()
            return "duplicate"
        outcome = "duplicate" if found == "retry" else "queued" if queued else "ignored"
        # The event's own time, not the attempt's: a retry delivered after a re-install
        # must not end the newer installation (L2 of the third review).
        if delivery.scope == UNINSTALLED_SCOPE and end(
            store_hash, UninstallEvent(delivery.created_at, "webhook", int(clock.now()))
        ):
            outcome = "ended"
    except BaseException:
        if claim.may_be_taken:
            _give_back(short_lived, store_hash, claim.keys, receipt)
        raise
    WEBHOOKS.labels(delivery.scope_label, "duplicate" if found == "retry" else "received").inc()
    return outcome


class DeliveryClaim:
    """A delivery's claim (`ReplayGuards.claim`: its attempt, then its event's keys), taken by
    calling it, in a task's push when given one (`carry`), and whether it may have been taken:
    once it answered other than "replay", or from the moment a push carrying it was sent (a
    push that failed to answer may have run it)."""

    def __init__(
        self, guards: ReplayGuards, store_hash: str, keys: list[str], receipt: str
    ) -> None:
        self._guards, self._store_hash, self._receipt = guards, store_hash, receipt
        self.keys = keys
        self.may_be_taken = False

    def __call__(self, carry: ScriptCarrier | None) -> ClaimFound:
        attempt, *nonces = self.keys
        self.may_be_taken = carry is not None
        found = self._guards.claim(
            self._store_hash, attempt, nonces, DEDUPLICATE_SECONDS, self._receipt,
            ATTEMPT_SECONDS, carry,
        )
        self.may_be_taken = found != "replay"
        return found


def _give_back(short_lived: ReplayGuards, store_hash: str, nonces: list[str], owner: str) -> None:
    """Release the claim `owner` took, whose work failed, so BigCommerce's retry, even one
    repeating this attempt, does it again; tasks queued before the failure run (a claim nobody
    holds is nobody's to outrun). Keys another delivery claimed stay its own."""
    try:
        short_lived.release(store_hash, nonces, owner)
    except StoreUnavailable as exc:
        log.warning("a failed delivery's claim for store=%s stays (%s)", store_hash, exc.reason)
