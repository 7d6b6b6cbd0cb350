"""The drill's webhook handler (`BCAPP_RECEIVERS=benchmarks.drills.handlers`): it writes each
run's start and end to a ledger, a file per process under DRILL_LEDGER, which the drill reads.

Appended with one `write` per line (O_APPEND), so a process killed mid-handler leaves its start
line and no end line; only end lines count as runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bcapp import webhooks
from benchmarks.drills.ledger import read_ledger

# A handler's work: long enough that a killed worker is inside one (a store API call's time).
HANDLER_SECONDS = float(os.environ.get("DRILL_HANDLER_SECONDS", "0.02"))


def _write(line: str) -> None:
    path = Path(os.environ["DRILL_LEDGER"]) / f"ledger-{os.getpid()}"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)


@webhooks.on("store/order/created")
def order_created(event: webhooks.Event) -> None:
    """Note the start, work a while, note the end."""
    number = int(event.data["id"])
    _write(f"S {number} {os.getpid()} {time.time():.3f}\n")
    time.sleep(HANDLER_SECONDS)
    _write(f"D {number} {os.getpid()} {time.time():.3f}\n")


__all__ = ["order_created", "read_ledger"]
