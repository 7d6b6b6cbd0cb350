"""Reading the drill's ledger (benchmarks/drills/handlers.py writes it): kept apart from the
handler, whose import declares a webhook handler in the importing process, so the report and
its tests read the ledger without declaring anything."""

from __future__ import annotations

from pathlib import Path


def read_ledger(folder: Path) -> tuple[dict[int, list[float]], dict[int, list[int]]]:
    """Each event's end times (a run each) and the processes that started it."""
    ended: dict[int, list[float]] = {}
    started: dict[int, list[int]] = {}
    for path in folder.glob("ledger-*"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 4:
                continue  # a line cut short by a kill
            kind, number, pid, at = parts
            if kind == "D":
                ended.setdefault(int(number), []).append(float(at))
            else:
                started.setdefault(int(number), []).append(int(pid))
    return ended, started
