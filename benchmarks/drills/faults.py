"""The drills' faults, each under the same steady traffic (benchmarks/drills/traffic.py):
the Sentinel master killed, the broker stopped and started again (Redis, then RabbitMQ), and
a task worker killed inside a handler. Each returns its row of figures."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from benchmarks.drills import rabbitmq
from benchmarks.drills.deployment import Deployment, deployed
from benchmarks.drills.ledger import read_ledger
from benchmarks.drills.proxy import TcpProxy
from benchmarks.drills.report import Row, measure
from benchmarks.drills.servers import redis_server, sentinel_deployment
from benchmarks.drills.traffic import Traffic


@dataclass(frozen=True)
class Timing:
    """How long each phase lasts, and the rates."""

    warm: float  # steady traffic before the fault
    down: float  # a stopped broker's time away
    after: float  # steady traffic after the fault ended
    visibility: int  # BCAPP_TASK_VISIBILITY_TIMEOUT: a killed worker's task waits this long
    loads: float  # per second
    deliveries: float  # per second


# Seconds without a handler ending (beyond the visibility timeout, after which a killed
# worker's tasks run again) that end the wait for acknowledged events: nothing is coming.
STALL = 15

FULL = Timing(warm=10, down=15, after=15, visibility=10, loads=100, deliveries=150)
SHORT = Timing(warm=2, down=3, after=3, visibility=3, loads=60, deliveries=80)

# What a fault does to the deployment: returns (when it ended, a note for the table).
Inject = Callable[[Deployment], tuple[float, str]]


def under_traffic(
    fault: str, deployment: Deployment, timing: Timing, inject: Inject, began_note: str = ""
) -> Row:
    """Steady traffic, the fault, steady traffic again; then every retry until acknowledged,
    and every acknowledged event's handler given time to run; the figures."""
    env = deployment.env
    traffic = Traffic(deployment.url, env["BC_CLIENT_ID"], env["BC_CLIENT_SECRET"],
                      timing.loads, timing.deliveries)
    traffic.start()
    sending = time.time()
    time.sleep(timing.warm)
    began = time.time()
    ended, note = inject(deployment)
    time.sleep(timing.after)
    traffic.stop_new()
    sent_for = time.time() - sending
    settled = traffic.settle(60)
    waited = wait_for_runs(deployment.ledger, set(traffic.acked), timing.visibility + STALL)
    if not settled:
        note += "; some deliveries were still refused after 60 s of retries"
    unrun = set(traffic.acked) - read_ledger(deployment.ledger)[0].keys()
    if unrun:
        # Still queued is not lost but not handled either (the workers stopped consuming):
        # the broker's own count tells the two apart.
        note += (f"; after {waited:.0f} s of waiting, {len(unrun)} acknowledged event(s) had "
                 f"not run; the broker held {deployment.queued()}")
    if deployment.restarts:
        note += f"; restarted by the process manager: {', '.join(deployment.restarts)}"
    row = measure(fault, traffic, deployment.ledger, began, ended, (began_note + note).strip("; "))
    sent = f"{traffic.sent_events} events and {row.loads} loads sent in {sent_for:.0f} s"
    return Row(**{**row.__dict__, "note": f"{row.note}; {sent}".strip("; ")})


def wait_for_runs(ledger: Path, acked: set[int], stall: float, most: float = 300) -> float:
    """Until every acknowledged event's handler has run once, or no handler has ended for
    `stall` seconds (no progress: what is left will not run), or `most` seconds pass; the
    seconds waited. A backlog the workers are still working through is waited for: an event
    still queued is late, not lost."""
    started = time.monotonic()
    last_progress, done = started, -1
    while time.monotonic() - started < most:
        runs, _ = read_ledger(ledger)
        if acked <= runs.keys():
            break
        ended = sum(len(ends) for ends in runs.values())
        if ended != done:
            last_progress, done = time.monotonic(), ended
        elif time.monotonic() - last_progress > stall:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def sentinel_promotion(folder: Path, timing: Timing) -> Row:
    """REDIS_URL on Sentinel (the broker too) with BCAPP_REDIS_MIN_REPLICAS=1; the master
    SIGKILLed under traffic."""
    # As docs/operations.md asks of a Sentinel deployment: an install, and a task, is
    # acknowledged once a replica holds it (a promoted replica has what was acknowledged).
    replicated = {"BCAPP_REDIS_MIN_REPLICAS": "1"}
    with sentinel_deployment(folder / "sentinel") as sentinels, deployed(
        folder, sentinels.url, None, timing.visibility, replicated
    ) as deployment:
        first = sentinels.master_port()

        def kill(_: Deployment) -> tuple[float, str]:
            killed = time.time()
            sentinels.master.send_signal(signal.SIGKILL)
            while time.time() - killed < 30:
                try:
                    if sentinels.master_port() != first:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            return killed, f"replica promoted {time.time() - killed:.1f} s after the kill"

        return under_traffic("Sentinel master killed (promotion)", deployment, timing, kill)


def redis_broker_stopped(folder: Path, timing: Timing) -> Row:
    """BCAPP_BROKER_URL a Redis of its own (append-only file), stopped and started again."""
    with ExitStack() as stack:
        app_redis = stack.enter_context(redis_server(folder / "redis"))
        broker = stack.enter_context(redis_server(folder / "broker"))
        deployment = stack.enter_context(
            deployed(folder, app_redis.url, broker.url, timing.visibility)
        )

        outage = away(broker.stop, broker.start, timing.down, "stopped (SIGTERM)")
        return under_traffic(
            f"broker stopped {timing.down:.0f} s (Redis)", deployment, timing, outage
        )


def away(stop: Callable[[], object], start: Callable[[], object], seconds: float,
         what: str) -> Inject:
    """The fault of a broker gone for `seconds`: `stop`, wait, `start`; it ends on the return."""

    def outage(_: Deployment) -> tuple[float, str]:
        stop()
        time.sleep(seconds)
        start()
        return time.time(), f"{what} for {seconds:.0f} s"

    return outage


def rabbitmq_broker_cut(folder: Path, timing: Timing) -> Row | None:
    """BCAPP_BROKER_URL=amqp:// in a vhost of the drill's own, reached through a TCP proxy that
    is stopped and started again (the machine's RabbitMQ is shared: not ours to stop). None
    when RabbitMQ does not answer at 127.0.0.1:5672."""
    if not rabbitmq.answers():
        return None
    vhost = rabbitmq.create_vhost("bcapp-drill")
    try:
        with ExitStack() as stack:
            app_redis = stack.enter_context(redis_server(folder / "redis"))
            proxy = stack.enter_context(TcpProxy((rabbitmq.HOST, rabbitmq.PORT)))
            url = rabbitmq.url(vhost, port=proxy.port)
            deployment = stack.enter_context(
                deployed(folder, app_redis.url, url, timing.visibility)
            )

            cut = "every connection cut at the TCP proxy"
            outage = away(proxy.stop, proxy.start, timing.down, cut)
            return under_traffic(
                f"broker stopped {timing.down:.0f} s (RabbitMQ)", deployment, timing, outage
            )
    finally:
        rabbitmq.delete_vhost(vhost)


def worker_killed(folder: Path, timing: Timing) -> Row:
    """One of the two task workers SIGKILLed inside a handler; the deployment's process
    manager starts it again a second later (benchmarks/drills/deployment.py). Its tasks in
    hand run again once the visibility timeout has passed."""
    with redis_server(folder / "redis") as app_redis, deployed(
        folder, app_redis.url, None, timing.visibility
    ) as deployment:

        def kill(deployment: Deployment) -> tuple[float, str]:
            pid = deployment.workers[0].pid
            wait_in_handler(deployment.ledger / f"ledger-{pid}")
            killed = time.time()
            deployment.kill_worker(0)
            _, started = read_ledger(deployment.ledger)
            runs, _ = read_ledger(deployment.ledger)
            in_hand = [n for n, pids in started.items() if pid in pids and n not in runs]
            return killed, (f"{len(in_hand)} event(s) in hand when killed; "
                            f"BCAPP_TASK_VISIBILITY_TIMEOUT={timing.visibility}")

        return under_traffic("task worker killed mid-handler", deployment, timing, kill)


def wait_in_handler(ledger: Path, seconds: float = 10) -> None:
    """Return while the process writing `ledger` is inside a handler (a start line last)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            text = ledger.read_bytes()
        except FileNotFoundError:
            time.sleep(0.01)
            continue
        last = text.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        if last.startswith(b"S "):
            return
        time.sleep(0.001)


FAULTS = {
    "sentinel": sentinel_promotion,
    "redis-broker": redis_broker_stopped,
    "rabbitmq-broker": rabbitmq_broker_cut,
    "worker": worker_killed,
}
