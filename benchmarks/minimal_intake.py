"""The baseline of the served intake benchmark: a *minimal* webhook intake on bcapp's own stack
(issue 30). It does the intake's work with the least code: the standardwebhooks library checks
the signature (the client secret as the key, as BigCommerce signs), one Redis script of its own
claims the delivery's id and the payload's hash, Celery's own `send_task` queues one task on the
same Redis broker, and a 200. No hooks, limits, metrics, logging or per-thread publisher.
"""

from __future__ import annotations

import base64
import os

import redis
from celery import Celery
from flask import Flask, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

CLAIM_SECONDS = 3 * 86400
_CLAIM = """
if redis.call('SET', KEYS[1], '1', 'EX', ARGV[1], 'NX') == false then return 0 end
if redis.call('SET', KEYS[2], '1', 'EX', ARGV[1], 'NX') == false then return 0 end
return 1
"""

app = Flask(__name__)
_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", ""))
_claim = _redis.register_script(_CLAIM)
_verifier = Webhook(base64.b64encode(os.environ.get("BC_CLIENT_SECRET", "").encode()).decode())
_celery = Celery("minimal-intake", broker=os.environ.get("REDIS_URL", ""))
_celery.conf.broker_transport_options = {"global_keyprefix": "minimal:broker:"}


@app.post("/bigcommerce/webhooks")
def receive() -> tuple[dict[str, str], int]:
    """Verify, claim, queue, answer."""
    try:
        event = _verifier.verify(request.get_data(as_text=True), dict(request.headers))
    except WebhookVerificationError:
        return {"status": "refused"}, 401
    store_hash = str(event.get("producer", "")).removeprefix("stores/")
    webhook_id = request.headers["webhook-id"]
    keys = [f"minimal:{{{store_hash}}}:id:{webhook_id}",
            f"minimal:{{{store_hash}}}:hash:{event.get('hash', '')}"]
    if not _claim(keys=keys, args=[CLAIM_SECONDS]):
        return {"status": "duplicate"}, 200
    _celery.send_task("bcapp.handle_event", kwargs={"event": event, "store_hash": store_hash})
    return {"status": "queued"}, 200
