"""`bcapp worker` (Celery) and `bcapp webhooks failed|show|replay` (dead letters)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from bcapp.cli.common import echo, fail, moment, or_fail, service_or_exit
from bcapp.errors import StoreUnavailable
from bcapp.validation import printable

if TYPE_CHECKING:  # the service (and Celery) load only when a command runs
    from bcapp.service.dead_letters import DeadLetter


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--beat", is_flag=True, help="also run `bcapp reconcile` on a schedule (one per deployment)"
)
@click.option(
    "--reconcile-every",
    type=click.IntRange(1),
    default=3600,
    show_default=True,
    help="seconds between reconcile runs with --beat",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="handlers run at once (threads)",
)
@click.option(
    "--metrics-address",
    metavar="HOST:PORT",
    help="serve this worker's Prometheus metrics there (plain HTTP, for a private network)",
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(
    beat: bool,
    reconcile_every: int,
    concurrency: int,
    metrics_address: str | None,
    celery_args: tuple[str, ...],
) -> None:
    """Run a Celery worker for bcapp's tasks: webhook handlers, subscriptions (and reconcile
    with --beat). Arguments after `--` go to `celery worker` (e.g. `-- --pool prefork`)."""
    from bcapp import metrics
    from bcapp.worker import application

    service = service_or_exit()  # an embedded Redis it had to start stops with it
    app = application(service, reconcile_every if beat else None)
    if metrics_address is not None:
        host, _, port = metrics_address.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            fail("--metrics-address is HOST:PORT, such as 127.0.0.1:9808")
        try:
            metrics.serve(host.strip("[]"), int(port))
        except OSError as exc:
            fail(f"cannot serve metrics at {metrics_address}: {exc.strerror}")
    argv = [
        "worker",
        # A node name per process: on RabbitMQ the remote-control queue is exclusive and named
        # after the node, so two workers on one host named `celery@host` fought over it after a
        # reconnect and the loser exited ("RESOURCE_LOCKED"; benchmarks/drills). `celery
        # inspect` still reaches each worker. `-- -n NAME` overrides it.
        f"--hostname=bcapp-{os.getpid()}@%h",
        "--loglevel=INFO",
        "--pool=threads",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if beat:
        argv.append("--beat")
    app.worker_main([*argv, *celery_args])


@click.group()
def webhooks() -> None:
    """Background runs that gave up (dead letters): webhook handlers, signal task receivers,
    store syncs after an install."""


@webhooks.command("failed")
def webhooks_failed() -> None:
    """List the dead letters, oldest first: id, store, scope and resource, webhook-id,
    handler, attempts, error."""
    letters = or_fail(service_or_exit().dead_letters.failed)
    for letter in letters:
        echo(
            f"{letter.run_id}  store {letter.store_hash}  {letter.scope}{_about(letter)}  "
            f"{letter.handler}  {letter.attempts} attempts, last at {moment(letter.failed_at)}: "
            f"{letter.error}"
        )
    click.echo(
        f"{len(letters)} failed event(s)"
        + ("; details: bcapp webhooks show ID; replay: bcapp webhooks replay ID|--all"
           if letters else "")
    )


@webhooks.command("show")
@click.argument("run_id")
def webhooks_show(run_id: str) -> None:
    """Print one dead letter in full: its run, event, attempts, error and traceback."""
    letter = or_fail(lambda: service_or_exit().dead_letters.find(run_id))
    if letter is None:
        fail(f"no dead letter {run_id} (see: bcapp webhooks failed)")
    event = letter.event
    signal = letter.is_signal
    rows = [
        ("dead letter", letter.run_id),
        ("task", f"{letter.task} ({letter.kind})"),
        ("handler", letter.handler),
        ("store", letter.store_hash),
        ("signal" if signal else "scope", letter.scope),
        *([("webhook-id", letter.webhook_id)] if letter.is_webhook else []),
        ("resource", _resource(letter) or "-"),
        ("hash", str(event.get("hash") or "-")),
        ("created", _moment_of(event.get("created_at"))),
        ("attempts", str(letter.attempts)),
        ("failed at", moment(letter.failed_at)),
        ("error", letter.error),
        *([("waiting", "for the store's reinstatement (load or reconcile)")]
          if letter.waiting else []),
    ]
    for name, value in rows:
        echo(f"{name + ':':<13}{value}")
    if not letter.traceback:
        click.echo("traceback:   none kept (a letter from before bcapp kept tracebacks)")
    else:
        click.echo("traceback:")
        for line in letter.traceback.rstrip("\n").split("\n"):
            echo(f"  {line}")
    click.echo(f"replay with: bcapp webhooks replay {printable(letter.run_id)}")


def _resource(letter: DeadLetter) -> str:
    """What the event is about, `order 250` (its `data.type` and `data.id`); "" if unknown."""
    if not letter.resource_id:
        return ""
    data = letter.event.get("data")
    kind = data.get("type") if isinstance(data, dict) else None
    return f"{kind if isinstance(kind, str) and kind else 'id'} {letter.resource_id}"


def _about(letter: DeadLetter) -> str:
    """The list's note on a letter's event: its resource and, for a webhook, its webhook-id."""
    resource = _resource(letter)
    note = f" ({resource})" if resource else ""
    if letter.is_webhook:
        note += f"  webhook-id {letter.webhook_id}"
    return note


def _moment_of(value: object) -> str:
    """A stored event's time as people read it; "-" when it holds none."""
    return moment(value) if type(value) is int and value > 0 else "-"


@webhooks.command("replay")
@click.argument("run_id", required=False)
@click.option("--all", "every", is_flag=True, help="queue every dead letter again")
def webhooks_replay(run_id: str | None, every: bool) -> None:
    """Queue a dead letter (by the id `failed` prints) or all of them again, from attempt 1."""
    if (run_id is None) == (not every):
        fail("name one dead letter's id, or --all")
    service = service_or_exit()
    try:
        replayed = service.dead_letters.replay(None if every else run_id)
    except StoreUnavailable as exc:  # Redis, or the broker (BrokerUnavailable)
        fail(f"unavailable ({exc.reason}): what was not queued is still listed")
    if run_id is not None and not replayed:
        fail(f"no dead letter {run_id} (see: bcapp webhooks failed)")
    for letter in replayed:
        echo(f"queued {letter.run_id} ({letter.scope} for store {letter.store_hash})")
    click.echo(f"{len(replayed)} event(s) queued again"
               + ("; each stays listed until its run ends" if replayed else ""))
