"""Run every benchmark: `python -m benchmarks` (or `make bench`).

The HTTP benchmarks need `wrk` (Debian's package); without it they say so and exit 1.
"""

from __future__ import annotations

import sys

from bcapp.process import configure_process
from benchmarks import (
    app_page,
    load_throughput,
    store_memory,
    token_lookup,
    verify_throughput,
    webhook_intake,
)
from benchmarks.serving import BenchmarkUnavailable, require_wrk

configure_process()
verify_throughput.main()
token_lookup.main()
store_memory.main()
webhook_intake.main()
try:
    require_wrk()
except BenchmarkUnavailable as missing:
    sys.exit(f"HTTP benchmarks skipped: {missing}")
load_throughput.main()
app_page.main()
webhook_intake.served_main()
webhook_intake.served_main(threads=4)  # as production serves (gunicorn.conf.py)
