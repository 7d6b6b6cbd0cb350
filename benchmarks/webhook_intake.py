"""Webhook intake and delivery-to-handler latency (issue 18, Build 8; issue 30, Build 7).

Served: distinct signed deliveries POSTed by wrk (benchmarks/signed_posts.lua) to gunicorn as
the other HTTP figures are served (benchmarks/serving.py), bcapp's intake with one declared
handler (benchmarks/bench_handlers.py) against a minimal same-stack intake
(benchmarks/minimal_intake.py; goal: bcapp at least 1.2x it) and the bare view of
benchmarks/bare_app.py (for scale; issue 18's 0.40 of it was withdrawn by issue 30).

In process: distinct signed deliveries of `store/order/created` (one declared handler) posted
through Flask's test client to bcapp's `/bigcommerce/webhooks` (verify; claim by attempt, id
and event key, and queue one Celery task on the Redis broker, in one script: the broker is the
app's Redis here, docs/webhooks.md; answer) against a bare Flask view that reads the body and
answers the same JSON, in the same process, on the same harness: the ratio is what the intake
adds per delivery (for scale). Then end to end: deliveries at a steady rate while
a Celery worker (threads, in this process) runs the handler; the figures are the time from
the POST to the handler's start, p50 and p99. A redis-server on loopback TCP serves both.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from flask import Flask, request

from bcapp import webhooks
from bcapp.crypto import new_key_entry, parse_keys
from bcapp.settings import Settings
from bcapp.simulator.signing import standard_webhook_headers
from bcapp.web import create_app
from benchmarks.serving import redis_server

SECRET = "bench-secret-0123456789abcdef"
DELIVERIES = 3000
STEADY_RATE = 50  # deliveries per second for the latency run
STEADY_SECONDS = 6
SIGNED_POSTS = Path(__file__).resolve().parent / "signed_posts.lua"


def signed_deliveries(count: int, first: int = 0) -> list[tuple[bytes, dict[str, str]]]:
    """`count` distinct, freshly signed deliveries (order ids from `first`)."""
    now = int(time.time())
    made = []
    for number in range(first, first + count):
        body = json.dumps(
            {
                "scope": "store/order/created",
                "store_id": "1",
                "data": {"type": "order", "id": number},
                "hash": uuid.uuid4().hex,
                "created_at": now,
                "producer": "stores/bench1",
            }
        )
        made.append((body.encode(), standard_webhook_headers(SECRET, uuid.uuid4().hex, now, body)))
    return made


def bare_app() -> Flask:
    """The baseline: a view that reads the body and answers as bcapp does."""
    app = Flask(__name__)

    @app.post("/bigcommerce/webhooks")
    def receive() -> dict[str, str]:
        request.get_data()
        return {"status": "queued"}

    return app


def rate(app: Flask, deliveries: list[tuple[bytes, dict[str, str]]]) -> float:
    """Deliveries per second through `app`'s test client (every answer must be 200)."""
    client = app.test_client()
    started = time.perf_counter()
    for body, headers in deliveries:
        if client.post("/bigcommerce/webhooks", data=body, headers=headers).status_code != 200:
            raise AssertionError("a delivery was refused")
    return len(deliveries) / (time.perf_counter() - started)


def served_main(threads: int = 1, rounds: int = 5) -> None:
    """Print the served intake figure and its ratio to the bare view (needs wrk): 2 sync
    workers as the other HTTP figures, or gthread workers with `threads` threads. Both servers
    run side by side and take turns, `rounds` 4 s rounds each (`measure_alternately`); the
    ratio is the median of the rounds' ratios, each of two figures measured seconds apart."""
    from benchmarks.serving import (
        app_environment,
        free_port,
        gunicorn,
        measure_alternately,
        paired_ratios,
        span,
        warn_if_unsteady,
    )

    with redis_server() as redis_url:
        ports = {"bare": free_port(), "minimal": free_port(), "bcapp": free_port()}
        modules = {
            "bare": "benchmarks.bare_app:app",
            "minimal": "benchmarks.minimal_intake:app",
            "bcapp": "wsgi:app",
        }
        # One set for both: the bare view reads each body and checks nothing, and bcapp's
        # server sees each delivery once (each target keeps its own position in the lines).
        lines = [delivery_line(body, headers) for body, headers in signed_deliveries(60000)]
        with contextlib.ExitStack() as servers:
            targets = {}
            for name, port in ports.items():
                env = app_environment(redis_url, port) | {
                    "BCAPP_RECEIVERS": "benchmarks.bench_handlers",
                    "BC_CLIENT_SECRET": SECRET,
                }
                url = servers.enter_context(gunicorn(modules[name], env, port, threads))
                targets[name] = (url, lines)
            figures = measure_alternately(targets, 4, rounds, warm_up=2000, script=SIGNED_POSTS)
    to_bare = paired_ratios(figures, "bcapp", "bare")
    to_minimal = paired_ratios(figures, "bcapp", "minimal")
    warn_if_unsteady(figures)
    how = "2 sync workers" if threads == 1 else f"2 gthread workers x {threads} threads"
    print(f"baseline bare Flask view, served by {how}: {span(figures['bare'])} deliveries/s")
    print(
        f"minimal intake (standardwebhooks, one claim script, Celery's send_task), served by "
        f"{how}: {span(figures['minimal'])} deliveries/s"
    )
    print(
        f"webhook intake, served by {how} (verify, claim and enqueue): "
        f"{span(figures['bcapp'])} deliveries/s  medians of {rounds} paired rounds: "
        f"{statistics.median(to_minimal):.2f}x the minimal intake (rounds "
        f"{min(to_minimal):.2f}-{max(to_minimal):.2f}; goal 1.2), "
        f"{statistics.median(to_bare):.2f} of the bare view"
    )


def delivery_line(body: bytes, headers: dict[str, str]) -> str:
    """One line of benchmarks/signed_posts.lua's file."""
    fields = [headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]]
    return "\t".join([*fields, body.decode()])


def main() -> None:
    """Print the intake ratio and the end-to-end latency."""
    from tests.workers import running_worker  # the test suite's in-process Celery worker

    sent_at: dict[int, float] = {}
    waits: list[float] = []
    lock = threading.Lock()

    def order_created(event: webhooks.Event) -> None:
        with lock:
            if event.data["id"] in sent_at:
                waits.append(time.monotonic() - sent_at[event.data["id"]])

    webhooks.on("store/order/created")(order_created)
    with redis_server() as redis_url, tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            client_id="bench-client",
            client_secret=SECRET,
            secret_key="b" * 48,
            token_keys=parse_keys(new_key_entry()),
            redis_url=redis_url,
            redis_prefix="bench" + uuid.uuid4().hex[:6],
            instance_dir=Path(folder),
            rate_limit_per_address=0,
        )
        app = create_app(settings)
        bare = bare_app()
        rate(bare, signed_deliveries(200))  # warm both
        rate(app, signed_deliveries(200))
        baseline = rate(bare, signed_deliveries(DELIVERIES))
        intake = rate(app, signed_deliveries(DELIVERIES))
        print(f"baseline bare Flask view: {baseline:,.0f} deliveries/s")
        print(
            f"webhook intake (verify, claim and enqueue): {intake:,.0f} deliveries/s  "
            f"ratio to baseline {intake / baseline:.2f}"
        )
        service = app.extensions["bcapp"]
        client = app.test_client()
        steady = signed_deliveries(STEADY_RATE * STEADY_SECONDS, first=10**6)
        service.queue.app.control.purge()  # the intake run's tasks are not part of this figure
        with running_worker(service, concurrency=4):
            interval = 1 / STEADY_RATE
            next_at = time.monotonic()
            for body, headers in steady:
                number = json.loads(body)["data"]["id"]
                with lock:
                    sent_at[number] = time.monotonic()
                client.post("/bigcommerce/webhooks", data=body, headers=headers)
                next_at += interval
                time.sleep(max(next_at - time.monotonic(), 0))
            deadline = time.monotonic() + 30
            while len(waits) < len(steady) and time.monotonic() < deadline:
                time.sleep(0.05)
        service.close()
    ordered = sorted(waits)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(
        f"delivery to handler start at {STEADY_RATE}/s ({len(ordered)} events): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


if __name__ == "__main__":
    served_main()
    main()
