"""A drill's figures from what the traffic saw and what the handler's ledger says."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.drills.ledger import read_ledger
from benchmarks.drills.traffic import LOAD_OK, Traffic

COLUMNS = (
    ("fault", 34),
    ("s with 503", 10),
    ("other non-2xx", 13),
    ("acked never run", 15),
    ("run twice", 9),
    ("loads refused", 15),
    ("recovered in", 12),
)


@dataclass(frozen=True)
class Row:
    """One fault's figures."""

    fault: str
    refusal_seconds: int
    other: dict[int, int]  # status (0: no answer): count, other than success and 503
    acked: int
    lost: int  # acknowledged, and no run of its handler ended
    twice: int  # events whose handler ended more than once
    loads: int
    loads_refused: int
    recovered_in: float | None  # seconds from the fault's end to the last refusal or catch-up
    note: str = ""

    @property
    def failed(self) -> bool:
        """A lost event, or a server error other than 503, or a request never answered."""
        return self.lost > 0 or any(status == 0 or status >= 500 for status in self.other)

    def cells(self) -> list[str]:
        """The row as the table prints it."""
        counted = sorted(self.other.items())
        other = ", ".join(f"{count}x{status or 'none'}" for status, count in counted)
        recovered = "-" if self.recovered_in is None else f"{self.recovered_in:.1f} s"
        return [
            self.fault,
            str(self.refusal_seconds),
            other or "0",
            f"{self.lost} of {self.acked}",
            str(self.twice),
            f"{self.loads_refused} of {self.loads}",
            recovered,
        ]


def measure(
    fault: str, traffic: Traffic, ledger: Path, began: float, ended: float, note: str = ""
) -> Row:
    """The figures of one fault that began at `began` and ended (was undone) at `ended`."""
    runs, _ = read_ledger(ledger)
    success = {"load": LOAD_OK, "webhook": 200}
    refusals = [a for a in traffic.answers if a.status == 503]
    other = Counter(
        a.status for a in traffic.answers if a.status not in (success[a.kind], 503)
    )
    seconds = {int(a.at - began) for a in refusals}
    lost = [n for n in traffic.acked if n not in runs]
    twice = sum(1 for ends in runs.values() if len(ends) > 1)
    loads = [a for a in traffic.answers if a.kind == "load"]
    # Recovered: answers without refusal again, and every event acknowledged before the
    # fault ended has run (a killed worker's task waits for its visibility timeout).
    last_refusal = max((a.at for a in refusals), default=ended)
    before = [n for n, at in traffic.acked.items() if at <= ended]
    caught_up = max((min(runs[n]) for n in before if n in runs), default=ended)
    recovered = None if lost else max(last_refusal, caught_up, ended) - ended
    if lost:
        when = ", ".join(f"{n} (acked {traffic.acked[n] - began:+.1f} s)" for n in sorted(lost)[:5])
        note = f"{note}; never run: {when}".strip("; ")
    if refusals:
        refused = sum(1 for a in refusals if a.kind == "webhook")
        span = f"{min(a.at for a in refusals) - began:+.1f} s to {last_refusal - began:+.1f} s"
        note = f"{note}; 503s from {span} of the fault, {refused} of them deliveries".strip("; ")
    return Row(
        fault, len(seconds), dict(other), len(traffic.acked), len(lost), twice, len(loads),
        sum(1 for a in loads if a.status == 503), recovered, note,
    )


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (docs/operations.md carries one)."""
    widths = [max(width, *(len(row.cells()[n]) for row in rows)) for n, (_, width) in
              enumerate(COLUMNS)]
    head = "| " + " | ".join(name.ljust(w) for (name, _), w in zip(COLUMNS, widths, strict=True))
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    lines = [head + " |", rule]
    for row in rows:
        cells = zip(row.cells(), widths, strict=True)
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in cells) + " |")
    notes = [f"- {row.fault}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + (["", *notes] if notes else []))
