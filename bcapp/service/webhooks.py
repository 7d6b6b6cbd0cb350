"""BigCommerce webhooks: Standard Webhooks signatures, timestamps, de-duplication.

BigCommerce signs deliveries as Standard Webhooks keyed with the app's client secret; its own
samples base64-encode the secret before handing it to the library, which decodes it, so the
HMAC key is the secret's raw bytes (docs/protocol.md "Webhooks"). The signature scheme is the
`standardwebhooks` library's own `sign`; the timestamp is checked here, against bcapp's clock,
so tests can move time. Only `store/app/uninstalled` (a cancelled store) acts: it ends the
installation like an uninstall, once per `webhook-id` (docs/security.md R13).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from bcapp.clock import Clock
from bcapp.errors import BadRequest, Unauthorized
from bcapp.models import UninstallEvent
from bcapp.store import ShortLivedRecords
from bcapp.validation import store_hash_from_context

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300  # the Standard Webhooks default
# BigCommerce retries a failed delivery for about 48 h; ids are remembered a day longer.
DEDUPLICATE_SECONDS = 3 * 86400
MAX_ID_CHARS = 256
MAX_SIGNATURE_CHARS = 4096
UNINSTALLED_SCOPE = "store/app/uninstalled"


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery."""

    webhook_id: str
    timestamp: int  # when this attempt was signed (a retry is signed anew)
    scope: str
    store_hash: str
    created_at: int  # when the event happened: the payload's `created_at` (else `timestamp`)


def verify_delivery(
    body: bytes, headers: Mapping[str, str], secrets: list[str], now: float
) -> Delivery:
    """The verified delivery; BadRequest (400) when malformed or stale, Unauthorized (401) when
    no configured secret signed it."""
    webhook_id = headers.get("webhook-id", "")
    timestamp_text = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not webhook_id or len(webhook_id) > MAX_ID_CHARS or not webhook_id.isprintable():
        raise BadRequest("webhook_id")
    if not signatures or len(signatures) > MAX_SIGNATURE_CHARS:
        raise BadRequest("webhook_signature_missing")
    if not timestamp_text.isdigit() or len(timestamp_text) > 12:
        raise BadRequest("webhook_timestamp")
    timestamp = int(timestamp_text)
    # The signature first: an unsigned request learns nothing, not even the server's clock.
    if not any(_signed_by(secret, webhook_id, timestamp, body, signatures) for secret in secrets):
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
    return Delivery(webhook_id, timestamp, scope, store_hash, created_at)


def _signed_by(secret: str, webhook_id: str, timestamp: int, body: bytes, signatures: str) -> bool:
    """True when one `v1,<base64>` entry of the header is this secret's signature."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return False
    verifier = Webhook(base64.b64encode(secret.encode()).decode())
    expected = verifier.sign(webhook_id, datetime.fromtimestamp(timestamp, tz=UTC), text)
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
    short_lived: ShortLivedRecords,
    end: Callable[[str, UninstallEvent], bool],
) -> str:
    """Verify a delivery and act on it once: "ended", "ignored" or "duplicate".

    The webhook id is burned after acting: a failure in between leaves BigCommerce's retry to
    do it again (ending an installation twice changes nothing).
    """
    delivery = verify_delivery(body, headers, secrets, clock.now())
    nonce = "webhook:" + delivery.webhook_id
    if short_lived.seen(delivery.store_hash, nonce):
        return "duplicate"
    outcome = "ignored"
    if delivery.scope == UNINSTALLED_SCOPE:
        # The event's own time, not the attempt's: a retry delivered after a re-install must
        # not end the newer installation (L2 of the third review).
        event = UninstallEvent(delivery.created_at, "webhook", int(clock.now()))
        outcome = "ended" if end(delivery.store_hash, event) else "ignored"
    short_lived.burn_once(delivery.store_hash, nonce, DEDUPLICATE_SECONDS)
    return outcome
