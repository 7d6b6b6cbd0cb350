"""The baseline of the HTTP benchmarks: a bare Flask view that reads one argument and redirects.

Served exactly as bcapp is (benchmarks/serving.py), it measures what gunicorn, Flask and the
client cost before any work of bcapp's own.
"""

from __future__ import annotations

from flask import Flask, redirect, request
from werkzeug.wrappers import Response

app = Flask(__name__)


@app.get("/bigcommerce/load")
def load() -> Response:
    """Read the payload argument and redirect, as a load callback that checks nothing would."""
    payload = request.args.get("signed_payload_jwt", "")
    return redirect("/?seen=" + str(len(payload)))


@app.get("/")
def home() -> str:
    """The page the app-page benchmark compares with."""
    return "<!doctype html><title>bare</title><p>bare</p>"


@app.post("/bigcommerce/webhooks")
def webhooks() -> dict[str, str]:
    """Read the delivery and acknowledge it, as an intake that checks and queues nothing would."""
    request.get_data()
    return {"status": "queued"}
