"""`python -m benchmarks.drills [--short] [fault ...]` (`make drill`, `make drill-short`):
each fault under steady traffic, then the table (docs/operations.md). Exits 1 when an
acknowledged event was never handled or a request got a 5xx other than 503 (or no answer)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bcapp.process import configure_process
from benchmarks.drills.faults import FAULTS, FULL, SHORT
from benchmarks.drills.report import Row, table


def main(argv: list[str] | None = None) -> int:
    """Run the drills named (all by default); print the table; 1 on a failed drill."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drills")
    parser.add_argument("--short", action="store_true", help="the CI form: seconds per fault")
    parser.add_argument("--keep", type=Path, help="keep each drill's logs and ledger here")
    parser.add_argument("faults", nargs="*", choices=[*FAULTS, []], metavar="fault")
    arguments = parser.parse_args(argv)
    timing = SHORT if arguments.short else FULL
    print(f"steady traffic: {timing.loads:.0f} loads/s and {timing.deliveries:.0f} webhook "
          f"deliveries/s through gunicorn and two `bcapp worker` processes", flush=True)
    rows: list[Row] = []
    for name in arguments.faults or list(FAULTS):
        started = time.monotonic()
        if arguments.keep:
            kept = arguments.keep / name
            kept.mkdir(parents=True, exist_ok=True)
            row = FAULTS[name](kept, timing)
        else:
            with tempfile.TemporaryDirectory(prefix=f"bcapp-drill-{name}-") as folder:
                row = FAULTS[name](Path(folder), timing)
        if row is None:
            print(f"*** {name}: RabbitMQ does not answer at 127.0.0.1:5672: NOT RUN ***",
                  flush=True)
            continue
        rows.append(row)
        print(f"{name}: done in {time.monotonic() - started:.0f} s "
              f"({'FAILED' if row.failed else 'ok'})", flush=True)
    print()
    print(table(rows))
    failed = [row.fault for row in rows if row.failed]
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (an acknowledged event never ran, or a 5xx other "
              "than 503, or no answer)")
        return 1
    return 0


if __name__ == "__main__":
    configure_process()
    sys.exit(main())
