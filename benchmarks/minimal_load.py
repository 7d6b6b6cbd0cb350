"""The second baseline of the load benchmark: a *minimal* load view on bcapp's own stack.

It does the work a load must do and nothing else: PyJWT verifies the payload with the same
claim checks (HS256 only, exact audience and issuer, every claim present, times within the
leeway), one small Redis script of its own (count the address and the store, burn the nonce,
read the installation and the user, write the session's idle timer and the handoff: the least
script that does the load's Redis work, so bcapp's own script is measured too), both records
parsed as JSON, Flask's signed session cookie, and a 302. No hooks, security headers, metrics or
logging. bcapp's load measured against it shows bcapp's own per-request overhead; against the
bare redirect, the whole stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time

import jwt
import redis
from flask import Flask, redirect, request, session
from werkzeug.wrappers import Response

# Counters as fixed windows (a key per window, expiring with it), the nonce burned once, the
# two records read, the session's idle timer and the one-time handoff written.
SCRIPT = """
for _, key in ipairs({KEYS[1], KEYS[7]}) do
  redis.call('SET', key, 0, 'EX', ARGV[2], 'NX')
  if redis.call('INCR', key) > tonumber(ARGV[1]) then return {'limited'} end
end
if not redis.call('SET', KEYS[2], '1', 'EX', ARGV[3], 'NX') then return {'replayed'} end
local record = redis.call('GET', KEYS[3])
local user = redis.call('HGET', KEYS[4], ARGV[4])
if not (record and user) then return {'spent'} end
redis.call('SET', KEYS[5], '1', 'EX', ARGV[5])
redis.call('SET', KEYS[6], ARGV[7], 'EX', ARGV[6])
return {'opened', record, user}
"""

CLIENT_ID = os.environ.get("BC_CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("BC_CLIENT_SECRET", "")
LEEWAY = 30
PREFIX = "bcapp"
REQUIRED = ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]  # as bcapp/signing.py

app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY", "")
_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", ""), decode_responses=True)
_script = _redis.register_script(SCRIPT)


@app.get("/bigcommerce/load")
def load() -> Response | tuple[str, int]:
    """Verify, count, spend, read, start the session, set the cookie, redirect."""
    try:
        claims = jwt.decode(
            request.args.get("signed_payload_jwt", ""),
            CLIENT_SECRET,
            algorithms=["HS256"],
            audience=CLIENT_ID,
            issuer="bc",
            options={"require": REQUIRED, "strict_aud": True},
            leeway=LEEWAY,
        )
    except jwt.InvalidTokenError:
        return "refused", 401
    store_hash = str(claims["sub"]).removeprefix("stores/")
    user_id = int(claims["user"]["id"])
    session_id, handoff = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    window = int(time.time() // 60)
    key = f"{PREFIX}:{{{store_hash}}}:"
    reply = _script(
        keys=[
            f"{PREFIX}:hits:{{{store_hash}}}:load:{window}",
            key + "seen:" + hashlib.sha256(claims["jti"].encode()).hexdigest(),
            key + "installation",
            key + "users",
            key + "session:" + session_id,
            key + "handoff:" + hashlib.sha256(handoff.encode()).hexdigest(),
            f"{PREFIX}:hits:{{addr}}:load:{window}",
        ],
        args=[1000000, 60, 600, user_id, 3600, 120, f"{store_hash}:{user_id}:{session_id}"],
    )
    if reply[0] != "opened":
        return "refused", 401
    installation, user = json.loads(reply[1]), json.loads(reply[2])
    session.update(
        store=store_hash,
        user=user_id,
        install=installation["install_id"],
        access=user["access_id"],
        sid=session_id,
    )
    return redirect(f"{claims['url']}?_bcs={store_hash}.{handoff}")


@app.get("/hello")
def hello() -> tuple[str, int] | str:
    """A minimal app page: the session checked against Redis in one pipeline, no API call."""
    store_hash, sid = session.get("store"), session.get("sid")
    if not isinstance(store_hash, str) or not isinstance(sid, str):
        return "no session", 401
    key = f"{PREFIX}:{{{store_hash}}}:"
    pipe = _redis.pipeline(transaction=False)
    pipe.expire(key + "session:" + sid, 3600)
    pipe.get(key + "installation")
    pipe.hget(key + "users", str(session.get("user")))
    alive, record, user_record = pipe.execute()
    if not (alive and record and user_record):
        return "ended", 401
    installation, user = json.loads(record), json.loads(user_record)
    if installation["install_id"] != session.get("install"):
        return "revoked", 401
    if user["access_id"] != session.get("access"):
        return "revoked", 401
    return f"hello {user['email']}"
